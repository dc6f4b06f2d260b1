import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Nginx, nginxConfig } from '../../support/nginx.js';
import { RedisServer } from '../../support/redis-server.js';

// The real services behind the test helpers (installed by scripts/ensure-services.sh).

/** PING over a raw socket; resolves with the first reply line. */
function rawPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('PING timed out')));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.trimEnd());
      }
    });
    socket.once('error', reject);
  });
}

interface Backend {
  name: string;
  server: Server;
  port: number;
}

/** A tiny HTTP backend on loopback that answers with its name and what it was sent. */
async function backend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          name,
          method: req.method,
          url: req.url,
          host: req.headers.host,
          forwardedHost: req.headers['x-forwarded-host'],
          bodySize: size,
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { name, server, port: (server.address() as AddressInfo).port };
}

async function close(b: Backend | undefined): Promise<void> {
  if (!b?.server.listening) return;
  b.server.closeAllConnections();
  await new Promise<void>((resolve) => b.server.close(() => resolve()));
}

async function get(url: string): Promise<{ status: number; name: string }> {
  const response = await fetch(url);
  const body = (await response.json()) as { name: string };
  return { status: response.status, name: body.name };
}

describe('RedisServer (real redis-server)', () => {
  let redis: RedisServer | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  it('starts, answers PING, survives a kill + restart on the same port, and stops', async () => {
    redis = await RedisServer.start();
    const { port } = redis;
    expect(redis.running).toBe(true);
    expect(redis.url).toBe(`redis://127.0.0.1:${port}`);
    expect(await rawPing(port)).toBe('+PONG');

    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
    } finally {
      client.disconnect();
    }

    await redis.kill();
    expect(redis.running).toBe(false);
    await expect(rawPing(port)).rejects.toThrow();

    await redis.restart();
    expect(redis.running).toBe(true);
    expect(redis.port).toBe(port);
    expect(await rawPing(port)).toBe('+PONG');

    await redis.stop();
    expect(redis.running).toBe(false);
    await expect(rawPing(port)).rejects.toThrow();
  });
});

describe('Nginx (real nginx in front of two backends)', () => {
  let a: Backend | undefined;
  let b: Backend | undefined;
  let nginx: Nginx | undefined;
  afterAll(async () => {
    await nginx?.stop();
    await close(a);
    await close(b);
  });

  it('writes a round-robin config without stickiness, with retries on the other backend', () => {
    const conf = nginxConfig(8080, [1001, 1002], '/tmp/x');
    expect(conf).toContain('server 127.0.0.1:1001 max_fails=0;');
    expect(conf).toContain('server 127.0.0.1:1002 max_fails=0;');
    expect(conf).toContain('listen 127.0.0.1:8080;');
    expect(conf).toContain('proxy_next_upstream_tries 2;');
    expect(conf).not.toMatch(/ip_hash|\bhash\b|sticky/);
  });

  it('balances round-robin, proxies plain requests, and retries on B once A is gone', async () => {
    a = await backend('A');
    b = await backend('B');
    nginx = await Nginx.start({ upstreams: [a.port, b.port] });
    expect(nginx.url).toBe(`http://127.0.0.1:${nginx.port}`);

    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await get(`${nginx.url}/rr/${i}`);
      expect(answer.status).toBe(200);
      names.push(answer.name);
    }
    expect(names.slice().sort()).toEqual(['A', 'A', 'B', 'B']);
    for (let i = 1; i < names.length; i++) expect(names[i]).not.toBe(names[i - 1]);

    // A plain (non-WebSocket) POST with a body, and the Host headers passed through.
    const response = await fetch(`${nginx.url}/plain?x=1`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(response.status).toBe(200);
    const echoed = (await response.json()) as Record<string, unknown>;
    expect(echoed).toMatchObject({
      method: 'POST',
      url: '/plain?x=1',
      host: `127.0.0.1:${nginx.port}`,
      forwardedHost: `127.0.0.1:${nginx.port}`,
      bodySize: 100_000,
    });

    await close(a);
    for (let i = 0; i < 4; i++) {
      const answer = await get(`${nginx.url}/after/${i}`);
      expect(answer).toEqual({ status: 200, name: 'B' });
    }

    await nginx.stop();
    await expect(fetch(nginx.url)).rejects.toThrow();
  });
});
