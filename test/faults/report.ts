/**
 * What the fault test saw: anomalies by kind (the assertions), plain counters (to show the run did real work),
 * the fault timeline, and every blob handed out with what became of it. Anomalies carry the fault phase they
 * happened in, so a window can be documented from the report rather than guessed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The three ways a run can go wrong (issue 10 item 8), plus harness trouble that makes the run meaningless. */
export type Category = 'lost' | 'diverged' | 'undocumented' | 'harness';

export interface DocumentedWindow {
  /** How many anomalies of this kind one run may show inside the window. */
  max: number;
  /** Where the window is documented (docs/operations.md#…). */
  doc: string;
  /**
   * When the window is open: fault step (as in the timeline) → seconds after it took effect, e.g.
   * `{ 'redis-sigstop': 8, 'redis-sigkill': 4 }`. An anomaly of this kind at any other time fails the test.
   * Omitted: at any time of the run.
   */
  after?: Readonly<Record<string, number>>;
}

export interface Verdict {
  kind: string;
  count: number;
  /** Of `count`, how many fall inside the kind's documented window. */
  inside: number;
  window?: DocumentedWindow;
  ok: boolean;
}

interface Occurrence {
  kind: string;
  /** The fault step in force (the last one that took effect), or `baseline`. */
  fault: string;
  /** Seconds since that step. */
  since: number;
  sequel: boolean;
}

const SAMPLES_PER_KIND = 5;

export type BlobFate = 'held' | 'resumed' | 'superseded' | `final:${string}`;

interface BlobRecord {
  client: string;
  sid: string;
  gen: number;
  source: string;
  issuedAt: number;
  fate: BlobFate;
}

export class Recorder {
  readonly started = Date.now();
  readonly anomalies = new Map<string, number>();
  readonly counters = new Map<string, number>();
  readonly timeline: Array<{ t: number; fault: string; detail?: string }> = [];
  readonly #samples = new Map<string, object[]>();
  readonly #occurrences: Occurrence[] = [];
  readonly #blobs = new Map<string, BlobRecord>();
  // Kept in memory and written once (flush): thousands of synchronous appends would skew the clients' timing.
  readonly #events: string[] = [];

  constructor(
    readonly seed: number,
    /** JSON lines of every hibernate, resume, push, connect and anomaly, for digging into one run. */
    private readonly eventsFile: string,
  ) {}

  flush(): void {
    mkdirSync(dirname(this.eventsFile), { recursive: true });
    writeFileSync(this.eventsFile, this.#events.join(''));
  }

  /** Seconds since the start, one decimal: the clock of the timeline and of every event. */
  t(): number {
    return Math.round((Date.now() - this.started) / 100) / 10;
  }

  count(counter: string, by = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + by);
  }

  event(what: string, detail: Record<string, unknown>): void {
    this.#events.push(`${JSON.stringify({ t: this.t(), what, ...detail })}\n`);
  }

  fault(fault: string, detail?: string): void {
    const entry = { t: this.t(), fault, ...(detail ? { detail } : {}) };
    this.timeline.push(entry);
    this.event('fault', entry);
    console.log(`[faults] t=${entry.t.toFixed(1)}s ${fault}${detail ? ` (${detail})` : ''}`);
  }

  /** The fault step in force: the last one started, or `baseline` before the first. */
  phase(): string {
    const last = this.timeline[this.timeline.length - 1];
    return last ? `${last.fault}+${Math.floor(this.t() - last.t)}s` : 'baseline';
  }

  /** `sequel`: the sid already had an anomaly (likely a consequence of that incident; still counted). */
  anomaly(category: Category, kind: string, detail: Record<string, unknown>, sequel = false): void {
    const key = `${category}:${kind}`;
    this.anomalies.set(key, (this.anomalies.get(key) ?? 0) + 1);
    const last = this.timeline[this.timeline.length - 1];
    this.#occurrences.push({ kind: key, fault: last?.fault ?? 'baseline', since: last ? this.t() - last.t : this.t(), sequel });
    const sample = { t: this.t(), phase: this.phase(), ...(sequel ? { sequel } : {}), ...detail };
    const samples = this.#samples.get(key) ?? [];
    if (samples.length < SAMPLES_PER_KIND) samples.push(sample);
    this.#samples.set(key, samples);
    this.event('anomaly', { kind: key, ...sample });
  }

