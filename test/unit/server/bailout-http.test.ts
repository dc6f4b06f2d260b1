/**
 * The bail-out storm guard through the real HTTP endpoints: blobs sealed under a key this server does not
 * hold (a lost key after a bad deploy) fail as `unknown-key`; once most recent resumes failed, the answers
 * carry `quiet: true` (the page starts fresh without an error) and the metrics show the storm.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStasisServer, generateKeySpec, silentLogger, type StasisServer } from '../../../server-stub/index.js';
import { FakeChannel, listenOnLoopback, newBinding, newSid } from './helpers.js';

const app = (session: import('../../../server-stub/index.js').SessionContext) => {
  session.persist('n', 1);
};

describe('bail-out storm guard over HTTP', () => {
  let lost: StasisServer; // the deploy whose key went missing: it sealed the blobs
  let current: StasisServer;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    lost = await createStasisServer({ app, keys: generateKeySpec('old'), audience: 'storm', schema: 's', logger: silentLogger });
    current = await createStasisServer({
      app,
      keys: generateKeySpec('new'),
      audience: 'storm',
      schema: 's',
      logger: silentLogger,
      bailoutMinResumes: 4,
      bailoutFraction: 0.5,
      resumeFailuresPerMinute: 1000,
    });
    const listening = await listenOnLoopback(current);
    server = listening.server;
    base = `http://127.0.0.1:${listening.port}`;
  });

  afterAll(async () => {
    server.close();
    await Promise.all([lost.close(), current.close()]);
  });

  /** A blob of a new session, sealed by the server whose key is gone. */
  async function orphanedBlob(): Promise<{ sid: string; binding: string; blob: string }> {
    const sid = newSid();
    const binding = newBinding();
    await lost.sessions.connect(sid, new FakeChannel(), binding);
    const { blob } = await lost.sessions.hibernate(sid, binding);
    return { sid, binding, blob };
  }

  async function resume(item: { sid: string; binding: string; blob: string }) {
    const response = await fetch(`${base}/stasis/resume`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: `stasis_bid=${item.binding}` },
      body: JSON.stringify({ sid: item.sid, blob: item.blob }),
    });
    return { status: response.status, body: (await response.json()) as { outcome: string; quiet?: boolean } };
  }

  it('failures answer with their code; past the fraction they also say quiet, and the metrics show the storm', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await resume(await orphanedBlob()));
    expect(answers.map((a) => a.body.outcome)).toEqual(Array(6).fill('unknown-key'));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(400));
    // Under minResumes the guard stays off: the first three show the error as usual.
    expect(answers.slice(0, 3).map((a) => a.body.quiet)).toEqual([undefined, undefined, undefined]);
    expect(answers.slice(3).map((a) => a.body.quiet)).toEqual([true, true, true]);
    const metrics = await (await fetch(`${base}/stasis/metrics`)).text();
    expect(metrics).toContain('stasis_bailout_storm 1');
    expect(metrics).toContain('stasis_bailout_storms_total 1');
    expect(metrics).toContain('stasis_resumes_total{outcome="unknown-key"} 6');
  });

  it('successful resumes bring the fraction back down and the errors show again', async () => {
    const sid = newSid();
    const binding = newBinding();
    for (let i = 0; i < 8; i++) {
      await current.sessions.connect(sid, new FakeChannel(), binding);
      const { blob } = await current.sessions.hibernate(sid, binding);
      expect((await resume({ sid, binding, blob })).body.outcome).toBe('ok');
    }
    const failure = await resume(await orphanedBlob());
    expect(failure.body).toMatchObject({ outcome: 'unknown-key' });
    expect(failure.body.quiet).toBeUndefined();
    expect(await (await fetch(`${base}/stasis/metrics`)).text()).toContain('stasis_bailout_storm 0');
  });
});
