import type { IncomingMessage } from 'node:http';

/**
 * Cross-origin requests are refused unless the origin is allowed. A request without an Origin header
 * (curl, a server-side client) is not a cross-origin browser request and passes; a browser request
 * passes when its Origin names this very host, or one of `allowed` (exact `scheme://host[:port]`).
 */
export function isOriginAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false; // "null" (sandboxed frames, file:) and garbage
  }
}