  blobIssued(jti: string, record: Omit<BlobRecord, 'fate' | 'issuedAt'>): void {
    if (this.#blobs.has(jti)) return; // the same checkpoint pushed twice is one blob
    this.#blobs.set(jti, { ...record, issuedAt: this.t(), fate: 'held' });
  }

  blobFate(jti: string, fate: BlobFate): void {
    const record = this.#blobs.get(jti);
    if (record && record.fate === 'held') record.fate = fate;
  }

  /** Blobs by where they came from and what became of them: `hibernate → resumed: 812`. */
  fates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { source, fate } of this.#blobs.values()) out[`${source} → ${fate}`] = (out[`${source} → ${fate}`] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
  }

  verdicts(windows: Readonly<Record<string, DocumentedWindow>>): Verdict[] {
    const inWindow = (o: Occurrence, w: DocumentedWindow | undefined) =>
      w !== undefined && (w.after === undefined || (w.after[o.fault] !== undefined && o.since <= w.after[o.fault]!));
    return [...this.anomalies.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, count]) => {
        const window = windows[kind];
        const inside = this.#occurrences.filter((o) => o.kind === kind && inWindow(o, window)).length;
        return { kind, count, inside, ...(window ? { window } : {}), ok: window !== undefined && inside === count && inside <= window.max };
      });
  }

  /** Per kind: fault step → count, and how many were sequels. */
  #during(kind: string): { phases: Record<string, number>; sequels: number } {
    const phases: Record<string, number> = {};
    let sequels = 0;
    for (const o of this.#occurrences) {
      if (o.kind !== kind) continue;
      phases[o.fault] = (phases[o.fault] ?? 0) + 1;
      if (o.sequel) sequels++;
    }
    return { phases, sequels };
  }

  table(windows: Readonly<Record<string, DocumentedWindow>>): string {
    const rows = this.verdicts(windows).map((v) => {
      const { phases, sequels } = this.#during(v.kind);
      return [
        v.kind,
        String(v.count),
        v.window ? `${v.inside} in ≤ ${v.window.max}` : '-',
        v.ok ? 'inside documented window' : 'FAIL',
        String(sequels),
        Object.entries(phases).map(([phase, n]) => `${phase}×${n}`).join(', '),
      ];
    });
    if (rows.length === 0) return 'anomalies: none';
    const head = ['anomaly', 'count', 'window', 'verdict', 'sequels', 'during (fault step in force × count)'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
    const note = 'sequels: anomalies on a sid that already had one (often, not always, a consequence of that incident)';
    return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), note].join('\n');
  }

  counterLines(): string {
    return [...this.counters.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) => `  ${name.padEnd(44)} ${n}`)
      .join('\n');
  }

  summary(windows: Readonly<Record<string, DocumentedWindow>>, extra: Record<string, unknown>): object {
    return {
      seed: this.seed,
      seconds: this.t(),
      ...extra,
      documentedWindows: windows,
      verdicts: this.verdicts(windows),
      failures: failures(this.verdicts(windows)),
      during: Object.fromEntries([...this.anomalies.keys()].map((kind) => [kind, this.#during(kind)])),
      occurrences: this.#occurrences.map((o) => ({ ...o, since: Math.round(o.since * 10) / 10 })),
      samples: Object.fromEntries(this.#samples),
      counters: Object.fromEntries([...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b))),
      blobFates: this.fates(),
      timeline: this.timeline,
      events: this.eventsFile,
    };
  }
}

/** What fails the run: every kind with an anomaly outside its window, or more inside than the window allows. */
export function failures(verdicts: Verdict[]): string[] {
  return verdicts.filter((v) => !v.ok).map((v) => `${v.kind}: ${v.count}${v.window ? ` (${v.inside} inside a window of ≤ ${v.window.max})` : ''}`);
}
