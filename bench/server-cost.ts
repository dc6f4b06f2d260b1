/**
 * Server cost: hibernate (encode + seal) and resume (open + verify + ledger + decode + rebuild) per second
 * on one core, beside the physical limit measured in the same run on the same bytes: node:crypto
 * AES-256-GCM plus base64url, nothing else.
 *
 * Each session has a browser (binding cookie) of its own, as over HTTP. Each blob is resumed as a request
 * brings it: a flat string that JSON.parse made (outside the timing). The string hibernate returns is a
 * concatenation; resuming that one made the resume flatten (copy) the whole blob first, a cost no request
 * pays: its body is parsed from JSON.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createStasisServer, generateKeySpec, silentLogger } from '../server-stub/index.js';
import type { LiveChannel } from '../server-stub/session/session.js';
import app from './bench-app.js';
import { makeProof, makeProofKey } from '../server-stub/conformance/proof.js';
import { jwkThumbprint, verifyProof } from '../server-stub/transport/proof.js';
import { round, SIZES, summarize, type Summary } from './stats.js';

export interface CostRow {
  size: string;
  bytes: number;
  blobBytes: number;
  hibernatePerSecond: number;
  resumePerSecond: number;
  limitSealPerSecond: number;
  limitOpenPerSecond: number;
  /** Stasis time / limit time; the goal is ≤ 2. */
  hibernateRatio: number;
  resumeRatio: number;
}

const channel: LiveChannel = { send() {}, close() {} };

/** The reference server in this process, driven through `stasis.sessions` (no HTTP), with room for 1 MB blobs. */
function inProcessServer() {
  return createStasisServer({
    app,
    keys: generateKeySpec('bench'),
    logger: silentLogger,
    maxBlobBytes: 8 << 20,
    warnBlobBytes: 8 << 20,
    maxSessionsPerBrowser: Number.MAX_SAFE_INTEGER,
  });
}

export async function benchServerCost(options: { iterations: (bytes: number) => number }): Promise<CostRow[]> {
  const stasis = await inProcessServer();
  const sessions = stasis.sessions;
  const rows: CostRow[] = [];
  try {
    for (const size of SIZES) {
      const n = options.iterations(size.bytes);
      const sids = Array.from({ length: n + 3 }, () => randomBytes(16).toString('base64url'));
      const cookies = sids.map(() => randomBytes(24).toString('base64url'));
      const blobs: string[] = [];
      // Hibernate: a session holding `size` of state, sealed and freed. Only the hibernate call is timed.
      let hibernateMs = 0;
      for (const [i, sid] of sids.entries()) {
        const session = await sessions.connect(sid, channel, cookies[i]);
        await sessions.deliver(session, { type: 'fill', bytes: size.bytes });
        const t0 = performance.now();
        const { blob } = await sessions.hibernate(sid, cookies[i]!);
        const t1 = performance.now();
        if (i >= 3) hibernateMs += t1 - t0; // the first few warm the JIT
        blobs.push(asRequestBrings(blob));
      }
      // Resume each blob once (each is single-use).
      let resumeMs = 0;
      for (const [i, sid] of sids.entries()) {
        const t0 = performance.now();
        await sessions.resume(sid, blobs[i]!, cookies[i]);
        const t1 = performance.now();
        if (i >= 3) resumeMs += t1 - t0;
      }
      sessions.closeAll();
      // The limit, on the same number of plaintext bytes as a real blob carries.
      const plaintextBytes = Math.round((blobs[0]!.length - 200) * 0.75);
      const limit = aesLimit(plaintextBytes, n);
      const hibernate = hibernateMs / n;
      const resume = resumeMs / n;
      rows.push({
        size: size.label,
        bytes: size.bytes,
        blobBytes: blobs[0]!.length,
        hibernatePerSecond: round(1000 / hibernate, 1),
        resumePerSecond: round(1000 / resume, 1),
        limitSealPerSecond: round(1000 / limit.sealMs, 1),
        limitOpenPerSecond: round(1000 / limit.openMs, 1),
        hibernateRatio: round(hibernate / limit.sealMs, 2),
        resumeRatio: round(resume / limit.openMs, 2),
      });
    }
  } finally {
    await stasis.close();
  }
  return rows;
}

/** The blob as a resume request's body brings it: a flat string made by JSON.parse. */
function asRequestBrings(blob: string): string {
  return (JSON.parse(JSON.stringify({ blob })) as { blob: string }).blob;
}

