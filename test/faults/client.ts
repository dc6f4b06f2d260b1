/**
 * One demo user without a browser: a cookie, a sid, a live channel, and the blob custody the service worker
 * would keep (src/client/ + src/custody/custodian.ts, reduced to what the protocol requires). It changes the cart,
 * hibernates, waits, resumes and reconnects, and judges every state the server shows against what it was
 * told: the cart the app last confirmed, and the contents of each blob it holds (read with the key ring).
 */
import { randomBytes } from 'node:crypto';
import { isFinal, ROUTES, type PushedBlob } from '../../src/protocol/index.js';
import { PRODUCTS } from '../../demo/shared/messages.js';
import { cartFromView, cartText, isEmptyCart, sameCart, type BlobContents, type Cart } from './blob.js';
import type { ResumeGate } from './gate.js';
import type { Recorder } from './report.js';
import { documentedClose, LiveSocket, post, type Answer, type View } from './wire.js';

export interface ClientOptions {
  name: string;
  /** `http://127.0.0.1:<nginx>/stasis` */
  base: string;
  open: (blob: string) => BlobContents;
  record: Recorder;
  rand: () => number;
  /** Where the fault scheduler lines resumes up and watches them (see ResumeGate). */
  gate: ResumeGate;
}

/** What the worker would hold for the sid: the newest blob, from a hibernate or pushed by the server. */
interface Held extends BlobContents {
  blob: string;
  source: 'hibernate' | PushedBlob['reason'];
  /** The first non-final answer a resume of this blob got: a later final one may be the server's own doing. */
  retriedAfter?: string;
  /** A push that took the place of a hibernate's blob (same gen, same exp: the worker's rule lets it). */
  overHibernate?: true;
}

/** How the first view of the next connect is judged: what happened since the client last saw its state. */
type After = 'new' | 'resume' | 'stale' | 'drop' | 'pending-hibernate';

