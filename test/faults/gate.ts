/**
 * Lets the fault scheduler line resumes up (pages coming back together: a resume storm) and see them in flight,
 * so a Redis hang can start while resumes are inside the server, not between them. A hang that starts between
 * two requests only ever meets the first Redis call of the next one.
 */
export class ResumeGate {
  #closed: { promise: Promise<void>; open: () => void } | undefined;
  #answered = new Set<() => void>();
  waiting = 0;
  inFlight = 0;

  close(): void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.#closed ??= { promise, open };
  }

  open(): void {
    this.#closed?.open();
    this.#closed = undefined;
  }

  async pass(): Promise<void> {
    const closed = this.#closed;
    if (!closed) return;
    this.waiting++;
    await closed.promise;
    this.waiting--;
  }

  sent(): void {
    this.inFlight++;
  }

  answered(): void {
    this.inFlight--;
    for (const listener of this.#answered) listener();
  }

  /** Resolves at the next resume answer, or after `timeoutMs`. */
  nextAnswer(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#answered.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#answered.add(done);
    });
  }
}