/** AES-256-GCM + base64url of `bytes` bytes, both ways: the floor any sealed blob costs. */
function aesLimit(bytes: number, n: number): { sealMs: number; openMs: number } {
  const key = randomBytes(32);
  const plaintext = randomBytes(bytes);
  const aad = Buffer.from('eyJhbGciOiJkaXIifQ', 'ascii');
  let sealMs = 0;
  let openMs = 0;
  for (let i = 0; i < n + 3; i++) {
    const iv = randomBytes(12);
    const t0 = performance.now();
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
    const encoded = Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64url');
    const tag = cipher.getAuthTag();
    const t1 = performance.now();
    const decipher = createDecipheriv('aes-256-gcm', key, iv).setAAD(aad);
    decipher.setAuthTag(tag);
    Buffer.concat([decipher.update(Buffer.from(encoded, 'base64url')), decipher.final()]);
    const t2 = performance.now();
    if (i >= 3) {
      sealMs += t1 - t0;
      openMs += t2 - t1;
    }
  }
  return { sealMs: sealMs / n, openMs: openMs / n };
}

export interface ProofCostRow {
  size: string;
  blobBytes: number;
  /** Resume (verify the proof + the whole resume) of key-bound blobs, per request, ms. */
  withProof: Summary;
  /** Resume of cookie-bound blobs, no proof, ms. */
  withoutProof: Summary;
  /** verifyProof alone (ES256 verify + SHA-256 of the blob + thumbprint), ms. */
  verifyOnly: Summary;
  /** p50 with − p50 without, ms; the goal is ≤ 1. */
  addedP50Ms: number;
  /** p50 with / p50 without. */
  ratio: number;
}

/**
 * Key binding's cost on the server's resume: blobs sealed key-bound (a hibernate with a proof) resumed with a
 * proof (verifyProof, as the endpoint runs it, then the resume) against blobs sealed by the cookie only and
 * resumed without one, alternating one of each so drift hits both. The proofs are signed beforehand: signing
 * is the browser's cost (the custodian's WebCrypto), not the server's.
 */
export async function benchProofCost(options: { iterations: (bytes: number) => number }): Promise<ProofCostRow[]> {
  const stasis = await inProcessServer();
  const sessions = stasis.sessions;
  const key = makeProofKey();
  const kbt = jwkThumbprint(key.jwk);
  const htu = '/stasis/resume';
  const rows: ProofCostRow[] = [];
  try {
    for (const size of SIZES) {
      const n = options.iterations(size.bytes);
      // Every session has a browser (cookie) of its own, so the per-browser cap's scan costs the same both ways.
      const bound: Array<{ sid: string; blob: string; proof: string }> = [];
      const plain: Array<{ sid: string; blob: string; cookie: string }> = [];
      for (let i = 0; i < n + 3; i++) {
        for (const keyBound of [true, false]) {
          const sid = randomBytes(16).toString('base64url');
          const cookie = randomBytes(24).toString('base64url');
          const session = await sessions.connect(sid, channel, cookie);
          await sessions.deliver(session, { type: 'fill', bytes: size.bytes });
          const sealed = await sessions.hibernate(sid, cookie, keyBound ? { kbt } : {});
          // As a request body brings it (JSON.parse: a flat string). Without this the proof's hash at setup would
          // flatten only the key-bound blobs, and the cookie-bound ones would pay for it inside the timed resume.
          const blob = asRequestBrings(sealed.blob);
          if (keyBound) bound.push({ sid, blob, proof: makeProof(key, { htu, iat: Math.floor(Date.now() / 1000), blob }) });
          else plain.push({ sid, blob, cookie });
        }
      }
      const withProof: number[] = [];
      const withoutProof: number[] = [];
      const verifyOnly: number[] = [];
      const resumeBound = async (i: number) => {
        const b = bound[i]!;
        const t0 = performance.now();
        const checked = verifyProof(b.proof, { htu, nowSeconds: Math.floor(Date.now() / 1000), blob: b.blob });
        const t1 = performance.now();
        if (!('kbt' in checked)) throw new Error(`bench proof refused: ${checked.problem}`);
        // No cookie: the key alone binds it; the endpoint then makes a new cookie for the session, as here.
        await sessions.resume(b.sid, b.blob, randomBytes(24).toString('base64url'), checked);
        const t2 = performance.now();
        if (i >= 3) {
          verifyOnly.push(t1 - t0);
          withProof.push(t2 - t0);
        }
      };
      const resumePlain = async (i: number) => {
        const p = plain[i]!;
        const t0 = performance.now();
        await sessions.resume(p.sid, p.blob, p.cookie);
        const t1 = performance.now();
        if (i >= 3) withoutProof.push(t1 - t0);
      };
      // One of each in turn, the order swapped every time (GC and drift land on both); the first 3 warm the JIT.
      for (let i = 0; i < n + 3; i++) {
        if (i % 2 === 0) {
          await resumeBound(i);
          await resumePlain(i);
        } else {
          await resumePlain(i);
          await resumeBound(i);
        }
      }
      sessions.closeAll();
      const w = summarize(withProof);
      const wo = summarize(withoutProof);
      rows.push({
        size: size.label,
        blobBytes: bound[0]!.blob.length,
        withProof: w,
        withoutProof: wo,
        verifyOnly: summarize(verifyOnly),
        addedP50Ms: round(w.p50 - wo.p50),
        ratio: round(w.p50 / wo.p50, 2),
      });
    }
  } finally {
    await stasis.close();
  }
  return rows;
}
