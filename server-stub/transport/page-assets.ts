import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAGE_ASSETS } from '../../src/protocol/index.js';

/** The page bundles, their source maps and the banner's stylesheet, by the name they are served under. */
const SERVED: ReadonlyMap<string, string> = new Map(
  PAGE_ASSETS.flatMap((name): Array<[string, string]> =>
    name.endsWith('.css')
      ? [[name, 'text/css; charset=utf-8']]
      : [
          [name, 'text/javascript; charset=utf-8'],
          [`${name}.map`, 'application/json; charset=utf-8'],
        ],
  ),
);

/**
 * Finds the built page bundles: the folder holding stasis-sw.js next to or above this module (the package's
 * dist/ when installed; the repository's dist/ when run from source).
 */
export function defaultAssetsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [dir, join(dir, 'dist')]) if (existsSync(join(candidate, 'stasis-sw.js'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * Serves the page bundles below the base path (`/stasis/stasis.js`), so the whole page side is one tag.
 * The service worker gets `Service-Worker-Allowed: /`, so a page may register it for the whole site from
 * under the base path. Bundles are revalidated on every load (ETag), so a deploy reaches pages at once.
 * Resolves false for any other name, and for every name when `dir` is undefined.
 */
export function createAssetHandler(dir: string | undefined) {
  return async function serveAsset(name: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const type = SERVED.get(name);
    if (!type || !dir || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const file = join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return false;
    const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
    const headers: Record<string, string | number> = {
      'Content-Type': type,
      'Cache-Control': 'no-cache',
      ETag: etag,
      'X-Content-Type-Options': 'nosniff',
      ...(name === 'stasis-sw.js' ? { 'Service-Worker-Allowed': '/' } : {}),
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'Content-Length': info.size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  };
}
