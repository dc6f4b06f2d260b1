/**
 * Counters for operations, rendered in the Prometheus text format at GET {basePath}/metrics.
 * Labels are bounded (reasons and outcome codes), so the series count stays small.
 */
const BLOB_BUCKETS = [1024, 10 * 1024, 100 * 1024, 1024 * 1024, 5 * 1024 * 1024];

export class Metrics {
  readonly #hibernations = new Map<string, number>();
  readonly #resumes = new Map<string, number>();
  readonly #blobBuckets = BLOB_BUCKETS.map(() => 0);
  #blobCount = 0;
  #blobSum = 0;
  #lastDrainSeconds: number | undefined;

  /** A hibernate ended: `reason` is request (the page asked), drain or idle. */
  hibernation(reason: 'request' | 'drain' | 'idle', outcome: string, blobBytes?: number): void {
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

  drained(seconds: number): void {
    this.#lastDrainSeconds = seconds;
  }

  render(gauges: { live: number; hibernated: number; draining: boolean }): string {
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
      '# HELP stasis_blob_bytes Size of the blobs handed out.',
      '# TYPE stasis_blob_bytes histogram',
      ...BLOB_BUCKETS.map((le, i) => `stasis_blob_bytes_bucket{le="${le}"} ${this.#blobBuckets[i]}`),
      `stasis_blob_bytes_bucket{le="+Inf"} ${this.#blobCount}`,
      `stasis_blob_bytes_sum ${this.#blobSum}`,
      `stasis_blob_bytes_count ${this.#blobCount}`,
    ];
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
