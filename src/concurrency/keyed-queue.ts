/**
 * Runs tasks one after another per key (a session id), in call order: a task starts once every earlier task
 * of its key has settled, whether it succeeded or failed (a failure is its caller's, it never blocks the next
 * task). Tasks of different keys do not wait for each other. A key's entry is deleted once its chain drains,
 * so the map holds only keys with work queued or running.
 *
 * Shared by the server's session manager (connects and resumes of one sid) and the service worker's
 * custodian (hibernates, stores and resumes of one sid): no imports, so either bundle can take it.
 */
export class KeyedQueue {
  /** Per key, the last task queued, settled either way (never rejects). */
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const result = before.then(() => task());
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once no task of any key is queued or running (tasks queued meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  /** Keys with a task queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}
