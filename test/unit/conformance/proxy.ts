/**
 * An HTTP and WebSocket proxy in front of the reference server that rewrites what passes through it: the
 * deliberately wrong servers of the mutation test, built without touching server-stub. WebSocket upgrades are
 * piped as raw bytes after the 101's header block (which a rule may rewrite).
 */
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxyRules {
  /** Answers in place of the server (return true when it did). */
  intercept?(req: IncomingMessage, res: ServerResponse): boolean;
  /** Rewrites a request body before it is forwarded. */
  request?(path: string, body: Buffer): Buffer;
  /** Rewrites an answer before it is returned. */
  response?(path: string, reply: Reply): Reply;
  /** Rewrites the header block of an upgrade's answer (the 101), CRLF-separated, without the blank line. */
  upgradeHead?(head: string): string;
}

export interface Proxy {
  base: string;
  close(): Promise<void>;
}

export async function startProxy(upstreamPort: number, basePath: string, rules: ProxyRules = {}): Promise<Proxy> {
  const sockets = new Set<Socket | Duplex>();
  const server: Server = createServer((req, res) => {
    if (rules.intercept?.(req, res)) return;
    const path = req.url ?? '/';
    const forward = (headers: IncomingHttpHeaders) =>
      request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path, headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          let reply: Reply = { status: answer.statusCode ?? 502, headers: { ...answer.headers }, body: Buffer.concat(parts) };
          if (rules.response) reply = rules.response(path, reply);
          const out = { ...reply.headers, 'content-length': String(reply.body.length) };
          delete out['transfer-encoding'];
          delete out.connection;
          res.writeHead(reply.status, out).end(reply.body);
        });
      }).on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
      });
    if (!rules.request) {
      // Streamed as it comes: a server that answers from the headers alone must get them at once.
      const upstream = forward(req.headers);
      upstream.flushHeaders();
      req.pipe(upstream);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length ? rules.request!(path, Buffer.concat(chunks)) : Buffer.alloc(0);
      forward({ ...req.headers, ...(body.length ? { 'content-length': String(body.length) } : {}) }).end(body);
    });
  });
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client);
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(upstream);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    let pending = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      upstream.off('data', onHead);
      const block = pending.subarray(0, end).toString('latin1');
      client.write(`${rules.upgradeHead ? rules.upgradeHead(block) : block}\r\n\r\n`);
      client.write(pending.subarray(end + 4));
      upstream.pipe(client);
      client.pipe(upstream);
    };
    upstream.on('data', onHead);
    const drop = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', drop);
    client.on('error', drop);
    upstream.on('close', drop);
    client.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}${basePath}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The JSON body of a reply, or undefined. */
export function replyJson(reply: Reply): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(reply.body.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