const REQUEST_TIMEOUT_MS = 10_000; // the worker's custody call timeout
const CONNECT_TIMEOUT_MS = 10_000; // a connect may wait for a handover (3 s) and the stores
const CHANGE_TIMEOUT_MS = 5_000;
const RESUME_BUDGET_MS = 15_000; // per attempt series; the page itself retries forever, so the next cycle goes on
const HIBERNATE_CLOSE_MS = 2_000;
const LIVE_SPELL_MS = 1_500; // up to, after each confirmed change; checkpoints come every second

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CartClient {
  sid = newSid();
  cookie: string | undefined;
  held: Held | undefined;
  /** The gen the last resume answered: pushed blobs older than that are late and refused, as the worker does. */
  resumedTo: number | undefined;
  /** The cart the app last confirmed over the live channel: what the user saw acknowledged. */
  confirmed: Cart = {};
  /** A change sent but never confirmed (the channel dropped): the server may or may not have applied it. */
  maybe: Cart | undefined;
  socket: LiveSocket | undefined;
  #after: { after: After; from?: Held } = { after: 'new' };
  #hibernating = false;
  /** Anomalies already seen on the current sid: a later one there is likely a consequence (a sequel). */
  #sidAnomalies = 0;
  /** Sockets this client dropped itself: their close says nothing about the server. */
  readonly #dropped = new WeakSet<LiveSocket>();

  constructor(private readonly o: ClientOptions) {}

  get name(): string {
    return this.o.name;
  }

  /**
   * connect → change → confirmed → stay live a moment → hibernate (hold the blob) → short pause; the next cycle
   * resumes it. The live spell is what an instance SIGKILL can hit: a checkpoint may or may not cover the change.
   */
  async cycle(): Promise<void> {
    if (!(await this.ensureLive(RESUME_BUDGET_MS))) {
      await sleep(300 + this.o.rand() * 700);
      return;
    }
    if (!(await this.change())) return;
    await sleep(this.o.rand() * LIVE_SPELL_MS);
    if (!this.socket?.open) return; // dropped meanwhile: the next cycle recovers
    await this.hibernate();
    await sleep(100 + this.o.rand() * 400); // the tab stays hidden a moment
  }

  /** After the faults: get back to a live session (resuming what is held) and close; judge what it shows. */
  async finish(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    while (!(await this.ensureLive(Math.max(1_000, deadline - Date.now())))) {
      if (Date.now() >= deadline) {
        const held = this.held;
        this.#anomaly('lost', held ? 'blob-never-resumed' : 'no-live-session-at-end', held ? { gen: held.gen, source: held.source } : {});
        if (held) this.o.record.blobFate(held.jti, 'final:never-resumed');
        return;
      }
      await sleep(500);
    }
    if (this.socket) this.#letGo(this.socket, 'drop');
  }

  async ensureLive(budgetMs: number): Promise<boolean> {
    if (this.socket?.open) return true;
    this.socket = undefined;
    // Holding a blob with no channel: hibernated, pushed (drain, idle), or a checkpoint after a drop. The page
    // resumes it first (on show, or in Stasis.recover()); whichever copy is newest wins on the server.
    if (this.held && !(await this.resume(budgetMs))) return false;
    return this.connect();
  }

  /** Resumes the held blob, retrying non-final outcomes with backoff; false when the budget ran out first. */
  async resume(budgetMs: number): Promise<boolean> {
    await this.o.gate.pass();
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const held = this.held!;
      const answer = await this.#call('resume', { sid: this.sid, blob: held.blob }, { gen: held.gen, source: held.source, jti: held.jti });
      if (answer.outcome === 'ok') {
        this.o.record.blobFate(held.jti, 'resumed');
        this.held = undefined;
        this.resumedTo = answer.body.gen as number;
        // With checkpoints on the answer carries one of the restored session: the worker keeps it in the used-up
        // blob's place, so an instance killed before the next checkpoint still leaves the page this state.
        const checkpoint = answer.body.checkpoint;
        const contents = typeof checkpoint === 'string' ? this.#open(checkpoint, 'resume-checkpoint') : undefined;
        if (contents) {
          this.held = { ...contents, blob: checkpoint as string, source: 'checkpoint' };
          this.o.record.blobIssued(contents.jti, { client: this.name, sid: this.sid, gen: contents.gen, source: 'checkpoint' });
        } else this.o.record.count('resume ok without a checkpoint');
        this.#after = { after: 'resume', from: held };
        return true;
      }
      if (!isFinal(answer.outcome)) {
        held.retriedAfter ??= answer.undocumented ? 'undocumented-answer' : answer.outcome;
        const retryAfter = typeof answer.body.retryAfterSeconds === 'number' ? answer.body.retryAfterSeconds * 1000 : 0;
        const wait = Math.max(Math.min(4_000, 500 * 2 ** attempt) * (0.8 + this.o.rand() * 0.4), retryAfter);
        if (Date.now() - started + wait > budgetMs) {
          this.o.record.count('resume: retries paused (budget), blob kept');
          return false;
        }
        await sleep(wait);
        continue;
      }
      // Final: the worker deletes the blob. `stale` keeps the sid (the session should live on); the judging
      // connect decides whether it did. Any other final outcome for the newest blob held is a loss.
      this.o.record.blobFate(held.jti, `final:${answer.outcome}`);
      this.held = undefined;
      if (answer.outcome === 'stale') {
        this.#after = { after: 'stale', from: held };
        return true;
      }
      // Replayed after an `unavailable`: nobody but the server itself can have consumed the blob meanwhile.
      const kind = `resume-${answer.outcome}${held.retriedAfter ? `-after-${held.retriedAfter}` : ''}`;
      this.#anomaly('lost', kind, { gen: held.gen, source: held.source, expected: cartText(this.confirmed), message: answer.body.message });
      this.#startOver();
      return true;
    }
  }

  async connect(): Promise<boolean> {
    const url = `${this.o.base.replace(/^http/, 'ws')}${ROUTES.live}?sid=${this.sid}`;
    const result = await LiveSocket.connect(url, this.cookie, CONNECT_TIMEOUT_MS, (push) => this.#keepPushed(push), (message) => this.#other(message));
    if (result.cookie) this.cookie ??= result.cookie;
    if (result.ok) {
      this.socket = result.socket;
      this.#watch(result.socket);
      this.#judge(result.view);
      return true;
    }
    if (result.http) this.#anomaly('undocumented', `live-upgrade-http-${result.http.status}-${result.http.what}`, {});
    else if (result.timeout) this.#anomaly('undocumented', 'live-no-first-view', {});
    else if (result.error) this.#anomaly('undocumented', `live-upgrade-error-${result.error}`, {});
    else if (result.close) {
      const { code, reason } = result.close;
      this.o.record.count(`connect refused: ${code} ${reason}`);
      if (!documentedClose(code)) this.#anomaly('undocumented', `close-${code}`, { reason, when: 'connect' });
      else if (reason === 'stasis:wrong-binding') {
        // This client's own sid, its own cookie: the page would start over (Stasis.recover) and lose the cart.
        this.#anomaly('lost', 'connect-wrong-binding', { expected: cartText(this.confirmed) });
        this.#startOver();
      }
    }
    return false;
  }

  /** One cart change over the live channel, confirmed by the view the app sends back. */
  async change(): Promise<boolean> {
    const socket = this.socket!;
    const { id, delta } = this.#pickChange();
    const next = { ...this.confirmed, [id]: (this.confirmed[id] ?? 0) + delta };
    this.maybe = next;
    socket.send({ type: 'add', id, delta });
    const answer = await socket.nextView(CHANGE_TIMEOUT_MS);
    if (answer === 'timeout') {
      this.#anomaly('undocumented', 'live-no-view-after-change', {});
      this.#letGo(socket, 'drop');
      return false;
    }
    if ('code' in answer) return false; // dropped: #watch took note; the next cycle recovers
    const seen = cartFromView(answer.cart);
    if (!sameCart(seen, next)) {
      this.#anomaly('diverged', 'live-change', { expected: cartText(next), seen: cartText(seen), gen: answer.gen });
    }
    this.confirmed = seen;
    this.maybe = undefined;
    this.o.record.count('changes confirmed');
    return true;
  }

  async hibernate(): Promise<void> {
    const socket = this.socket!;
    this.#hibernating = true;
    try {
      const answer = await this.#call('hibernate', { sid: this.sid }, {});
      if (answer.outcome !== 'ok') {
        // Nothing stored: the session, if live anywhere, stays live. A channel closed meanwhile (an owner that
        // sealed after the asking instance gave up, a killed instance) is recovered by the next cycle.
        if (!socket.open) this.#letGo(socket, 'pending-hibernate');
        return;
      }
      const blob = answer.body.blob as string;
      const contents = this.#open(blob, 'hibernate');
      if (!contents) return;
      if (this.held) this.o.record.blobFate(this.held.jti, 'superseded');
      this.held = { ...contents, blob, source: 'hibernate' };
      this.o.record.blobIssued(contents.jti, { client: this.name, sid: this.sid, gen: contents.gen, source: 'hibernate' });
      if (!sameCart(contents.cart, this.confirmed)) {
        this.#anomaly('diverged', 'hibernate-blob', { expected: cartText(this.confirmed), sealed: cartText(contents.cart), gen: contents.gen });
        this.confirmed = contents.cart;
      }
      // The server closes the channel with 4001 (here, or the owner after a handover).
      if (!(await socket.waitClosed(HIBERNATE_CLOSE_MS))) this.o.record.count('hibernate ok, channel still open after 2 s');
      this.#letGo(socket, 'resume');
    } finally {
      this.#hibernating = false;
    }
  }

  // ---- judging ----

  /** The first view after a connect, against the cart last confirmed (or the change that may have landed). */
  #judge(view: View): void {
    const { after, from } = this.#after;
    this.#after = { after: 'drop' }; // any later connect without a resume follows a dropped channel
    const seen = cartFromView(view.cart);
    this.o.record.event('connect', { client: this.name, sid: this.sid, after, gen: view.gen, restored: view.restored, seen: cartText(seen) });
    this.o.record.count(`connects after ${after}`);
    if (!sameCart(seen, this.confirmed) && !(this.maybe && sameCart(seen, this.maybe))) {
      const detail = {
        after,
        expected: cartText(this.confirmed),
        ...(this.maybe ? { maybe: cartText(this.maybe) } : {}),
        seen: cartText(seen),
        gen: view.gen,
        restored: view.restored,
        ...(from ? { from: { source: from.source, gen: from.gen, cart: cartText(from.cart) } } : {}),
      };
      if (after === 'stale') this.#anomaly('lost', `resume-stale${from?.retriedAfter ? `-after-${from.retriedAfter}` : ''}`, detail);
      else if (isEmptyCart(seen)) this.#anomaly('lost', `fresh-session-after-${after}`, detail);
      else if (from && from.source !== 'hibernate' && sameCart(seen, from.cart)) {
        // An older checkpoint restored: the SIGKILL window, unless the page itself preferred it to its hibernate blob.
        this.#anomaly('diverged', `rolled-back-to-${from.source}${from.overHibernate ? '-kept-over-hibernate-blob' : ''}`, detail);
      }
      else this.#anomaly('diverged', `restored-after-${after}`, detail);
    } else if (after === 'stale') this.o.record.count('stale, session intact');
    // Judge once: from here the server's state is the reference, so one fault is counted once.
    this.confirmed = seen;
    this.maybe = undefined;
  }

  // ---- channel ----

  #watch(socket: LiveSocket): void {
    void socket.closed.then((close) => {
      if (this.#dropped.has(socket)) return; // one this client let go of itself
      this.o.record.count(`close ${close.code} ${close.reason}`.trim());
      if (!documentedClose(close.code)) this.#anomaly('undocumented', `close-${close.code}`, { reason: close.reason, when: 'live' });
      if (this.socket !== socket) return;
      if (this.#hibernating && close.code === 4001) return; // our own hibernate's
      this.socket = undefined;
      this.#after = { after: 'drop' };
      if (close.reason === 'stasis:wrong-binding') {
        this.#anomaly('lost', 'live-wrong-binding', { expected: cartText(this.confirmed) });
        this.#startOver();
      }
    });
  }

  #letGo(socket: LiveSocket, after: After): void {
    this.#dropped.add(socket);
    if (this.socket === socket) this.socket = undefined;
    socket.terminate();
    if (after !== 'resume') this.#after = { after };
  }

  /** A blob the server answered `ok` with (or pushed) that the key ring cannot open is outside the protocol. */
  #open(blob: string, what: string): BlobContents | undefined {
    try {
      const contents = this.o.open(blob);
      if (contents.sid === this.sid) return contents;
      this.#anomaly('undocumented', `${what}-blob-of-another-sid`, {});
    } catch (error) {
      this.#anomaly('undocumented', `${what}-blob-unreadable`, { error: (error as Error).message });
    }
    return undefined;
  }

  /** Stasis.receive + the worker's store(): keep only the newest blob, refuse one older than the last resume. */
  #keepPushed(push: PushedBlob): void {
    this.o.record.count(`pushed ${push.reason}`);
    if (push.sid !== this.sid) return;
    if (this.resumedTo !== undefined && push.gen < this.resumedTo) return void this.o.record.count('pushed blob older than resumed gen (refused)');
    const contents = this.#open(push.blob, `pushed-${push.reason}`);
    if (!contents) return;
    this.o.record.blobIssued(contents.jti, { client: this.name, sid: this.sid, gen: contents.gen, source: push.reason });
    const held = this.held;
    if (held && (held.gen > push.gen || (held.gen === push.gen && held.exp > push.exp))) {
      this.o.record.blobFate(contents.jti, 'superseded');
      return void this.o.record.count('pushed blob not newer than the one held (refused)');
    }
    if (held) this.o.record.blobFate(held.jti, 'superseded');
    const overHibernate = held?.source === 'hibernate';
    if (overHibernate) this.o.record.count('hibernate blob replaced by a later push');
    this.held = { ...contents, blob: push.blob, source: push.reason, ...(overHibernate ? { overHibernate } : {}) };
  }

  #other(message: unknown): void {
    const raw = (message as { type?: unknown } | null)?.type ?? typeof message;
    const type = typeof raw === 'string' ? raw : JSON.stringify(raw);
    this.#anomaly('undocumented', `live-message-${type}`, { message: JSON.stringify(message).slice(0, 200) });
  }

  // ---- requests ----

  async #call(route: 'hibernate' | 'resume', body: object, context: Record<string, unknown>): Promise<Answer> {
    if (route === 'resume') this.o.gate.sent();
    let answer = await post(`${this.o.base}${ROUTES[route]}`, body, this.cookie, REQUEST_TIMEOUT_MS);
    if (route === 'resume') this.o.gate.answered();
    if (answer.cookie) this.cookie ??= answer.cookie;
    // The worker treats an `ok` it cannot use as `unavailable` (nothing deleted, nothing stored).
    const unusable =
      answer.outcome !== 'ok' || answer.body.sid !== this.sid
        ? answer.outcome === 'ok' && 'ok-for-another-sid'
        : route === 'hibernate'
          ? typeof answer.body.blob !== 'string' && 'ok-without-blob'
          : !Number.isSafeInteger(answer.body.gen) && 'ok-without-gen';
    if (unusable) answer = { ...answer, outcome: 'unavailable', undocumented: unusable };
    this.o.record.count(`${route} → ${answer.outcome}${answer.undocumented ? ' (undocumented answer)' : ''}`);
    this.o.record.event(route, { client: this.name, sid: this.sid, outcome: answer.outcome, status: answer.status, ms: answer.ms, ...context, ...(answer.undocumented ? { undocumented: answer.undocumented } : {}) });
    if (answer.undocumented) {
      this.#anomaly('undocumented', `${route}-${answer.undocumented}`, { status: answer.status, body: JSON.stringify(answer.body).slice(0, 200) });
    }
    return answer;
  }

  #pickChange(): { id: string; delta: number } {
    const ids = PRODUCTS.map((p) => p.id);
    // Never empty the cart once it has something: an empty cart then always means a fresh session.
    const removable = ids.filter((id) => (this.confirmed[id] ?? 0) >= 2);
    if (removable.length && this.o.rand() < 0.25) return { id: removable[Math.floor(this.o.rand() * removable.length)]!, delta: -1 };
    const addable = ids.filter((id) => (this.confirmed[id] ?? 0) < 99);
    return { id: addable[Math.floor(this.o.rand() * addable.length)]!, delta: 1 };
  }

  /** After a final failure the page starts over under a new sid with an empty cart. */
  #startOver(): void {
    this.sid = newSid();
    this.held = undefined;
    this.resumedTo = undefined;
    this.confirmed = {};
    this.maybe = undefined;
    this.#after = { after: 'new' };
    this.#sidAnomalies = 0;
  }

  #anomaly(category: 'lost' | 'diverged' | 'undocumented', kind: string, detail: Record<string, unknown>): void {
    this.o.record.anomaly(category, kind, { client: this.name, sid: this.sid.slice(0, 8), ...detail }, this.#sidAnomalies++ > 0);
  }
}

function newSid(): string {
  return randomBytes(16).toString('base64url');
}
