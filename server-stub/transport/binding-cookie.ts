import type { IncomingMessage } from 'node:http';
import { randomId } from '../random.js';

/**
 * The per-browser binding secret lives in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS). Blobs
 * carry its hash, so a blob copied into another browser does not resume there.
 */
export function readBindingCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{22,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function newBindingSecret(): string {
  return randomId(24);
}

/**
 * The Set-Cookie header value for a binding secret: Secure when the request came over TLS, directly or (with
 * `trustProxy`) through a proxy that says so in X-Forwarded-Proto.
 */
export function bindingCookieHeader(req: IncomingMessage, name: string, secret: string, trustProxy = false): string {
  const forwardedTls = trustProxy && String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https';
  const secure = (req.socket as { encrypted?: boolean }).encrypted || forwardedTls ? '; Secure' : '';
  return `${name}=${secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age=34560000${secure}`;
}

/**
 * The client's address for rate limits: the socket's, or with `trustProxy` the last X-Forwarded-For entry,
 * the one the trusted proxy added (behind a proxy every socket is the proxy's, and one limit would be shared
 * by all users; earlier entries come from the client and could be anything).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',').at(-1)?.trim() : '';
  return forwarded || req.socket?.remoteAddress || '?';
}
