import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.webmanifest': 'application/manifest+json',
};

export interface StaticRoot {
  dir: string;
  /** When false only files directly inside `dir` are served (e.g. the bundles in dist/, not dist/server/). */
  recursive: boolean;
}

/** A small static file handler for the CLI and the demo: GET/HEAD, known types only, no traversal. */
export function createStaticHandler(roots: StaticRoot[]) {
  return async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return false;
    }
    if (path.endsWith('/')) path += 'index.html';
    const relative = normalize(path).replace(/^([/\\])+/, '');
    if (relative.startsWith('..') || relative.includes('\0')) return false;
    const type = TYPES[extname(relative)];
    if (!type) return false;
    for (const root of roots) {
      if (!root.recursive && relative.includes(sep)) continue;
      const file = join(root.dir, relative);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': info.size,
        // Bundles change with every build; the service worker script must never be stale.
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
      return true;
    }
    return false;
  };
}
