/**
 * Counters for operations, rendered in the Prometheus text format at GET {basePath}/metrics.
 * Labels are bounded (reasons and outcome codes), so the series count stays small.
 */
import type { BreakerState } from './store/circuit-breaker.js';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
const BLOB_BUCKETS = [1024, 10 * 1024, 100 * 1024, 1024 * 1024, 5 * 1024 * 1024];

export class Metrics {
  readonly #hibernations = new Map<string, number>();
  readonly #resumes = new Map<string, number>();
  readonly #aborted = new Map<string, number>();
  readonly #blobBuckets = BLOB_BUCKETS.map(() => 0);
  #blobCount = 0;
  #blobSum = 0;
  #lastDrainSeconds: number | undefined;
  readonly #retired = new Map<string, number>();
  readonly #recovered = new Map<string, number>();
  readonly #handovers = new Map<string, number>();
  readonly #storeOps = new Map<string, number>();
  readonly #breakers = new Map<string, BreakerState>();
  readonly #breakerOpened = new Map<string, number>();
  #storm = false;
  #storms = 0;

  /** A blob was sealed for a page: `reason` is request (the page asked), drain, idle or checkpoint. */
  hibernation(reason: 'request' | 'drain' | 'idle' | 'checkpoint', outcome: string, blobBytes?: number): void {
    const key = `${reason}|${outcome}`;
    this.#hibernations.set(key, (this.#hibernations.get(key) ?? 0) + 1);
    if (blobBytes === undefined) return;
    this.#blobCount++;
    this.#blobSum += blobBytes;
    BLOB_BUCKETS.forEach((le, i) => {
      if (blobBytes <= le) this.#blobBuckets[i]!++;
    });
  }

  resume(outcome: string): void {
    this.#resumes.set(outcome, (this.#resumes.get(outcome) ?? 0) + 1);
  }

