/**
 * Stasis's tab, without a browser: what the page SDK and its service worker do on the wire (docs/protocol.md).
 * Open: the live channel `{base}/stasis/live?sid=…` (its upgrade sets the `stasis_bid` cookie), fill.
 * Pause: `POST /stasis/hibernate {sid}` with the cookie; the answer carries the blob, and the server closes
 * the channel with 4001 (hibernated). Resume: `resumeStasis`, below.
 *
 * HTTP goes through one keep-alive agent per row (a browser reuses its connection to the origin too).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { BenchView } from '../../bench-app.js';
import {
  CLOSE_CODES,
  LIVE_RESUME_MESSAGE,
  LIVE_RESUME_PARAM,
  ROUTES,
  encodeResumeRequest,
  isLiveResumeAnswer,
} from '../../../src/protocol/index.js';
import type { PeerClient, PeerClients } from '../peer.js';
import { JsonSocket } from './json-socket.js';

const BASE_PATH = '/stasis';
const COOKIE = 'stasis_bid';
const TIMEOUT_MS = 15_000;

/** How a Stasis row resumes: from the held blob until the app's first message. */
export type StasisResume = (client: StasisClient, blob: string) => Promise<BenchView>;

/**
 * The resume the page does today, in two round trips: `POST {base}/stasis/resume {sid, blob}` with the
 * binding cookie (outcome `ok`), then the live channel's upgrade `{base}/stasis/live?sid=…`, until the app's
 * first message (the restored view). `resumeStasisLive` below is the one-round-trip variant.
 */
export const resumeStasis: StasisResume = async (client, blob) => {
  const answer = await client.post(ROUTES.resume, { sid: client.sid, blob });
  if (answer.body.outcome !== 'ok') throw new Error(`stasis: resume answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return client.connect();
};

/**
 * The resume of a page in live mode, in one round trip (docs/protocol.md, "Resume on the live channel"): the
 * upgrade `{base}/stasis/live?sid=…&resume=1`, the blob in its first message, the `stasis:resumed` answer and
 * then the app's first message on the same socket.
 */
export const resumeStasisLive: StasisResume = (client, blob) => client.connect(blob);

export function stasisClients(base: string, resume: StasisResume = resumeStasis): PeerClients {
  const agent = new Agent({ keepAlive: true });
  return {
    create: () => new StasisClient(base, agent, resume),
    close: () => agent.destroy(),
  };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export class StasisClient implements PeerClient {
  readonly sid = randomBytes(16).toString('base64url');
  /** `stasis_bid=…`, from the first live upgrade (or an answer that set it). */
  cookie: string | undefined;
  #socket: JsonSocket | undefined;
  #blob: string | undefined;

  constructor(
    readonly base: string,
    private readonly agent: Agent,
    private readonly resumeWith: StasisResume,
  ) {}

  async open(bytes: number): Promise<void> {
    await this.connect();
    this.#socket!.send({ type: 'fill', bytes });
    const view = await this.#socket!.nextView();
    if (view.bytes !== bytes) throw new Error(`stasis: filled ${view.bytes} bytes, not ${bytes}`);
  }

  async pause(): Promise<void> {
    const answer = await this.post(ROUTES.hibernate, { sid: this.sid });
    if (answer.body.outcome !== 'ok' || typeof answer.body.blob !== 'string') {
      throw new Error(`stasis: hibernate answered ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    this.#blob = answer.body.blob;
    const close = await this.#socket!.whenClosed();
    if (close.code !== CLOSE_CODES.hibernated) throw new Error(`stasis: the live channel closed with ${close.code}, not ${CLOSE_CODES.hibernated}`);
    this.#socket = undefined;
  }

  resume(): Promise<BenchView> {
    const blob = this.#blob!;
    this.#blob = undefined;
    return this.resumeWith(this, blob);
  }

  close(): void {
    this.#socket?.terminate();
    this.#socket = undefined;
  }

  /** Opens the live channel (resuming `blob` in its first message, if given) and resolves with the app's first message. */
  async connect(blob?: string): Promise<BenchView> {
    const resume = blob === undefined ? '' : `&${LIVE_RESUME_PARAM}=1`;
    const url = `${this.base.replace(/^http/, 'ws')}${BASE_PATH}${ROUTES.live}?sid=${this.sid}${resume}`;
    const socket = JsonSocket.open(url, { ...(this.cookie ? { cookie: this.cookie } : {}), cookieName: COOKIE });
    this.#socket = socket;
    if (blob !== undefined) {
      socket.sendOnOpen(encodeResumeRequest({ type: LIVE_RESUME_MESSAGE, sid: this.sid, blob }));
      const answer = await socket.next();
      if (!isLiveResumeAnswer(answer) || answer.outcome !== 'ok') throw new Error(`stasis: the live resume answered ${JSON.stringify(answer)}`);
    }
    const view = await socket.nextView();
    this.cookie ??= socket.setCookie;
    return view;
  }

  /** A JSON POST to `{base}/stasis{route}` with the binding cookie. */
  post(route: string, body: object): Promise<Answer> {
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${BASE_PATH}${route}`,
        {
          method: 'POST',
          agent: this.agent,
          timeout: TIMEOUT_MS,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(text),
            ...(this.cookie ? { Cookie: this.cookie } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const set = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${COOKIE}=`));
            this.cookie ??= set?.split(';')[0];
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`stasis: ${route} did not answer within ${TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(text);
    });
  }
}
