/**
 * What a bench client's connection delivers, read one message at a time with a deadline. Both clients that
 * receive over a socket use it (json-socket.ts for the floor, HMAC + Redis and Stasis; socket-io.ts).
 */
export class Inbox<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #end: (() => Error) | undefined;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** Nothing more will come: once the items are read, `next` rejects with `reason()`. */
  end(reason: () => Error): void {
    this.#end = reason;
    this.#wake?.();
  }

  /** The next item; rejects after `end`, or when nothing comes within `timeoutMs` (`what` names it). */
  async next(timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#items.length > 0) return this.#items.shift()!;
      if (this.#end) throw this.#end();
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
