import { describe, expect, it } from 'vitest';
import { StasisError } from '../../../../server-stub/errors.js';
import { Metrics } from '../../../../server-stub/metrics.js';
import { MemoryStore } from '../../../../server-stub/store/memory-store.js';
import type { StoredBlob } from '../../../../server-stub/store/session-store.js';
import { StoreChain, type StoreObserver } from '../../../../server-stub/store/store-chain.js';
import { blobOf, capturingLogger, Clock, settleOrHang, SwitchableStore, throwingStore } from './store-helpers.js';

const GAUGES = { live: 0, hibernated: 0, draining: false };

/** The metric lines of `metrics` that start with `prefix`. */
const lines = (metrics: Metrics, prefix: string) =>
  metrics
    .render(GAUGES)
    .split('\n')
    .filter((line) => line.startsWith(prefix));

async function rejection(promise: Promise<unknown>): Promise<StasisError> {
  try {
    await promise;
  } catch (error) {
    return error as StasisError;
  }
  throw new Error('expected a rejection');
}

/** A recording observer. */
function recorder(): StoreObserver & { ops: string[]; breakers: string[] } {
  const ops: string[] = [];
  const breakers: string[] = [];
  return {
    ops,
    breakers,
    operation: (store, operation, result) => void ops.push(`${store} ${operation} ${result}`),
    breaker: (store, state) => void breakers.push(`${store} ${state}`),
  };
}

