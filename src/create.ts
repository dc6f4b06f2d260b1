import { mountBanner, type BannerOptions } from './banner.js';
import { StasisClient, type StasisOptions } from './client.js';

export interface CreateStasisOptions extends StasisOptions {
  /** Show the status banner (default true); pass options to change its texts. */
  banner?: boolean | BannerOptions;
  /** Start watching at once (default true). */
  autoStart?: boolean;
}

/** Creates a client, mounts the banner and starts it. Entry points supply how the page custody loads. */
export function createClient(options: CreateStasisOptions & Pick<Required<StasisOptions>, 'loadPageCustody'>): StasisClient {
  const client = new StasisClient(options);
  if (options.banner !== false) {
    const mount = () => mountBanner(client, typeof options.banner === 'object' ? options.banner : {});
    if (document.body) mount();
    else document.addEventListener('DOMContentLoaded', mount, { once: true });
  }
  if (options.autoStart !== false) void client.start();
  return client;
}
