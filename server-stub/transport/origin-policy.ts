import type { IncomingMessage } from 'node:http';

/**
 * Cross-origin requests are refused unless the origin is allowed. A request without an Origin header
 * (curl, a server-side client) is not a cross-origin browser request and passes; a browser request
 * passes when its Origin names this very host, or one of `allowed` (exact `scheme://host[:port]`).
 */
export function isOriginAllowed(req: IncomingMessage, allowed: readonly string[], trustProxy = false): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  // Behind a proxy that rewrites Host, the browser's host is in X-Forwarded-Host (first hop).
  const forwarded = trustProxy ? String(req.headers['x-forwarded-host'] ?? '').split(',')[0]?.trim() : '';
  const host = forwarded || req.headers.host;
  if (!host) return false;
  try {
    // host:port, case-insensitive, the scheme's default port omitted on both sides; the scheme itself is not
    // compared (behind a TLS-terminating proxy the server cannot know it).
    const page = new URL(origin);
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false; // "null" (sandboxed frames, file:) and garbage
  }
}
