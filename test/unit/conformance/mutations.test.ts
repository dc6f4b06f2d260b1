/**
 * The conformance suite can fail: it runs against deliberately wrong variants of the reference server and each
 * variant is reported FAIL by the requirement that covers the rule it breaks, while a pass-through proxy over
 * the same reference passes them all (so the proxy itself breaks nothing). The variants are built in-process,
 * without touching server-stub: a proxy that rewrites answers or requests, or another ledger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLedger, type Ledger } from '../../../server-stub/index.js';
import { openBlob, sealBlob } from '../../../server-stub/conformance/jwe.js';
import { runConformance, type ConformanceReport } from '../../../server-stub/conformance/runner.js';
import { loadVectors } from '../../../server-stub/conformance/vectors.js';
import { makeProof, makeProofKey } from '../../../server-stub/conformance/proof.js';
import { startProxy, replyJson, type Proxy, type ProxyRules } from './proxy.js';
import { startReference, type Running } from './reference-server.js';

const vectors = loadVectors();
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function reference(options: Parameters<typeof startReference>[0] = {}): Promise<Running> {
  const running = await startReference(options);
  open.push(running);
  return running;
}

async function proxied(rules: ProxyRules): Promise<Proxy> {
  const running = await reference();
  const proxy = await startProxy(running.port, '/stasis', rules);
  open.push(proxy);
  return proxy;
}

function statusOf(report: ConformanceReport, id: string): string {
  const result = report.results.find((r) => r.id === id);
  return result ? `${result.status}: ${result.saw}` : 'not reported';
}

const run = (base: string, only: string[]) => runConformance({ baseUrl: base, testKeys: true, only });

describe('stasis-conformance against wrong servers', () => {
  it('control: through a pass-through proxy the reference passes every requirement the variants break', async () => {
    const proxy = await proxied({});
    const ids = ['BLOB-REFUSE-ZIP', 'HTTP-WRONG-METHOD', 'LEDGER-STALE', 'COOKIE-MAX-AGE', 'HTTP-STATUS-REPLAYED', 'LEDGER-REPLAYED'];
    const report = await run(proxy.base, [...ids, 'KEY-']);
    for (const id of ids) expect(statusOf(report, id), id).toMatch(/^PASS/);
    const keyIds = report.results.filter((r) => r.id.startsWith('KEY-')).map((r) => r.id);
    expect(keyIds).toHaveLength(8);
    for (const id of keyIds) expect(statusOf(report, id), id).toMatch(/^PASS/);
  }, 60_000);

  it('1. a server that accepts a `zip` header fails BLOB-REFUSE-ZIP', async () => {
    // The proxy takes `zip` out of the blob header and seals the blob again with the test key: the server behind
    // it opens what a zip-accepting server would.
    const proxy = await proxied({
      request(path, body) {
        if (!path.endsWith('/resume')) return body;
        const json = JSON.parse(body.toString('utf8')) as { sid?: unknown; blob?: unknown };
        if (typeof json.blob !== 'string') return body;
        const opened = openBlob(json.blob, vectors.byKid);
        if (typeof opened === 'string' || !('zip' in opened.header)) return body;
        const { zip: _zip, ...header } = opened.header;
        const key = vectors.byKid.get(String(header.kid))!;
        return Buffer.from(JSON.stringify({ ...json, blob: sealBlob({ header, plaintext: opened.plaintextText, key }) }));
      },
    });
    const report = await run(proxy.base, ['BLOB-REFUSE-ZIP']);
    expect(statusOf(report, 'BLOB-REFUSE-ZIP')).toMatch(/^FAIL: zip "DEF".*200 \{"outcome":"ok"/);
    expect(report.ok).toBe(false);
  }, 60_000);

  it('2. a server that answers 405 to the wrong method fails HTTP-WRONG-METHOD', async () => {
    const proxy = await proxied({
      intercept(req, res) {
        if (req.method === 'POST' || !/\/(hibernate|resume)$/.test(req.url ?? '')) return false;
        req.resume();
        res.writeHead(405, { Allow: 'POST', 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ outcome: 'malformed', message: 'POST only.' }));
        return true;
      },
    });
    const report = await run(proxy.base, ['HTTP-WRONG-METHOD']);
    expect(statusOf(report, 'HTTP-WRONG-METHOD')).toMatch(/^FAIL: GET hibernate: 405/);
  }, 60_000);

  it('3. a server whose ledger lets a stale blob resume fails LEDGER-STALE', async () => {
    const inner = new MemoryLedger();
    const neverStale: Ledger = {
      consume: async (claim) => {
        const verdict = await inner.consume(claim);
        return verdict === 'stale' ? 'ok' : verdict;
      },
      release: (claim) => inner.release(claim),
      fresh: (sid) => inner.fresh(sid),
      settle: (claim) => inner.settle(claim),
    };
    const running = await reference({ ledger: neverStale });
    const report = await run(running.base, ['LEDGER-STALE']);
    expect(statusOf(report, 'LEDGER-STALE')).toMatch(/^FAIL: gen 1 after gen 2 resumed: 200 \{"outcome":"ok"/);
  }, 60_000);

  it('4. a server that sets the binding cookie without a lifetime (a session cookie) fails COOKIE-MAX-AGE', async () => {
    const strip = (line: string) => line.replace(/;\s*(Max-Age|Expires)=[^;]*/gi, '');
    const proxy = await proxied({
      response: (_path, reply) => {
        const cookies = reply.headers['set-cookie'];
        return cookies ? { ...reply, headers: { ...reply.headers, 'set-cookie': cookies.map(strip) } } : reply;
      },
      upgradeHead: (head) => head.split('\r\n').map((line) => (/^set-cookie:/i.test(line) ? strip(line) : line)).join('\r\n'),
    });
    const report = await run(proxy.base, ['COOKIE-MAX-AGE', 'COOKIE-HTTPONLY']);
    expect(statusOf(report, 'COOKIE-MAX-AGE')).toMatch(/^FAIL: stasis_bid=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax \(blob lifetime/);
    expect(statusOf(report, 'COOKIE-HTTPONLY')).toMatch(/^PASS/); // the rest of the cookie is still right
  }, 60_000);

  it('5. a server that answers `replayed` with the wrong status fails HTTP-STATUS-REPLAYED', async () => {
    const proxy = await proxied({
      response: (_path, reply) => (replyJson(reply)?.outcome === 'replayed' ? { ...reply, status: 400 } : reply),
    });
    const report = await run(proxy.base, ['LEDGER-REPLAYED', 'HTTP-STATUS-REPLAYED']);
    expect(statusOf(report, 'HTTP-STATUS-REPLAYED')).toMatch(/^FAIL: resume: 400 \{"outcome":"replayed"/);
    expect(statusOf(report, 'LEDGER-REPLAYED')).toMatch(/^PASS/); // the outcome itself is right
  }, 60_000);

  it('6. a server that ignores the proof (binds the blob to a key, but lets any request resume it) fails the KEY- refusals', async () => {
    // The proxy signs every hibernate and resume with a key of its own, whatever proof the tool sent (none, another
    // key's, a stale one): the server behind it sees a valid proof each time, as a server that ignores it would.
    const own = makeProofKey();
    const proxy = await proxied({
      request(path, body) {
        const route = /\/(hibernate|resume)$/.exec(path)?.[1];
        if (!route) return body;
        const json = JSON.parse(body.toString('utf8')) as { blob?: unknown };
        const blob = typeof json.blob === 'string' ? json.blob : undefined;
        const proof = makeProof(own, { htu: `/stasis/${route}`, iat: Math.floor(Date.now() / 1000), ...(blob === undefined ? {} : { blob }) });
        return Buffer.from(JSON.stringify({ ...json, proof }));
      },
    });
    const report = await run(proxy.base, ['KEY-']);
    expect(statusOf(report, 'KEY-BOUND-NO-COOKIE')).toMatch(/^PASS/);
    // The first refusal is answered `ok` (and uses the blob up); the others then get `replayed`: all FAIL.
    expect(statusOf(report, 'KEY-BOUND-NO-PROOF')).toMatch(/^FAIL: its cookie, no proof: 200 \{"outcome":"ok"/);
    for (const id of ['KEY-BOUND-OTHER-KEY', 'KEY-PROOF-HTU', 'KEY-PROOF-IAT', 'KEY-PROOF-BH', 'KEY-REFUSAL-KEEPS-BLOB']) {
      expect(statusOf(report, id), id).toMatch(/^FAIL: /);
    }
    expect(report.ok).toBe(true); // SHOULD failures do not fail the run
  }, 60_000);
});
