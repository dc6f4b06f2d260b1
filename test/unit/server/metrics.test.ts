/** The Prometheus endpoint: counts by reason and outcome, blob sizes, and the token rule. */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createStasisServer, generateKeySpec, silentLogger, type StasisServerOptions } from '../../../server-stub/index.js';
import { resolveConfig } from '../../../server-stub/config.js';
import app from '../../../demo/app.js';
import { listenOnLoopback, newSid } from './helpers.js';

const servers: Array<{ close(): void }> = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function start(options: Partial<StasisServerOptions> = {}) {
  const stasis = await createStasisServer({ app, keys: generateKeySpec('m'), logger: silentLogger, ...options });
  const { server, port } = await listenOnLoopback(stasis);
  servers.push({ close: () => (stasis.close(), server.close()) });
  return { stasis, base: `http://127.0.0.1:${port}`, port };
}

async function liveSession(port: number, sid: string, cookie: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/stasis/live?sid=${sid}`, { headers: { cookie } });
  await new Promise((resolve) => ws.once('message', resolve));
  return ws;
}

describe('GET /stasis/metrics', () => {
  it('counts hibernations and resumes by outcome, and blob sizes, in the Prometheus text format', async () => {
    const { base, port } = await start();
    const cookie = 'stasis_bid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const sid = newSid();
    const ws = await liveSession(port, sid, cookie);
    const post = (route: string, body: unknown) =>
      fetch(`${base}/stasis/${route}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    const { blob } = (await post('hibernate', { sid })) as { blob: string };
    await post('hibernate', { sid: newSid() }); // no-session
    await post('resume', { sid, blob });
    await post('resume', { sid, blob }); // replayed
    ws.close();
    const response = await fetch(`${base}/stasis/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('stasis_hibernations_total{reason="request",outcome="ok"} 1');
    expect(text).toContain('stasis_hibernations_total{reason="request",outcome="no-session"} 1');
    expect(text).toContain('stasis_resumes_total{outcome="ok"} 1');
    expect(text).toContain('stasis_resumes_total{outcome="replayed"} 1');
    expect(text).toMatch(/stasis_blob_bytes_count 1\n/);
    expect(text).toContain('stasis_blob_bytes_bucket{le="+Inf"} 1');
    expect(text).toMatch(/stasis_live_sessions 1\n/);
  });

  it('requires the bearer token when one is set, and production refuses to start without one', async () => {
    const { base } = await start({ metricsToken: 's3cret-token' });
    expect((await fetch(`${base}/stasis/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/stasis/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/stasis/metrics`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect(() => resolveConfig({ app }, { NODE_ENV: 'production' })).toThrow(/STASIS_METRICS_TOKEN/);
    expect(resolveConfig({ app }, { NODE_ENV: 'production', STASIS_METRICS_TOKEN: 't' }).metricsToken).toBe('t');
  });
});
