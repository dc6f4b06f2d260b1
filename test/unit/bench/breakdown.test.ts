import { describe, expect, it } from 'vitest';
import { renderBreakdown, stagesOf, summarizeStages, type PageEvent, type WorkerEvent } from '../../../bench/breakdown.js';

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('bench breakdown', () => {
  it('splits a hide into stages that add up to its total, each on one clock', () => {
    const page: PageEvent[] = [
      { what: 'hidden', at: 100 },
      { what: 'post', at: 101, op: 'hibernate' },
      { what: 'apply', at: 101.1, op: 'hibernate' },
      { what: 'reply', at: 120, op: 'hibernate' },
      { what: 'hibernated', at: 120.5 },
    ];
    // The worker's clock starts elsewhere: only its differences are used.
    const worker: WorkerEvent[] = [
      { what: 'connect', at: 5000, hibernate: true },
      { what: 'sign', at: 5000.5, end: 5001 },
      { what: 'fetch', at: 5001.2, url: '/stasis/hibernate', bodyBytes: 80, headers: 5005, body: 5006, parsed: 5006.5, server: { body: 0.1, handler: 2 } },
      { what: 'tx', at: 5006.6, end: 5007, stores: 'pending', mode: 'readwrite', durability: 'default' },
      { what: 'tx', at: 5007, end: 5015, stores: 'blobs+pending', mode: 'readwrite', durability: 'strict' },
      { what: 'apply', at: 5001, op: 'hibernate' },
      { what: 'reply', at: 5015.5 },
    ];
    const run = stagesOf('hide → durable', { page, pageOrigin: NaN, worker: { events: worker, origin: NaN } });
    expect(run.total).toBe(20.5);
    expect(sum(run.stages)).toBeCloseTo(20.5, 9);
    expect(run.stages.get('IDB: write blob (strict commit)')).toBe(8);
    expect(run.stages.get('server: endpoint (parse, seal/open, stringify)')).toBeCloseTo(2, 9);
    expect(run.stages.get('page ⇄ worker: messages (both ways)')).toBeCloseTo(19 - 15.5, 9);
    const row = summarizeStages('hide → durable', '1 KB', 1024, [run, run]);
    expect(row.stages[0]?.stage).toBe('page: visibilitychange → call posted');
    expect(renderBreakdown([row]).join('\n')).toContain('| IDB: write blob (strict commit) | 8 / 8 |');
  });

  it('follows a show to the app state after the reconnect', () => {
    const page: PageEvent[] = [
      { what: 'visible', at: 10 },
      { what: 'post', at: 10.5, op: 'call' },
      { what: 'apply', at: 10.6, op: 'resume' },
      { what: 'reply', at: 20, op: 'resume' },
      { what: 'resumed', at: 20.2 },
      { what: 'ready', at: 20.3 },
      { what: 'ws', at: 20.3 },
      { what: 'open', at: 22 },
      { what: 'state', at: 23 },
    ];
    const worker: WorkerEvent[] = [
      { what: 'connect', at: 1, hibernate: false },
      { what: 'apply', at: 1.5, op: 'resume' },
      { what: 'tx', at: 1.6, end: 2, stores: 'pending', mode: 'readwrite', durability: 'default' },
      { what: 'tx', at: 2, end: 2.5, stores: 'blobs', mode: 'readonly', durability: 'default' },
      { what: 'reply', at: 8 },
    ];
    // Clocks 9.5 ms apart: the messaging is split by them, and still adds up.
    const run = stagesOf('show → restored', { page, pageOrigin: 1000, worker: { events: worker, origin: 1009.5 } });
    expect(run.total).toBe(13);
    expect(sum(run.stages)).toBeCloseTo(13, 9);
    expect(run.stages.get('page → worker: the call arriving (connect message, then its port)')).toBeCloseTo(1.5 + 9.5 - 10.5, 9);
    expect(run.stages.get('worker → page: the answer arriving on the port')).toBeCloseTo(20 - (8 + 9.5), 9);
    expect(run.stages.get('page: ready → WebSocket open')).toBeCloseTo(1.7, 9);
  });

  it('counts a transaction the worker does not wait for only until the next stage starts', () => {
    const page: PageEvent[] = [
      { what: 'visible', at: 0 },
      { what: 'post', at: 0, op: 'call' },
      { what: 'reply', at: 10, op: 'resume' },
      { what: 'ready', at: 10 },
      { what: 'open', at: 10 },
      { what: 'state', at: 10 },
    ];
    const worker: WorkerEvent[] = [
      { what: 'apply', at: 0, op: 'resume' },
      // the pending record's delete, under way while the blob is read (another store)
      { what: 'tx', at: 0, end: 6, stores: 'pending', mode: 'readwrite', durability: 'default' },
      { what: 'tx', at: 0.5, ready: 3, end: 9, stores: 'blobs', mode: 'readonly', durability: 'default' },
      // the used-up blob's delete, committed after the answer went out
      { what: 'tx', at: 8, end: 20, stores: 'blobs', mode: 'readwrite', durability: 'strict' },
      { what: 'reply', at: 8.5 },
    ];
    const run = stagesOf('show → restored', { page, pageOrigin: NaN, worker: { events: worker, origin: NaN } });
    expect(run.stages.get('IDB: drop pending record (readwrite)')).toBeCloseTo(0.5, 9);
    expect(run.stages.get('IDB: read blob')).toBeCloseTo(2.5, 9);
    expect(run.stages.get('IDB: delete blob (strict commit)')).toBeCloseTo(0.5, 9);
    expect(run.stages.get('worker: other (queue, checks, comlink, GC)')).toBeCloseTo(5, 9);
    expect(sum(run.stages)).toBeCloseTo(10, 9);
  });
});
