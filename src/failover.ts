import { FAILOVER_ROUTE, type FailoverAnswer, type FailoverKind } from './protocol/index.js';

/**
 * Development only: asks the server to do to this tab's session what a failover would (`disconnect`,
 * `restart`, `move`; see docs/protocol.md), so an app's reconnect code can be tried from the console. The
 * server refuses under NODE_ENV=production (`{ ok: false, code: 'disabled-in-production' }`). Kept small: it
 * ships in every page's bundle.
 */
export function requestFailover(endpoint: string, sid: string, kind: FailoverKind): Promise<FailoverAnswer> {
  return fetch(endpoint + FAILOVER_ROUTE, { method: 'POST', body: JSON.stringify({ sid, kind }) }).then((r) => r.json() as Promise<FailoverAnswer>);
}
