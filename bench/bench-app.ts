/**
 * The app the benchmarks run: one persisted text value of a chosen size, and a view message that says it
 * is in place. (The demo's state is a few hundred bytes; the benchmarks need 1 KB, 100 KB and 1 MB.)
 */
import { randomBytes } from 'node:crypto';
import type { StasisApp } from '../server-stub/session/session.js';

export type BenchMessage = { type: 'fill'; bytes: number };
export type BenchView = { type: 'state'; bytes: number; gen: number };

/** Incompressible text of exactly `bytes` characters (base64url of random bytes). */
export function payloadOf(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64url').slice(0, bytes);
}

const app: StasisApp = (session) => {
  const payload = session.persist('bench.payload', '');
  const view = () => session.send({ type: 'state', bytes: payload.get().length, gen: session.gen } satisfies BenchView);
  return {
    onConnect: view,
    onMessage(message) {
      const m = message as Partial<BenchMessage>;
      if (m.type === 'fill' && typeof m.bytes === 'number' && m.bytes >= 0 && m.bytes <= 8 * 1024 * 1024) {
        payload.set(payloadOf(m.bytes));
        view();
      }
    },
  };
};

export default app;
