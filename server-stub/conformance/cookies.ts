/** Reading the binding cookie out of Set-Cookie lines. */

export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names in lower case → their value ('' for flags). */
  attributes: Map<string, string>;
  line: string;
}

export function parseSetCookie(line: string): SetCookie | undefined {
  const [pair, ...rest] = line.split(';');
  const eq = pair?.indexOf('=') ?? -1;
  if (!pair || eq <= 0) return undefined;
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const at = part.indexOf('=');
    const name = (at < 0 ? part : part.slice(0, at)).trim().toLowerCase();
    if (name) attributes.set(name, at < 0 ? '' : part.slice(at + 1).trim());
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, line };
}

/** The Set-Cookie of the binding cookie among `lines`, if any. */
export function findCookie(lines: readonly string[], name: string): SetCookie | undefined {
  for (const line of lines) {
    const cookie = parseSetCookie(line);
    if (cookie?.name === name) return cookie;
  }
  return undefined;
}

/** The protocol's alphabet and length of a binding cookie value (other values count as no cookie). */
export const COOKIE_VALUE = /^[A-Za-z0-9_-]{22,128}$/;

/** True when a cookie Path attribute covers `basePath` (the endpoints and the live channel). */
export function pathCovers(path: string, basePath: string): boolean {
  if (!path.startsWith('/')) return false;
  if (path === '/' || path === basePath) return true;
  const prefix = path.replace(/\/$/, '');
  return basePath === prefix || basePath.startsWith(`${prefix}/`);
}
