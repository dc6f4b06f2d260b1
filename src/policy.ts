import type { SignalContext } from './lifecycle.js';

export type PolicyAction = 'hibernate' | 'resume' | 'none';

/**
 * The default policy, as data: hibernate when the page goes away, resume when it comes back.
 * `hidden` is the one signal that fires reliably on mobile; `pagehide` and `freeze` are backups
 * (on navigation `pagehide` comes first). Duplicates are harmless: the client ignores a repeat.
 */
const TABLE: Record<SignalContext['signal'], (context: SignalContext) => PolicyAction> = {
  hidden: () => 'hibernate',
  pagehide: () => 'hibernate',
  freeze: () => 'hibernate',
  load: ({ visible }) => (visible ? 'resume' : 'none'),
  visible: () => 'resume',
  pageshow: ({ visible }) => (visible ? 'resume' : 'none'),
  resume: ({ visible }) => (visible ? 'resume' : 'none'),
  online: ({ visible }) => (visible ? 'resume' : 'none'),
  offline: () => 'none',
};

export type Policy = (context: SignalContext) => PolicyAction;

export const defaultPolicy: Policy = (context) => TABLE[context.signal](context);
