import { ROUTES, type FailoverAnswer, type FailoverKind } from './protocol/index.js';

/**
 * Development only: asks the server to do to this tab's session what a failover would (`disconnect`,
 * `restart`, `move`; see docs/protocol.md), so an app's reconnect code can be tried from the console. The
 * server refuses under NODE_ENV=production (`{ ok: false, code: 'disabled-in-production' }`).
 */
export async function requestFailover(endpoint: string, sid: string, kind: FailoverKind): Promise<FailoverAnswer> {
  try {
    const response = await fetch(`${endpoint}${ROUTES.failover}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sid, kind }),
    });
    const answer = (await response.json()) as FailoverAnswer;
    if (typeof answer?.ok === 'boolean') return answer;
    return { ok: false, code: 'unavailable', message: `Unexpected answer (HTTP ${response.status}).` };
  } catch (error) {
    return { ok: false, code: 'unavailable', message: `The server could not be reached: ${(error as Error).message}` };
  }
}
