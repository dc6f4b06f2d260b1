// ESM entry: `import { createStasis } from 'stasis'`.
import type { StasisClient } from './client.js';
import { createClient, type CreateStasisOptions } from './create.js';

export { StasisClient, type StasisOptions } from './client.js';
export { mountBanner, DEFAULT_TEXTS, type BannerOptions, type BannerTexts, type BannerState } from './banner.js';
export { StasisEvent, type StasisEventType, type StasisEventDetail, type StasisState, type StasisStatus, type CustodyKind } from './events.js';
export { defaultPolicy, type Policy, type PolicyAction } from './policy.js';
export type { LifecycleSignal, SignalContext } from './lifecycle.js';
export { OUTCOMES, isFinal, type Outcome, type FailureCode } from './protocol/index.js';

export type { CreateStasisOptions } from './create.js';

/** Creates a client, mounts the banner and starts it. */
export function createStasis(options: CreateStasisOptions = {}): StasisClient {
  // Bundlers split this off: it is only loaded where no service worker can keep the blobs.
  return createClient({ loadPageCustody: () => import('./custody/page-custody.js'), ...options });
}