  /**
   * A request whose client went away before its body ended (closed or reset the connection), by route
   * (`resume`, `hibernate`, `failover`). Not a resume or hibernation outcome: nothing was attempted.
   */
  aborted(route: string): void {
    bump(this.#aborted, route);
  }

  drained(seconds: number): void {
    this.#lastDrainSeconds = seconds;
  }

  checkpoint(outcome: string, blobBytes?: number): void {
    this.hibernation('checkpoint', outcome, blobBytes);
  }

  /** A session whose channel dropped, at the end of its retention window: stored, dropped (no store) or lost. */
  retired(result: 'stored' | 'dropped' | 'lost'): void {
    bump(this.#retired, result);
  }

  /** A session restored from another instance (`fleet`) or the server stores (`store`). */
  recovered(from: 'fleet' | 'store', outcome: string): void {
    bump(this.#recovered, `${from}|${outcome}`);
  }

  /** A handover asked of another instance: `gone` when it no longer listens (it died). */
  handover(purpose: 'hibernate' | 'takeover' | 'probe', outcome: string): void {
    bump(this.#handovers, `${purpose}|${outcome}`);
  }

  /** StoreObserver: one store operation. */
  operation(store: string, operation: string, result: 'ok' | 'error'): void {
    bump(this.#storeOps, `${store}|${operation}|${result}`);
  }

  /** StoreObserver: a store's circuit breaker changed state. */
  breaker(store: string, state: BreakerState): void {
    this.#breakers.set(store, state);
    if (state === 'open') bump(this.#breakerOpened, store);
  }

  /** The bail-out storm guard turned on (true) or off. */
  storm(active: boolean): void {
    this.#storm = active;
    if (active) this.#storms++;
  }

  /** `evictions`: entries each bounded store pushed out so far (from the stores themselves). */
  render(gauges: { live: number; hibernated: number; draining: boolean; evictions?: Record<string, number> }): string {
    const lines = [
      '# HELP stasis_live_sessions Sessions held in memory.',
      '# TYPE stasis_live_sessions gauge',
      `stasis_live_sessions ${gauges.live}`,
      '# HELP stasis_hibernated_sessions Blobs handed out by this process, neither resumed nor expired.',
      '# TYPE stasis_hibernated_sessions gauge',
      `stasis_hibernated_sessions ${gauges.hibernated}`,
      '# HELP stasis_draining 1 while the process drains.',
      '# TYPE stasis_draining gauge',
      `stasis_draining ${gauges.draining ? 1 : 0}`,
      '# HELP stasis_hibernations_total Hibernations by reason and outcome code.',
      '# TYPE stasis_hibernations_total counter',
      ...[...this.#hibernations].map(([key, n]) => {
        const [reason, outcome] = key.split('|');
        return `stasis_hibernations_total{reason="${reason}",outcome="${outcome}"} ${n}`;
      }),
      '# HELP stasis_resumes_total Resumes by outcome code.',
      '# TYPE stasis_resumes_total counter',
      ...[...this.#resumes].map(([outcome, n]) => `stasis_resumes_total{outcome="${outcome}"} ${n}`),
      '# HELP stasis_aborted_requests_total Requests whose client closed or reset the connection before the body ended, by route (not counted as resumes or hibernations).',
      '# TYPE stasis_aborted_requests_total counter',
      ...labelled(this.#aborted, 'stasis_aborted_requests_total', ['route']),
      '# HELP stasis_blob_bytes Size of the blobs handed out.',
      '# TYPE stasis_blob_bytes histogram',
      ...BLOB_BUCKETS.map((le, i) => `stasis_blob_bytes_bucket{le="${le}"} ${this.#blobBuckets[i]}`),
      `stasis_blob_bytes_bucket{le="+Inf"} ${this.#blobCount}`,
      `stasis_blob_bytes_sum ${this.#blobSum}`,
      `stasis_blob_bytes_count ${this.#blobCount}`,
    ];
    lines.push(
      '# HELP stasis_retired_sessions_total Sessions whose channel dropped, at the end of the retention window: stored, dropped (no store configured) or lost (every store failed).',
      '# TYPE stasis_retired_sessions_total counter',
      ...labelled(this.#retired, 'stasis_retired_sessions_total', ['result']),
      '# HELP stasis_recovered_sessions_total Sessions restored from another instance (fleet) or the server stores (store), by outcome.',
      '# TYPE stasis_recovered_sessions_total counter',
      ...labelled(this.#recovered, 'stasis_recovered_sessions_total', ['from', 'outcome']),
      '# HELP stasis_handovers_total Sessions asked of the instance holding them, by purpose and outcome (gone: it had died).',
      '# TYPE stasis_handovers_total counter',
      ...labelled(this.#handovers, 'stasis_handovers_total', ['purpose', 'outcome']),
      '# HELP stasis_store_operations_total Server store operations by store, operation and result.',
      '# TYPE stasis_store_operations_total counter',
      ...labelled(this.#storeOps, 'stasis_store_operations_total', ['store', 'operation', 'result']),
      '# HELP stasis_store_breaker_state Circuit breaker of each store: 0 closed, 1 half-open, 2 open.',
      '# TYPE stasis_store_breaker_state gauge',
      ...[...this.#breakers].map(([store, state]) => `stasis_store_breaker_state{store="${store}",state="${state}"} ${BREAKER_VALUE[state]}`),
      '# HELP stasis_store_breaker_opened_total Times each store breaker opened.',
      '# TYPE stasis_store_breaker_opened_total counter',
      ...labelled(this.#breakerOpened, 'stasis_store_breaker_opened_total', ['store']),
      '# HELP stasis_store_evictions_total Entries a bounded store (memory) pushed out to stay within its limits.',
      '# TYPE stasis_store_evictions_total counter',
      ...Object.entries(gauges.evictions ?? {}).map(([store, n]) => `stasis_store_evictions_total{store="${store}"} ${n}`),
      '# HELP stasis_bailout_storm 1 while failed resumes start fresh quietly (bail-out storm guard).',
      '# TYPE stasis_bailout_storm gauge',
      `stasis_bailout_storm ${this.#storm ? 1 : 0}`,
      '# HELP stasis_bailout_storms_total Times the bail-out storm guard turned on.',
      '# TYPE stasis_bailout_storms_total counter',
      `stasis_bailout_storms_total ${this.#storms}`,
    );
    if (this.#lastDrainSeconds !== undefined) {
      lines.push(
        '# HELP stasis_drain_duration_seconds How long the last drain took.',
        '# TYPE stasis_drain_duration_seconds gauge',
        `stasis_drain_duration_seconds ${this.#lastDrainSeconds}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Series of a counter whose keys join label values with `|`. */
function labelled(map: Map<string, number>, name: string, labels: string[]): string[] {
  return [...map].map(([key, n]) => {
    const values = key.split('|');
    return `${name}{${labels.map((label, i) => `${label}="${values[i]}"`).join(',')}} ${n}`;
  });
}
