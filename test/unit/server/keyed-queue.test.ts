import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../../src/concurrency/keyed-queue.js';

/** A promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask (and the chains' clean-up) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedQueue', () => {
  it('runs the tasks of one key one after another, in call order', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((gate, i) =>
      queue.run('a', async () => {
        log.push(`start ${i}`);
        await gate.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    expect(log).toEqual(['start 0']);
    // Finishing them out of order changes nothing: the second starts only once the first has settled.
    gates[2]!.resolve();
    gates[1]!.resolve();
    await settle();
    expect(log).toEqual(['start 0']);
    gates[0]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('never starts a task in the call that queues it', async () => {
    const queue = new KeyedQueue();
    let started = false;
    const run = queue.run('a', async () => {
      started = true;
    });
    expect(started).toBe(false);
    await run;
    expect(started).toBe(true);
  });

  it('does not make keys wait for each other', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const log: string[] = [];
    const a = queue.run('a', async () => {
      await gate.promise;
      log.push('a');
    });
    const b = queue.run('b', async () => {
      log.push('b');
      return 'b done';
    });
    expect(await b).toBe('b done');
    expect(log).toEqual(['b']);
    await settle();
    expect(queue.size).toBe(1); // b drained; a still runs
    gate.resolve();
    await a;
    expect(log).toEqual(['b', 'a']);
  });

  it('hands a failure to its own caller only; the next task of the key still runs', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const failing = queue.run('a', async () => {
      await gate.promise;
      throw new Error('boom');
    });
    const throwingAtOnce = queue.run('a', () => {
      throw new Error('sync boom');
    });
    const next = queue.run('a', async () => 'next ran');
    gate.resolve();
    await expect(failing).rejects.toThrow('boom');
    await expect(throwingAtOnce).rejects.toThrow('sync boom');
    expect(await next).toBe('next ran');
  });

  it('starts a task only after a failed one before it has settled', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const log: string[] = [];
    const failing = queue.run('a', async () => {
      await gate.promise;
      log.push('failed');
      throw new Error('boom');
    });
    const next = queue.run('a', async () => {
      log.push('next');
    });
    await settle();
    expect(log).toEqual([]);
    gate.resolve();
    await expect(failing).rejects.toThrow('boom');
    await next;
    expect(log).toEqual(['failed', 'next']);
  });

  it('deletes a key once its chain drains, and only then', async () => {
    const queue = new KeyedQueue();
    expect(queue.size).toBe(0);
    const gate = deferred();
    const first = queue.run('a', () => gate.promise);
    const second = queue.run('a', async () => undefined);
    const other = queue.run('b', async () => {
      throw new Error('boom');
    });
    expect(queue.size).toBe(2);
    await expect(other).rejects.toThrow('boom');
    await settle();
    expect(queue.size).toBe(1); // b drained (after a failure too); a still waits on its first task
    gate.resolve();
    await first;
    // A task queued while the chain runs keeps the key: it is deleted only after the last one.
    const third = queue.run('a', async () => undefined);
    await Promise.all([second, third]);
    await settle();
    expect(queue.size).toBe(0);
    // The key is reused afresh afterwards.
    expect(await queue.run('a', async () => 'again')).toBe('again');
    await settle();
    expect(queue.size).toBe(0);
  });
});
