/*
 * Loaded into the bench server with `node --import` (bench/browser.ts): every HTTP answer of the unchanged
 * server CLI gets a Server-Timing header with two durations, so the service worker can tell the server's
 * share of a request from the loopback's:
 *   body    = the 'request' event (headers parsed) → the request body fully read
 *   handler = the body read → the answer's headers written (the endpoint's own work: parse, seal or open, stringify)
 * It only measures: the hook stamps the request and adds a header before calling Node's own writeHead.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (type, ...args) {
  if (type === 'request') stamp(args[0], args[1]);
  return emit.call(this, type, ...args);
};

function stamp(req, res) {
  const start = performance.now();
  let bodyRead = start;
  req.once('end', () => (bodyRead = performance.now()));
  const writeHead = res.writeHead;
  res.writeHead = function (...args) {
    const end = performance.now();
    const read = Math.min(bodyRead, end);
    if (!this.headersSent) this.setHeader('Server-Timing', `body;dur=${(read - start).toFixed(3)}, handler;dur=${(end - read).toFixed(3)}`);
    return writeHead.apply(this, args);
  };
}
