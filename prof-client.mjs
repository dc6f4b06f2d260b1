// bench/peers/clients/stasis.ts
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";

// src/protocol/index.ts
var FAILOVER_ROUTE = "/debug/failover";
var ROUTES = {
  hibernate: "/hibernate",
  resume: "/resume",
  health: "/health",
  live: "/live",
  metrics: "/metrics",
  failover: FAILOVER_ROUTE
};
var OUTCOMES = [
  "ok",
  "schema-reset",
  "expired",
  "tampered",
  "unknown-key",
  "replayed",
  "wrong-binding",
  "too-large",
  "malformed",
  "unavailable",
  "no-session",
  "unserializable",
  "stale",
  "forbidden-origin",
  "rate-limited",
  "misconfigured"
];
function isOutcome(value) {
  return typeof value === "string" && OUTCOMES.includes(value);
}
var BLOB_CHARS = /^[A-Za-z0-9_.-]*$/;
function encodeWithBlob(message, key, sealedHere = false) {
  const blob = message[key];
  if (typeof blob !== "string" || !sealedHere && !BLOB_CHARS.test(blob)) return JSON.stringify(message);
  const rest = { ...message };
  delete rest[key];
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"${key}":"${blob}"}`;
}
function encodeResumeRequest(request2) {
  return encodeWithBlob(request2, "blob");
}
var CLOSE_CODES = {
  /** The session was hibernated; resume before reconnecting. */
  hibernated: 4001,
  /** A newer connection or a resume replaced this one. */
  superseded: 4002,
  /** The session is being hibernated right now; wait for the SDK's `ready` before reconnecting. */
  resumeFirst: 4003,
  /** The query had no valid sid. */
  badSession: 4004,
  /** This browser already has the maximum number of live sessions. */
  tooManySessions: 4005,
  /** The server is draining (shutting down): the blob was pushed just before; resume on any instance. */
  draining: 4007,
  /** The session had no app event for the idle timeout: the blob was pushed just before; resume on return. */
  idle: 4008,
  /**
   * The page sent more messages than the server holds (64) while it was still attaching the session: reconnect
   * as after any drop (and send less before the session is attached).
   */
  tooManyEarlyMessages: 4009,
  /**
   * A resume on the live channel was refused (its answer message came first, with the outcome); the reason is
   * `stasis:<outcome>`. Also when no LiveResume came first, or not within the server's body timeout.
   */
  resumeRefused: 4010
};
var LIVE_RESUME_PARAM = "resume";
var LIVE_RESUME_MESSAGE = "stasis:resume";
var LIVE_RESUME_ANSWER = "stasis:resumed";
function isLiveResumeAnswer(data) {
  const m = data;
  return typeof m === "object" && m !== null && m.type === LIVE_RESUME_ANSWER && isOutcome(m.outcome);
}

// bench/peers/clients/json-socket.ts
import { WebSocket } from "ws";
var TIMEOUT_MS = 15e3;
var JsonSocket = class _JsonSocket {
  /** Settles when the socket has closed, with the close frame's code and reason. */
  closed;
  /** `name=value` of the cookie the upgrade's answer set (only the one named in `open`). */
  setCookie;
  #ws;
  #messages = [];
  #close;
  #wake;
  constructor(url, headers, cookieName) {
    const ws = new WebSocket(url, { headers, handshakeTimeout: TIMEOUT_MS });
    this.#ws = ws;
    if (cookieName) {
      ws.on("upgrade", (response) => {
        const header = [].concat(response.headers["set-cookie"] ?? []).find((c) => c.startsWith(`${cookieName}=`));
        this.setCookie = header?.split(";")[0];
      });
    }
    ws.on("message", (data) => {
      this.#messages.push(JSON.parse(data.toString()));
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.#close = { code, reason: reason.toString() };
        this.#wake?.();
        resolve(this.#close);
      });
    });
    ws.on("error", () => {
    });
  }
  /** Starts the upgrade; messages are read with `next()`, which also reports a failed upgrade (as a close). */
  static open(url, options = {}) {
    return new _JsonSocket(url, options.cookie ? { Cookie: options.cookie } : {}, options.cookieName);
  }
  /** The next message; rejects if the socket closes first or nothing comes within 15 s. */
  async next() {
    const deadline = Date.now() + TIMEOUT_MS;
    for (; ; ) {
      if (this.#messages.length > 0) return this.#messages.shift();
      if (this.#close) throw new Error(`the socket closed (${this.#close.code} ${this.#close.reason}) before the next message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${TIMEOUT_MS} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = void 0;
    }
  }
  /** The next app view (`{ type: 'state' }`), skipping any other message. */
  async nextView() {
    for (; ; ) {
      const message = await this.next();
      if (message?.type === "state") return message;
    }
  }
  send(message) {
    this.#ws.send(JSON.stringify(message));
  }
  /** Sends `text` as soon as the upgrade is through (a page's first message, sent from its `open` event). */
  sendOnOpen(text) {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
    else this.#ws.once("open", () => this.#ws.send(text));
  }
  /** Waits for the server's close (rejects after 15 s). */
  async whenClosed() {
    let timer;
    const timeout = new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the socket within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  /** A close handshake from this side; resolves once the socket has closed. */
  async close() {
    if (!this.#close) this.#ws.close(1e3);
    return this.whenClosed();
  }
  /** Drops the connection without a close handshake. */
  terminate() {
    this.#ws.terminate();
  }
};

// bench/peers/clients/stasis.ts
var BASE_PATH = "/stasis";
var COOKIE = "stasis_bid";
var TIMEOUT_MS2 = 15e3;
var resumeStasis = async (client2, blob) => {
  const answer = await client2.post(ROUTES.resume, { sid: client2.sid, blob });
  if (answer.body.outcome !== "ok") throw new Error(`stasis: resume answered ${answer.status} ${JSON.stringify(answer.body)}`);
  return client2.connect();
};
var resumeStasisLive = (client2, blob) => client2.connect(blob);
function stasisClients(base, resume = resumeStasis) {
  const agent = new Agent({ keepAlive: true });
  return {
    create: () => new StasisClient(base, agent, resume),
    close: () => agent.destroy()
  };
}
var StasisClient = class {
  constructor(base, agent, resumeWith) {
    this.base = base;
    this.agent = agent;
    this.resumeWith = resumeWith;
  }
  base;
  agent;
  resumeWith;
  sid = randomBytes(16).toString("base64url");
  /** `stasis_bid=…`, from the first live upgrade (or an answer that set it). */
  cookie;
  #socket;
  #blob;
  async open(bytes2) {
    await this.connect();
    this.#socket.send({ type: "fill", bytes: bytes2 });
    const view = await this.#socket.nextView();
    if (view.bytes !== bytes2) throw new Error(`stasis: filled ${view.bytes} bytes, not ${bytes2}`);
  }
  async pause() {
    const answer = await this.post(ROUTES.hibernate, { sid: this.sid });
    if (answer.body.outcome !== "ok" || typeof answer.body.blob !== "string") {
      throw new Error(`stasis: hibernate answered ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    this.#blob = answer.body.blob;
    const close = await this.#socket.whenClosed();
    if (close.code !== CLOSE_CODES.hibernated) throw new Error(`stasis: the live channel closed with ${close.code}, not ${CLOSE_CODES.hibernated}`);
    this.#socket = void 0;
  }
  resume() {
    const blob = this.#blob;
    this.#blob = void 0;
    return this.resumeWith(this, blob);
  }
  close() {
    this.#socket?.terminate();
    this.#socket = void 0;
  }
  /** Opens the live channel (resuming `blob` in its first message, if given) and resolves with the app's first message. */
  async connect(blob) {
    const resume = blob === void 0 ? "" : `&${LIVE_RESUME_PARAM}=1`;
    const url = `${this.base.replace(/^http/, "ws")}${BASE_PATH}${ROUTES.live}?sid=${this.sid}${resume}`;
    const socket = JsonSocket.open(url, { ...this.cookie ? { cookie: this.cookie } : {}, cookieName: COOKIE });
    this.#socket = socket;
    if (blob !== void 0) {
      socket.sendOnOpen(encodeResumeRequest({ type: LIVE_RESUME_MESSAGE, sid: this.sid, blob }));
      const answer = await socket.next();
      if (!isLiveResumeAnswer(answer) || answer.outcome !== "ok") throw new Error(`stasis: the live resume answered ${JSON.stringify(answer)}`);
    }
    const view = await socket.nextView();
    this.cookie ??= socket.setCookie;
    return view;
  }
  /** A JSON POST to `{base}/stasis{route}` with the binding cookie. */
  post(route, body) {
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${BASE_PATH}${route}`,
        {
          method: "POST",
          agent: this.agent,
          timeout: TIMEOUT_MS2,
          headers: {
            "Content-Type": "application/json",
            "Content-Length": Buffer.byteLength(text),
            ...this.cookie ? { Cookie: this.cookie } : {}
          }
        },
        (res) => {
          const chunks = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => {
            const set = (res.headers["set-cookie"] ?? []).find((c) => c.startsWith(`${COOKIE}=`));
            this.cookie ??= set?.split(";")[0];
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
          res.on("error", reject);
        }
      );
      req.on("timeout", () => req.destroy(new Error(`stasis: ${route} did not answer within ${TIMEOUT_MS2} ms`)));
      req.on("error", reject);
      req.end(text);
    });
  }
};

// ../../tmp/prof/client.ts
var [port, bytesArg, mode] = process.argv.slice(2);
var bytes = Number(bytesArg);
var clients = stasisClients(`http://127.0.0.1:${port}`, mode === "live" ? resumeStasisLive : void 0);
var client = clients.create();
await client.open(bytes);
for (let i = 0; i < 50; i++) {
  await client.pause();
  await client.resume();
}
var w0 = performance.now();
var N = 300;
for (let i = 0; i < N; i++) {
  await client.pause();
  await client.resume();
}
console.log(`${bytes} B ${mode}: ${((performance.now() - w0) / N).toFixed(2)} ms wall per cycle`);
client.close();
clients.close();
