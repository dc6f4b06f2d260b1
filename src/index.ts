// ESM entry: `import { createStasis } from 'stasis'`.
import { mountBanner, type BannerOptions } from './banner.js';
import { StasisClient, type StasisOptions } from './client.js';

export { StasisClient, type StasisOptions } from './client.js';
export { mountBanner, DEFAULT_TEXTS, type BannerOptions, type BannerTexts, type BannerState } from './banner.js';
export { StasisEvent, type StasisEventType, type StasisEventDetail, type StasisState, type StasisStatus, type CustodyKind } from './events.js';
export { defaultPolicy, type Policy, type PolicyAction } from './policy.js';
export type { LifecycleSignal, SignalContext } from './lifecycle.js';
export { OUTCOMES, isFinal, type Outcome, type FailureCode } from './protocol/index.js';

export interface CreateStasisOptions extends StasisOptions {
  /** Show the status banner (default true); pass options to change its texts. */
  banner?: boolean | BannerOptions;
  /** Start watching at once (default true). */
  autoStart?: boolean;
}

/** Creates a client, mounts the banner and starts it. */
export function createStasis(options: CreateStasisOptions = {}): StasisClient {
  const client = new StasisClient(options);
  if (options.banner !== false) {
    const mount = () => mountBanner(client, typeof options.banner === 'object' ? options.banner : {});
    if (document.body) mount();
    else document.addEventListener('DOMContentLoaded', mount, { once: true });
  }
  if (options.autoStart !== false) void client.start();
  return client;
}
