// ESM entry: `import { createStasis } from 'stasis'`.
import type { StasisClient } from './client.js';
import { createClient, type CreateStasisOptions } from './create.js';

export { StasisClient, type StasisOptions } from './client.js';
export { mountBanner, DEFAULT_TEXTS, type BannerOptions, type BannerTexts, type BannerState } from './banner.js';
export {
  STATE_TRANSITIONS,
  StasisEvent,
  type StasisEventMap,
  type StasisEventPayloadMap,
  type StasisEventType,
  type StasisEventCode,
  type StasisEventDetail,
  type StasisReadyReason,
  type StasisState,
  type StasisStatus,
  type CustodyKind,
} from './events.js';
export { defaultPolicy, type Policy, type PolicyAction } from './policy.js';
export type { LifecycleSignal, SignalContext } from './lifecycle.js';
export { OUTCOMES, CLOSE_CODES, CLOSE_REASONS, PUSH_MESSAGE, isFinal, type Outcome, type FailureCode, type CloseCode, type CloseReason } from './protocol/index.js';
export type { HibernateResult, ResumeResult } from './protocol/custody.js';

export type { CreateStasisOptions } from './create.js';

/** Creates a client, mounts the banner and starts it. */
export function createStasis(options: CreateStasisOptions = {}): StasisClient {
  // Bundlers split this off: it is only loaded where no service worker can keep the blobs.
  return createClient({
    loadPageCustody: () => import('./custody/page-custody.js'),
    loadLiveChannel: () => import('./client/live-channel.js'),
    ...options,
  });
}
