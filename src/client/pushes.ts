import { custodyFailed } from '../protocol/custody.js';
import { isPushedBlob, type PushedBlob } from '../protocol/index.js';
import { boot } from './boot.js';
import { resume } from './flows.js';
import { emit, record, setState, type Session } from './session.js';
import { resumeOnNextInput } from './signals.js';

/**
 * A message of the live channel: true when it was Stasis's own, a blob the server pushed (a checkpoint, or
 * before closing the channel: drain on shutdown, idle).
 */
export function receive(s: Session, message: unknown): boolean {
  if (!isPushedBlob(message)) return false;
  if (message.sid !== s.sid) return true;
  // A message from a socket of an older generation can arrive after a resume: its blob is of no use.
  if (s.gen !== undefined && message.gen < s.gen) return true;
  void keep(s, message);
  return true;
}

/**
 * A checkpoint: the session stays live; the worker keeps the newest one in case the server dies. Else the server
 * pushed the blob before closing the channel (drain, idle): the session is hibernated.
 */
async function keep(s: Session, { sid, blob, reason }: PushedBlob): Promise<void> {
  const result = await (await boot(s)).store({ endpoint: s.endpoint, sid, blob }).catch(custodyFailed);
  if (sid !== s.sid) return;
  if (reason === 'checkpoint') {
    if (result.outcome === 'ok') emit(s, 'checkpoint', 'ok', { gen: result.gen, bytes: result.bytes });
    return;
  }
  if (result.outcome === 'stale') return; // it arrived after a newer one, or after a resume: nothing to do
  if (result.outcome !== 'ok') {
    emit(s, 'failed', result.outcome, { phase: 'hibernate', message: result.message });
    return;
  }
  s.paused = reason;
  s.gen = result.gen;
  record(s, { outcome: 'ok' });
  if (reason === 'idle') {
    // The server saw no activity: wait for the user (any input, or the tab coming back) to resume.
    s.away = true;
    s.idle = true;
    resumeOnNextInput(s);
  }
  setState(s, 'hibernated');
  emit(s, 'hibernated', 'ok', { phase: 'hibernate', gen: result.gen, bytes: result.bytes });
  // Drain: the page is in use, so ask for it back at once; the draining server says `unavailable` and the
  // retry finds the next instance.
  if (reason === 'drain' && !s.away && !s.resuming) void resume(s);
}
