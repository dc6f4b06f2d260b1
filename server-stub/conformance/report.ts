/** The conformance report as text (one line per requirement, a summary) and as JSON. */
import type { ConformanceReport } from './runner.js';
import type { RequirementResult } from './types.js';

const ID_WIDTH = 32;

/** `FAIL  MUST    HTTP-STATUS-REPLAYED             400 {"outcome":"replayed",…}` */
export function formatResult(result: RequirementResult, color = false): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const status = result.status === 'PASS' ? paint(32, 'PASS') : result.status === 'FAIL' ? paint(result.level === 'MUST' ? 31 : 33, 'FAIL') : paint(90, 'SKIP');
  const saw = result.saw.replace(/\s+/g, ' ');
  return `${status}  ${result.level.padEnd(6)}  ${result.id.padEnd(ID_WIDTH)}  ${saw.length > 400 ? `${saw.slice(0, 400)}…` : saw}`;
}

export function formatSummary(report: ConformanceReport): string {
  const s = report.summary;
  const verdict = report.ok ? 'conformant (no MUST failed)' : `NOT conformant: ${s.mustFailed} MUST requirement${s.mustFailed === 1 ? '' : 's'} failed`;
  return (
    `${report.target}: ${s.total} requirements, ${s.passed} passed, ${s.failed} failed (${s.mustFailed} MUST, ${s.shouldFailed} SHOULD), ` +
    `${s.skipped} skipped in ${(report.durationMs / 1000).toFixed(1)} s: ${verdict}`
  );
}

export function formatJson(report: ConformanceReport): string {
  return JSON.stringify(report, null, 2);
}
