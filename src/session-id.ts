/**
 * The tab's session id lives in sessionStorage: it survives a reload and a discarded tab, and a new tab
 * gets a new one. Falls back to memory where storage is blocked.
 */
import { isSid } from './protocol/index.js';

export class SessionIdStore {
  #memory: string | undefined;

  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  /** The id this tab already had (reload, discarded tab, duplicated tab), if any. */
  stored(): string | undefined {
    return this.#read();
  }

  /** A fresh id (after a failed resume, so two tabs never share one). */
  renew(): string {
    return this.set(newSessionId());
  }

  /** Makes `sid` this tab's id (an adopted orphan). */
  set(sid: string): string {
    this.#memory = sid;
    try {
      sessionStorage.setItem(this.#key, sid);
    } catch {
      // private mode or blocked storage: memory only
    }
    return sid;
  }

  #read(): string | undefined {
    // After renew() the new id wins, even if storage refused to save it and still holds the old one.
    if (this.#memory) return this.#memory;
    try {
      const value = sessionStorage.getItem(this.#key);
      if (isSid(value)) return value;
    } catch {
      // fall through to memory
    }
    return this.#memory;
  }
}

/** 128 random bits, base64url (22 characters). */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
