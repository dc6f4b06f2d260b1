/**
 * Key binding (docs/protocol.md, "Key binding"): the proof's verification, and the HTTP endpoints binding blobs
 * to the browser's key so a browser that lost its cookie (killed before Chromium flushed it) still resumes.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import app from '../../../demo/app.js';
import { open } from '../../../server-stub/envelope/envelope.js';
import { generateKeySpec, parseKeyRing } from '../../../server-stub/envelope/key-ring.js';
import { createStasisServer, type StasisServer } from '../../../server-stub/index.js';
import { silentLogger } from '../../../server-stub/logger.js';
import { blobHash, jwkThumbprint, verifyProof } from '../../../server-stub/transport/proof.js';
import { PROOF_TYPE } from '../../../src/protocol/index.js';
import { listenOnLoopback, newSid } from './helpers.js';

// ---- proofs made the way the custodian makes them (ES256, r || s) ----

interface Signer {
  jwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  privateKey: KeyObject;
  kbt: string;
}

function newSigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty: 'EC' as const, crv: 'P-256' as const, x: x!, y: y! };
  return { jwk, privateKey, kbt: jwkThumbprint(jwk) };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

function makeProof(
  signer: Signer,
  claims: { htu: string; blob?: string; iat?: number; htm?: string; bh?: string; jti?: string },
  header: Record<string, unknown> = {},
): string {
  const payload = {
    htm: claims.htm ?? 'POST',
    htu: claims.htu,
    iat: claims.iat ?? nowSeconds(),
    jti: claims.jti ?? 'a-random-jti-123',
    ...(claims.bh !== undefined ? { bh: claims.bh } : claims.blob !== undefined ? { bh: blobHash(claims.blob) } : {}),
  };
  const input = `${b64({ typ: PROOF_TYPE, alg: 'ES256', jwk: signer.jwk, ...header })}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

describe('verifyProof', () => {
  const key = newSigner();
  const htu = '/stasis/resume';
  const blob = 'h.e.a.d.er';
  const expected = () => ({ htu, nowSeconds: nowSeconds(), blob });

  it('a valid proof gives the RFC 7638 thumbprint of its key', () => {
    expect(verifyProof(makeProof(key, { htu, blob }), expected())).toStrictEqual({ kbt: key.kbt });
    // RFC 7638 §3: SHA-256 over {"crv","kty","x","y"} in that order, no whitespace.
    const canonical = `{"crv":"P-256","kty":"EC","x":"${key.jwk.x}","y":"${key.jwk.y}"}`;
    expect(key.kbt).toBe(createHash('sha256').update(canonical).digest('base64url'));
  });

  it('refuses a proof for another path or method', () => {
    expect(verifyProof(makeProof(key, { htu: '/stasis/hibernate', blob }), expected())).toMatchObject({ problem: expect.stringContaining('another request') });
    expect(verifyProof(makeProof(key, { htu, blob, htm: 'GET' }), expected())).toMatchObject({ problem: expect.stringContaining('another request') });
  });

  it('refuses an iat more than 120 s away, either way', () => {
    expect(verifyProof(makeProof(key, { htu, blob, iat: nowSeconds() - 121 }), expected())).toMatchObject({ problem: expect.stringContaining('iat') });
    expect(verifyProof(makeProof(key, { htu, blob, iat: nowSeconds() + 121 }), expected())).toMatchObject({ problem: expect.stringContaining('iat') });
    expect(verifyProof(makeProof(key, { htu, blob, iat: nowSeconds() - 100 }), expected())).toStrictEqual({ kbt: key.kbt });
  });

  it('refuses a proof over another blob, or none, on resume', () => {
    expect(verifyProof(makeProof(key, { htu, blob: 'another.blob' }), expected())).toMatchObject({ problem: expect.stringContaining('bh') });
    expect(verifyProof(makeProof(key, { htu }), expected())).toMatchObject({ problem: expect.stringContaining('bh') });
  });

  it('refuses a signature by another key than the one in the header', () => {
    const other = newSigner();
    const theirs = makeProof(other, { htu, blob }).split('.');
    const mine = makeProof(key, { htu, blob }).split('.');
    expect(verifyProof(`${mine[0]}.${mine[1]}.${theirs[2]}`, expected())).toMatchObject({ problem: expect.stringContaining('signature') });
  });

  it('refuses a changed payload', () => {
    const [head, , signature] = makeProof(key, { htu, blob }).split('.');
    const forged = b64({ htm: 'POST', htu, iat: nowSeconds(), jti: 'another-jti-456', bh: blobHash(blob) });
    expect(verifyProof(`${head}.${forged}.${signature}`, expected())).toMatchObject({ problem: expect.stringContaining('signature') });
  });

  it('refuses malformed JWS, wrong typ or alg, a private or non-P-256 key, a DER signature', () => {
    const cases: unknown[] = [
      undefined,
      42,
      '',
      'a.b',
      'a.b.c.d',
      'not base64!.x.y',
      `${b64('string')}.${b64({})}.AAAA`,
      makeProof(key, { htu, blob }, { typ: 'dpop+jwt' }),
      makeProof(key, { htu, blob }, { alg: 'ES384' }),
      makeProof(key, { htu, blob }, { jwk: { ...key.jwk, crv: 'P-384' } }),
      makeProof(key, { htu, blob }, { jwk: { ...key.jwk, d: 'x'.repeat(43) } }),
      makeProof(key, { htu, blob }, { jwk: { ...key.jwk, x: key.jwk.y } }), // not a point on the curve
      'x'.repeat(3000),
    ];
    for (const proof of cases) expect(verifyProof(proof, expected())).toHaveProperty('problem');
    const [head, body] = makeProof(key, { htu, blob }).split('.');
    const der = sign('sha256', Buffer.from(`${head}.${body}`), key.privateKey).toString('base64url');
    expect(verifyProof(`${head}.${body}.${der}`, expected())).toHaveProperty('problem');
  });
});

// ---- the HTTP endpoints (demo app) ----

describe('key-bound blobs over HTTP', () => {
  const spec = generateKeySpec('kb-1');
  let stasis: StasisServer;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    stasis = await createStasisServer({ app, keys: spec, logger: silentLogger });
    const listening = await listenOnLoopback(stasis);
    server = listening.server;
    base = `http://127.0.0.1:${listening.port}`;
  });
  afterAll(async () => {
    await stasis.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function post(path: string, body: unknown, cookie?: string) {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, setCookie: res.headers.get('set-cookie') };
  }

  /** A live session with one pen in the cart; its browser's cookie. */
  async function liveSession(sid: string): Promise<string> {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/stasis/live?sid=${sid}`);
    let cookie = '';
    ws.on('upgrade', (response) => (cookie = String(response.headers['set-cookie'] ?? '').split(';')[0]!));
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'add', id: 'pen', delta: 1 }));
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.on('error', () => {});
    return cookie;
  }

  async function keyBoundBlob(signer: Signer) {
    const sid = newSid();
    const cookie = await liveSession(sid);
    const hib = await post('/stasis/hibernate', { sid, proof: makeProof(signer, { htu: '/stasis/hibernate' }) }, cookie);
    expect(hib.json.outcome).toBe('ok');
    return { sid, cookie, blob: hib.json.blob as string };
  }

  it('a hibernate with a valid proof seals the key thumbprint (kbt) beside the cookie hash', async () => {
    const signer = newSigner();
    const { blob } = await keyBoundBlob(signer);
    const sealed = await open(blob, await parseKeyRing(spec));
    expect(sealed.kbt).toBe(signer.kbt);
    expect(typeof sealed.bid).toBe('string');
  });

  it('a key-bound blob resumes with a valid proof and no cookie; the answer issues a new cookie', async () => {
    const signer = newSigner();
    const { sid, blob } = await keyBoundBlob(signer);
    const resumed = await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) });
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    expect(resumed.setCookie).toMatch(/^stasis_bid=[A-Za-z0-9_-]{32}; /);
    // The restored session keeps the key binding: its next blob needs the key again.
    const cookie = resumed.setCookie!.split(';')[0]!;
    const again = await post('/stasis/hibernate', { sid }, cookie);
    expect(again.json.outcome).toBe('ok');
    expect((await open(again.json.blob as string, await parseKeyRing(spec))).kbt).toBe(signer.kbt);
  });

  it('a key-bound blob without a proof, with another key\'s proof, or a bad proof answers wrong-binding even with the cookie; nothing is used up', async () => {
    const signer = newSigner();
    const { sid, cookie, blob } = await keyBoundBlob(signer);
    const refused = [
      await post('/stasis/resume', { sid, blob }, cookie),
      await post('/stasis/resume', { sid, blob, proof: makeProof(newSigner(), { htu: '/stasis/resume', blob }) }, cookie),
      await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob: 'other' }) }, cookie),
      await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob, iat: nowSeconds() - 600 }) }, cookie),
      await post('/stasis/resume', { sid, blob, proof: 'not.a.proof' }, cookie),
    ];
    for (const answer of refused) expect([answer.status, answer.json.outcome]).toEqual([403, 'wrong-binding']);
    // The binding is checked before the ledger: the blob still resumes for its key.
    const resumed = await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) }, cookie);
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    // And only once (the ledger, as before).
    const replay = await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) }, cookie);
    expect(replay.json.outcome).toBe('replayed');
  });

  it('SessionManager.resume called directly on a key-bound blob without a cookie answers wrong-binding (a StasisError, not a TypeError); nothing is used up', async () => {
    const signer = newSigner();
    const { sid, blob } = await keyBoundBlob(signer);
    const proof = verifyProof(makeProof(signer, { htu: '/stasis/resume', blob }), { htu: '/stasis/resume', nowSeconds: nowSeconds(), blob });
    await expect(stasis.sessions.resume(sid, blob, undefined, proof)).rejects.toMatchObject({ name: 'StasisError', code: 'wrong-binding' });
    const resumed = await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) });
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
  });

  it('a cookie-bound blob (no proof at hibernate) keeps resuming by the cookie; a proof on resume binds the session to the key from then on', async () => {
    const sid = newSid();
    const cookie = await liveSession(sid);
    const hib = await post('/stasis/hibernate', { sid }, cookie);
    const blob = hib.json.blob as string;
    expect((await open(blob, await parseKeyRing(spec))).kbt).toBeUndefined();
    const signer = newSigner();
    expect((await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) })).json.outcome).toBe('wrong-binding');
    const resumed = await post('/stasis/resume', { sid, blob, proof: makeProof(signer, { htu: '/stasis/resume', blob }) }, cookie);
    expect(resumed.json).toStrictEqual({ outcome: 'ok', sid, gen: 2 });
    const next = await post('/stasis/hibernate', { sid }, cookie);
    expect((await open(next.json.blob as string, await parseKeyRing(spec))).kbt).toBe(signer.kbt);
  });

  it('a hibernate with a bad proof still hibernates, bound to the cookie only', async () => {
    const sid = newSid();
    const cookie = await liveSession(sid);
    const hib = await post('/stasis/hibernate', { sid, proof: makeProof(newSigner(), { htu: '/stasis/resume' }) }, cookie);
    expect(hib.json.outcome).toBe('ok');
    expect((await open(hib.json.blob as string, await parseKeyRing(spec))).kbt).toBeUndefined();
  });
});
