import {
  LIVE_RESUME_MESSAGE,
  LIVE_RESUME_PARAM,
  ROUTES,
  encodeResumeRequest,
  isLiveResumeAnswer,
  type ResumeResponse,
} from '../protocol/index.js';
import { custodyFailed, type CustodyApi, type ResumeResult } from '../protocol/custody.js';
import type { Session } from './session.js';

/**
 * The built-in live channel, opened by the SDK itself (`live: true`): a resume then rides in the socket's first
 * message (docs/protocol.md, "Resume on the live channel"), one round trip instead of `POST resume` + upgrade.
 * Its own file (dist/stasis-live.mjs, a chunk of the ESM build), loaded only by pages that turn it on, so the
 * script tag stays within its budget; it imports nothing of the client at run time.
 */
export function openSocket(s: Session, resume?: boolean): WebSocket {
  const url = new URL(s.endpoint + ROUTES.live);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('sid', s.sid);
  if (resume) url.searchParams.set(LIVE_RESUME_PARAM, '1');
  return (s.socket = new WebSocket(url));
}

/**
 * Resumes on a new socket: the custody lends the blob, the socket carries it, the custody is told the answer
 * (`settle`, posted at once: the page may be frozen or closed right after). A server that does not answer
 * (it closed, it timed out, it sent something else first: no live resume there) gets the HTTP resume instead,
 * with the blob still kept. On `ok` the socket is open with the session attached: `s.socket`.
 */
export async function resumeOnSocket(s: Session, api: CustodyApi): Promise<ResumeResult> {
  const { endpoint, sid } = s;
  const lent = await api.lend({ endpoint, sid }).catch(custodyFailed);
  if (lent.outcome !== 'ok') return lent;
  const socket = openSocket(s, true);
  const answer = await new Promise<ResumeResponse | undefined>((settle) => {
    const done = (answer?: ResumeResponse) => {
      clearTimeout(timer);
      socket.onopen = socket.onmessage = socket.onclose = null;
      if (!answer) socket.close();
      settle(answer);
    };
    const timer = setTimeout(done, s.callTimeoutMs);
    socket.onopen = () =>
      socket.send(encodeResumeRequest({ type: LIVE_RESUME_MESSAGE, sid, blob: lent.blob, ...(lent.proof ? { proof: lent.proof } : {}) }));
    socket.onmessage = ({ data }) => {
      let message: unknown;
      try {
        message = JSON.parse(String(data));
      } catch {
        // not an answer
      }
      done(isLiveResumeAnswer(message) && (message.outcome !== 'ok' || message.sid === sid) ? message : undefined);
    };
    socket.onclose = () => done();
  });
  if (!answer) return api.resume({ endpoint, sid }).catch(custodyFailed);
  void api.settle({ endpoint, sid, gen: lent.gen, exp: lent.exp, answer }).catch(() => undefined);
  return answer.outcome === 'ok' ? { outcome: 'ok', gen: answer.gen } : answer;
}

/** A `ready` in live mode hands the app an open (or opening) socket of this session: a new one if needed. */
export function ensureSocket(s: Session): void {
  const socket = s.socket;
  if (socket && socket.readyState <= WebSocket.OPEN) {
    if (new URL(socket.url).searchParams.get('sid') === s.sid) return;
    socket.close(1000);
  }
  openSocket(s);
}