describe('StoreChain', () => {
  describe('shape', () => {
    it('names, isEmpty and breakerStates', () => {
      const chain = new StoreChain([new MemoryStore(), new SwitchableStore('other')]);
      expect(chain.names).toEqual(['memory', 'other']);
      expect(chain.isEmpty).toBe(false);
      expect(chain.breakerStates()).toEqual({ memory: 'closed', other: 'closed' });
      expect(new StoreChain([]).isEmpty).toBe(true);
      expect(new StoreChain([]).names).toEqual([]);
    });

    it('reports every breaker as closed to the observer at construction', () => {
      const observer = recorder();
      new StoreChain([new MemoryStore(), new SwitchableStore('other')], {}, observer);
      expect(observer.breakers).toEqual(['memory closed', 'other closed']);
      expect(observer.ops).toEqual([]);
    });

    it('an empty chain: put fails unavailable (no store configured), take answers undefined, delete is fine', async () => {
      const chain = new StoreChain([]);
      const error = await rejection(chain.put('s', blobOf()));
      expect(error).toBeInstanceOf(StasisError);
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/no store configured/);
      expect(await chain.take('s')).toBeUndefined();
      await chain.delete('s');
      await chain.close();
    });
  });

  describe('put', () => {
    it('writes to every store and answers the names that took it', async () => {
      const memory = new MemoryStore();
      const other = new SwitchableStore('other');
      const chain = new StoreChain([memory, other]);
      const entry = blobOf({ gen: 4 });
      expect(await chain.put('s', entry)).toEqual(['memory', 'other']);
      expect(await memory.peek('s')).toEqual(entry);
      expect(other.entries.get('s')).toEqual(entry);
    });

    it('succeeds when only some stores take it', async () => {
      const memory = new MemoryStore();
      const down = new SwitchableStore('down');
      down.mode = 'fail';
      const chain = new StoreChain([down, memory]);
      expect(await chain.put('s', blobOf())).toEqual(['memory']);
      expect(await memory.peek('s')).toBeDefined();
    });

    it('fails unavailable only when no store took it, with every reason', async () => {
      const a = new SwitchableStore('a');
      const b = new SwitchableStore('b');
      a.mode = b.mode = 'fail';
      const chain = new StoreChain([a, b]);
      const error = await rejection(chain.put('s', blobOf()));
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/No session store answered/);
      expect(error.message).toContain('a is down');
      expect(error.message).toContain('b is down');
    });

    it('a store whose methods throw synchronously is contained like one that rejects', async () => {
      const chain = new StoreChain([throwingStore('sync'), new MemoryStore()]);
      expect(await chain.put('s', blobOf())).toEqual(['memory']);
      expect(await chain.take('s')).toBeDefined();
    });

    it('a hung store costs the timeout, then the put succeeds through the others', async () => {
      const hung = new SwitchableStore('hung');
      hung.mode = 'hang';
      const memory = new MemoryStore();
      const chain = new StoreChain([memory, hung], { timeoutMs: 30 });
      const put = await settleOrHang(chain.put('s', blobOf()), 5_000);
      expect(put).toEqual({ ok: true, value: ['memory'] });
      const take = await settleOrHang(chain.take('s'), 5_000);
      expect(take).toMatchObject({ ok: true, value: { gen: 1 } });
      // Nothing anywhere and the hung store could not answer: unavailable, not undefined.
      const miss = await settleOrHang(chain.take('s'), 5_000);
      expect(miss).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    });
  });

  describe('take', () => {
    async function chainOf(...entries: Array<StoredBlob | undefined>) {
      const stores = entries.map((_, i) => new SwitchableStore(`s${i}`));
      entries.forEach((entry, i) => entry && stores[i]!.entries.set('sid', entry));
      return { stores, chain: new StoreChain(stores) };
    }

    it('answers undefined when no store has the sid', async () => {
      const { chain } = await chainOf(undefined, undefined);
      expect(await chain.take('sid')).toBeUndefined();
    });

    it('returns the highest generation, wherever it is, and removes every copy', async () => {
      const exp = Math.floor(Date.now() / 1000) + 100;
      const { chain, stores } = await chainOf(
        { blob: 'g2', gen: 2, exp: exp + 50 },
        { blob: 'g5', gen: 5, exp },
        { blob: 'g3', gen: 3, exp: exp + 99 },
      );
      expect((await chain.take('sid'))?.blob).toBe('g5');
      for (const store of stores) expect(store.entries.has('sid')).toBe(false);
      expect(await chain.take('sid')).toBeUndefined();
    });

    it('on equal generations returns the later exp', async () => {
      const exp = Math.floor(Date.now() / 1000) + 100;
      const first = await chainOf({ blob: 'early', gen: 4, exp }, { blob: 'late', gen: 4, exp: exp + 1 });
      expect((await first.chain.take('sid'))?.blob).toBe('late');
      const second = await chainOf({ blob: 'late', gen: 4, exp: exp + 1 }, { blob: 'early', gen: 4, exp });
      expect((await second.chain.take('sid'))?.blob).toBe('late');
    });

    it('a failing store is skipped when another store has the blob', async () => {
      const exp = Math.floor(Date.now() / 1000) + 100;
      const { chain, stores } = await chainOf({ blob: 'here', gen: 1, exp }, undefined);
      stores[1]!.mode = 'fail';
      expect((await chain.take('sid'))?.blob).toBe('here');
    });

    it('a failing store might have had a newer copy: the newest found is still returned', async () => {
      const exp = Math.floor(Date.now() / 1000) + 100;
      const { chain, stores } = await chainOf({ blob: 'old', gen: 1, exp }, { blob: 'new', gen: 9, exp });
      stores[1]!.mode = 'fail';
      expect((await chain.take('sid'))?.blob).toBe('old');
      stores[1]!.mode = 'ok';
      expect((await chain.take('sid'))?.blob).toBe('new'); // the copy stayed where it was
    });

    it('throws unavailable only when nothing was found and some store failed', async () => {
      const { chain, stores } = await chainOf(undefined, undefined);
      stores[0]!.mode = 'fail';
      const error = await rejection(chain.take('sid'));
      expect(error).toBeInstanceOf(StasisError);
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('s0 is down');
    });
  });

  describe('delete and close', () => {
    it('delete removes the sid from every store and ignores failures', async () => {
      const memory = new MemoryStore();
      const other = new SwitchableStore('other');
      const down = new SwitchableStore('down');
      const chain = new StoreChain([memory, other, down]);
      await chain.put('s', blobOf());
      down.mode = 'fail';
      await chain.delete('s');
      expect(await memory.peek('s')).toBeUndefined();
      expect(other.entries.has('s')).toBe(false);
      expect(down.entries.has('s')).toBe(true); // it could not be asked
    });

    it('close closes every store that can be closed and swallows their failures', async () => {
      const closed: string[] = [];
      const a = Object.assign(new SwitchableStore('a'), { close: async () => void closed.push('a') });
      const b = Object.assign(new SwitchableStore('b'), {
        close: async () => {
          closed.push('b');
          throw new Error('close failed');
        },
      });
      const chain = new StoreChain([a, b, new MemoryStore()]);
      await chain.close();
      expect(closed.sort()).toEqual(['a', 'b']);
    });
  });

  describe('observer', () => {
    it('gets one operation() per store and call with its result', async () => {
      const observer = recorder();
      const down = new SwitchableStore('down');
      down.mode = 'fail';
      const chain = new StoreChain([new MemoryStore(), down], { failureThreshold: 100 }, observer);
      await chain.put('s', blobOf());
      await chain.take('s');
      await chain.delete('s');
      expect(observer.ops).toEqual([
        'memory put ok',
        'down put error',
        'memory take ok',
        'down take error',
        'memory delete ok',
        'down delete error',
      ]);
    });

    it('Metrics as the observer: operation counters and breaker gauges', async () => {
      const metrics = new Metrics();
      const chain = new StoreChain([new MemoryStore()], {}, metrics);
      expect(lines(metrics, 'stasis_store_breaker_state{')).toEqual(['stasis_store_breaker_state{store="memory",state="closed"} 0']);
      await chain.put('s', blobOf());
      const text = metrics.render(GAUGES);
      expect(text).toContain('stasis_store_operations_total{store="memory",operation="put",result="ok"} 1');
      expect(text).toContain('stasis_store_breaker_state{store="memory",state="closed"} 0');
      expect(text).toContain('# TYPE stasis_store_breaker_state gauge');
      expect(lines(metrics, 'stasis_store_breaker_opened_total{')).toEqual([]);
      await chain.put('t', blobOf());
      await chain.take('s');
      await chain.take('nothing');
      expect(lines(metrics, 'stasis_store_operations_total{')).toEqual([
        'stasis_store_operations_total{store="memory",operation="put",result="ok"} 2',
        'stasis_store_operations_total{store="memory",operation="take",result="ok"} 2',
      ]);
    });
  });

  describe('[memory, failing store]: the breaker opens, then recovers through a half-open probe', () => {
    it('walks closed → open → half-open → open → half-open → closed with metrics and logs', async () => {
      const clock = new Clock();
      const metrics = new Metrics();
      const logger = capturingLogger();
      const memory = new MemoryStore({ now: clock.now });
      const flaky = new SwitchableStore('flaky');
      flaky.mode = 'fail';
      const chain = new StoreChain([memory, flaky], { failureThreshold: 3, openMs: 5_000, timeoutMs: 200, now: clock.now }, metrics, logger);
      const entry = () => blobOf({}, clock.ms);

      // Below the threshold: every call reaches the failing store; puts still succeed via memory.
      for (let i = 0; i < 2; i++) expect(await chain.put(`a${i}`, entry())).toEqual(['memory']);
      expect(flaky.calls).toBe(2);
      expect(chain.breakerStates()).toEqual({ memory: 'closed', flaky: 'closed' });

      // The threshold-th failure opens it.
      expect(await chain.put('a2', entry())).toEqual(['memory']);
      expect(flaky.calls).toBe(3);
      expect(chain.breakerStates()).toEqual({ memory: 'closed', flaky: 'open' });
      expect(lines(metrics, 'stasis_store_breaker_state{')).toEqual([
        'stasis_store_breaker_state{store="memory",state="closed"} 0',
        'stasis_store_breaker_state{store="flaky",state="open"} 2',
      ]);
      expect(lines(metrics, 'stasis_store_breaker_opened_total{')).toEqual(['stasis_store_breaker_opened_total{store="flaky"} 1']);
      expect(logger.at('error')).toEqual(['store flaky: circuit open']);

      // Open: the store is not called at all, memory still serves everything.
      for (let i = 0; i < 5; i++) expect(await chain.put(`b${i}`, entry())).toEqual(['memory']);
      expect((await chain.take('a0'))?.blob).toBeDefined();
      await chain.delete('a1');
      expect(flaky.calls).toBe(3);
      // A miss while the breaker is open: nothing found and a store could not be asked → unavailable.
      await expect(chain.take('never-put')).rejects.toMatchObject({ code: 'unavailable' });

      // After openMs one probe goes through; the store is still down → open again (a second opening).
      clock.advance(5_000);
      expect(chain.breakerStates().flaky).toBe('half-open');
      expect(await chain.put('c0', entry())).toEqual(['memory']);
      expect(flaky.calls).toBe(4);
      expect(chain.breakerStates().flaky).toBe('open');
      expect(lines(metrics, 'stasis_store_breaker_opened_total{')).toEqual(['stasis_store_breaker_opened_total{store="flaky"} 2']);
      expect(logger.at('error')).toEqual(['store flaky: circuit open', 'store flaky: circuit open']);
      expect(logger.at('info')).toEqual(['store flaky: circuit half-open']);

      // The store recovers; after the next window the probe succeeds and the breaker closes.
      flaky.mode = 'ok';
      clock.advance(4_999);
      expect(await chain.put('c1', entry())).toEqual(['memory']);
      expect(flaky.calls).toBe(4);
      clock.advance(1);
      expect(await chain.put('c2', entry())).toEqual(['memory', 'flaky']);
      expect(flaky.calls).toBe(5);
      expect(chain.breakerStates()).toEqual({ memory: 'closed', flaky: 'closed' });
      expect(logger.at('info')).toEqual(['store flaky: circuit half-open', 'store flaky: circuit half-open', 'store flaky: circuit closed']);
      expect(lines(metrics, 'stasis_store_breaker_state{')).toEqual([
        'stasis_store_breaker_state{store="memory",state="closed"} 0',
        'stasis_store_breaker_state{store="flaky",state="closed"} 0',
      ]);

      // Closed: both stores get every call again.
      expect(await chain.put('d0', entry())).toEqual(['memory', 'flaky']);
      expect((await chain.take('d0'))?.blob).toBeDefined();
      expect(flaky.entries.has('d0')).toBe(false);
      expect(await memory.peek('d0')).toBeUndefined();

      const ops = lines(metrics, 'stasis_store_operations_total{');
      expect(ops).toContain('stasis_store_operations_total{store="memory",operation="put",result="ok"} 12');
      expect(ops).toContain('stasis_store_operations_total{store="flaky",operation="put",result="error"} 10');
      expect(ops).toContain('stasis_store_operations_total{store="flaky",operation="put",result="ok"} 2');
      expect(ops).toContain('stasis_store_operations_total{store="flaky",operation="take",result="error"} 2');
      expect(ops).toContain('stasis_store_operations_total{store="flaky",operation="take",result="ok"} 1');
      expect(ops).toContain('stasis_store_operations_total{store="flaky",operation="delete",result="error"} 1');
    });

    it('the gauge shows half-open (1) while the probe is out', async () => {
      const clock = new Clock();
      const metrics = new Metrics();
      const flaky = new SwitchableStore('flaky');
      flaky.mode = 'fail';
      const chain = new StoreChain([new MemoryStore({ now: clock.now }), flaky], { failureThreshold: 1, openMs: 100, timeoutMs: 30, now: clock.now }, metrics);
      await chain.put('a', blobOf({}, clock.ms));
      clock.advance(100);
      flaky.mode = 'hang';
      const pending = chain.put('b', blobOf({}, clock.ms)); // the probe, hanging
      await Promise.resolve();
      expect(lines(metrics, 'stasis_store_breaker_state{store="flaky"')).toEqual(['stasis_store_breaker_state{store="flaky",state="half-open"} 1']);
      flaky.mode = 'ok';
      // The timeout ends the hung probe: open again.
      expect(await pending).toEqual(['memory']);
      expect(lines(metrics, 'stasis_store_breaker_state{store="flaky"')).toEqual(['stasis_store_breaker_state{store="flaky",state="open"} 2']);
    });
  });
});

describe('StoreChain evictions', () => {
  it('reports what the bounded memory store pushed out, and the metrics export it by store', async () => {
    const memory = new MemoryStore({ maxEntries: 2 });
    const chain = new StoreChain([memory, new SwitchableStore('redis')], {});
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const sid of ['a', 'b', 'c', 'd']) await chain.put(sid, { blob: `blob-${sid}`, gen: 1, exp });
    expect(chain.evictions()).toEqual({ memory: 2 });
    const text = new Metrics().render({ live: 0, hibernated: 0, draining: false, evictions: chain.evictions() });
    expect(text).toContain('stasis_store_evictions_total{store="memory"} 2');
    expect(text).not.toContain('stasis_store_evictions_total{store="redis"}');
  });
});
