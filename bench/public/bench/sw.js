/*
 * The benchmark's service worker: the production dist/stasis-sw.js, unchanged (importScripts at the end), with
 * timestamps taken from the outside so the bench can say where a hibernate or resume spends its time in the
 * worker. Nothing here changes what the worker does; each hook records `performance.now()` (this worker's
 * clock) and calls the original. Registered at /bench/sw.js (scope /bench/), so it controls no page.
 *
 * The page asks for the log with { type: 'bench:log' } and a port; the answer drains it, and gives this worker's
 * performance.timeOrigin (the one cross-clock estimate, the split of the messaging time, uses it).
 */
/* global self, importScripts, performance, MessagePort, IDBDatabase, IDBTransaction, IDBObjectStore, IDBRequest, SubtleCrypto, Response */
// One function scope: top-level consts of a classic script are visible to every script imported later, and a
// `const fetch` there would hide the hooked self.fetch from dist/stasis-sw.js.
(() => {
  'use strict';

  const log = [];
  const now = () => performance.now();

  // 1. The page's connect message (this listener is registered before Stasis's, so it runs first).
  self.addEventListener('message', (event) => {
    const data = event.data;
    if (data && data.type === 'stasis:connect') log.push({ what: 'connect', at: now(), hibernate: Boolean(data.hibernate) });
    if (data && data.type === 'bench:log' && event.ports[0]) event.ports[0].postMessage({ events: log.splice(0), origin: performance.timeOrigin });
  });

  // 2. The comlink call arriving on its port (a listener of our own, added before comlink's) and its answer.
  const watched = new WeakSet();
  const addEventListener = MessagePort.prototype.addEventListener;
  MessagePort.prototype.addEventListener = function (type, listener, options) {
    if (type === 'message' && !watched.has(this)) {
      watched.add(this);
      addEventListener.call(this, 'message', (event) => {
        const data = event.data;
        if (data && data.type === 'APPLY') log.push({ what: 'apply', at: now(), op: String(data.path && data.path[0]) });
      });
    }
    return addEventListener.call(this, type, listener, options);
  };
  const postMessage = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (message, transfer) {
    if (message && (message.type === 'RAW' || message.type === 'HANDLER')) log.push({ what: 'reply', at: now() });
    return postMessage.call(this, message, transfer);
  };

  // 3. IndexedDB: every transaction, from creation to `complete` (or abort/error), with its stores and options.
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    const tx = transaction.call(this, stores, mode, options);
    if (tx instanceof IDBTransaction) {
      const entry = {
        what: 'tx',
        at: now(),
        stores: [].concat(stores).join('+'),
        mode: mode || 'readonly',
        durability: (options && options.durability) || 'default',
        ready: undefined,
        end: undefined,
      };
      log.push(entry);
      entries.set(tx, entry);
      const done = () => (entry.end = now());
      tx.addEventListener('complete', done);
      tx.addEventListener('abort', done);
    }
    return tx;
  };
  // A read goes on when its request succeeds, before the transaction completes: stamp that too (`ready`).
  const entries = new WeakMap();
  for (const name of ['get', 'getAll', 'put', 'add', 'delete']) {
    const original = IDBObjectStore.prototype[name];
    IDBObjectStore.prototype[name] = function (...args) {
      const request = original.apply(this, args);
      const entry = entries.get(this.transaction);
      if (entry) request.addEventListener('success', () => (entry.ready = now()));
      return request;
    };
  }

  // 4. WebCrypto: the binding proof (SHA-256 of the blob on resume, ECDSA P-256 signature).
  for (const name of ['sign', 'digest']) {
    const original = SubtleCrypto.prototype[name];
    SubtleCrypto.prototype[name] = function (...args) {
      const entry = { what: name, at: now(), end: undefined };
      log.push(entry);
      const result = original.apply(this, args);
      result.then(() => (entry.end = now()), () => (entry.end = now()));
      return result;
    };
  }

  // 5. Whole-blob work the custodian does in between: reading an IndexedDB result (deserializing the value),
  // TextEncoder (the blob's bytes for the proof's hash), JSON.stringify (the request body). Spans over 0.05 ms.
  const span = (what, fn) =>
    function (...args) {
      const at = now();
      const result = fn.apply(this, args);
      const end = now();
      if (end - at > 0.05) log.push({ what, at, end });
      return result;
    };
  const result = Object.getOwnPropertyDescriptor(IDBRequest.prototype, 'result');
  Object.defineProperty(IDBRequest.prototype, 'result', { ...result, get: span('result', result.get) });
  TextEncoder.prototype.encode = span('encode', TextEncoder.prototype.encode);
  JSON.stringify = span('stringify', JSON.stringify);

  // 6. fetch: request → response headers → body read → JSON parsed; the bench server's Server-Timing header.
  const fetch = self.fetch;
  self.fetch = async function (input, init) {
    const entry = { what: 'fetch', at: now(), url: String(input), bodyBytes: typeof init?.body === 'string' ? init.body.length : 0 };
    log.push(entry);
    const response = await fetch.call(self, input, init);
    entry.headers = now();
    entry.server = serverTiming(response.headers.get('Server-Timing'));
    // json() would read and parse in one step; this splits the two, reading the same bytes once.
    response.json = async function () {
      const text = await Response.prototype.text.call(this);
      entry.body = now();
      entry.responseBytes = text.length;
      const value = JSON.parse(text);
      entry.parsed = now();
      return value;
    };
    return response;
  };

  function serverTiming(header) {
    const timing = {};
    for (const part of (header || '').split(',')) {
      const match = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
      if (match) timing[match[1]] = Number(match[2]);
    }
    return timing;
  }

})();

importScripts('/stasis-sw.js');
