import type { IncomingMessage } from 'node:http';
import { FAILOVER_KINDS, isSid, type FailoverAnswer, type FailoverKind } from '../../src/protocol/index.js';
import { StasisError } from '../errors.js';
import type { SessionManager } from '../session/session-manager.js';
import { readBindingCookie } from './binding-cookie.js';


/**
 * Development only: `Stasis.debug.failover(kind)` asks the server to do to the page's session what a failover
 * would (see SessionManager.simulateFailover). Under NODE_ENV=production it answers 403
 * `{ ok: false, code: 'disabled-in-production' }` and touches nothing.
 */
export async function failoverEndpoint(
  manager: SessionManager,
  cookieName: string,
  body: () => Promise<Record<string, unknown>>,
  req: IncomingMessage,
): Promise<{ status: number; answer: FailoverAnswer }> {
  if (process.env.NODE_ENV === 'production') {
    req.resume();
    return {
      status: 403,
      answer: { ok: false, code: 'disabled-in-production', message: 'Failover simulation is a development tool; it is off under NODE_ENV=production.' },
    };
  }
  try {
    const { sid, kind } = await body();
    if (!isSid(sid)) throw new StasisError('malformed', 'sid must be a session id.');
    if (!FAILOVER_KINDS.includes(kind as FailoverKind)) throw new StasisError('malformed', `kind must be one of ${FAILOVER_KINDS.join(', ')}.`);
    const binding = readBindingCookie(req, cookieName);
    if (!binding) throw new StasisError('wrong-binding', 'No binding cookie: the session cannot be told apart from another browser’s.');
    const ok = await manager.simulateFailover(sid, kind as FailoverKind, binding);
    return { status: 200, answer: { ok: true, kind: kind as FailoverKind, sid, gen: ok.gen } };
  } catch (error) {
    const code = error instanceof StasisError && ['no-session', 'wrong-binding', 'malformed'].includes(error.code) ? error.code : 'unavailable';
    const status = code === 'no-session' ? 404 : code === 'wrong-binding' ? 403 : code === 'malformed' ? 400 : 503;
    return { status, answer: { ok: false, code: code as 'unavailable', message: (error as Error).message } };
  }
}
