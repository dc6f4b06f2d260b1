import { openCustody } from '../custody/open-custody.js';
import type { CustodyApi } from '../protocol/custody.js';
import { emit, type Session } from './session.js';

/** How long a reloaded tab waits for its previous document to let go of the sid before calling itself a duplicate. */
const RECLAIM_WAIT_MS = 1500;

/**
 * Chooses the custody and settles which session this tab has: its own (reload), a new one (new tab, or a
 * duplicated tab whose original still holds the sid), or an orphan's (the browser was killed).
 */
export function boot(s: Session): Promise<CustodyApi> {
  return (s.booted ??= (async () => {
    const choice = await openCustody(s.serviceWorker || undefined, s.callTimeoutMs, s.loadPageCustody);
    s.api = choice.api;
    s.abandon = choice.abandon;
    s.custody = choice.kind;
    if (choice.fallbackReason) {
      // Say so once, clearly: blobs kept by the page (or only in memory) survive less than the worker's.
      s.lastMessage = `blobs kept by the ${choice.kind}: ${choice.fallbackReason}`;
      emit(s, 'custody', 'none', { message: s.lastMessage });
    }
    // Ask the browser not to evict our storage under pressure (granted by heuristics; harmless if refused).
    if (choice.kind !== 'memory') void navigator.storage?.persist?.().catch(() => false);
    const own = s.ids.stored();
    if (own && (await s.claim.claim(own, RECLAIM_WAIT_MS))) {
      s.sid = own;
    } else {
      if (own) s.reason = 'duplicate'; // the original tab still holds it: start our own session
      await newSid(s);
      if (!own) await recoverOrphan(s, choice.api);
    }
    return choice.api;
  })());
}

/** A tab that starts without a session of its own takes over (or offers, `ask`) the newest unclaimed blob. */
async function recoverOrphan(s: Session, api: CustodyApi): Promise<void> {
  if (s.orphans === 'never') return;
  const candidates = await api.orphans(s.endpoint).catch(() => []);
  for (const orphan of candidates) {
    if (orphan.sid === s.sid) continue;
    if (s.orphans === 'ask') {
      if (!(await s.claim.isFree(orphan.sid))) continue;
      emit(s, 'orphan', 'none', { orphan: { sid: orphan.sid, gen: orphan.gen, storedAt: orphan.storedAt } });
      return;
    }
    if (await s.claim.adopt(orphan.sid)) {
      s.sid = s.ids.set(orphan.sid);
      s.reason = 'adopted';
      return;
    }
  }
}

/** A session id of this tab's own, never used before. */
export async function newSid(s: Session): Promise<void> {
  s.sid = s.ids.renew();
  s.gen = undefined;
  await s.claim.claim(s.sid);
}

/** Takes a parked claim back; if another tab has the sid by now, this page goes on under a new one. */
export function unpark(s: Session): void {
  clearTimeout(s.grace);
  s.reclaiming = s.claim.unpark().then((ours) => {
    if (ours) return;
    s.reason = 'duplicate';
    return newSid(s);
  });
}
