/**
 * docs/protocol.md and src/protocol/index.ts state the same constants; the code wins, so the document's tables
 * must equal it: every outcome with its HTTP status and finality, and every close code.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, HTTP_STATUS, OUTCOMES, isFinal } from '../../src/protocol/index.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol.md'), 'utf8');

/** The rows of the markdown table that follows `heading`, as arrays of trimmed cells. */
function tableAfter(heading: string): string[][] {
  const start = doc.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe('docs/protocol.md agrees with src/protocol', () => {
  it('the outcome table: every outcome once, with its HTTP status and whether it is final', () => {
    const rows = tableAfter('## Outcome codes');
    const documented = rows.map(([code, status, final]) => ({
      code: code!.replace(/`/g, ''),
      status: Number(status),
      final: final!.replace(/\*/g, '') === 'yes',
    }));
    expect(documented.map((d) => d.code).sort()).toEqual([...OUTCOMES].sort());
    for (const d of documented) {
      expect({ code: d.code, status: d.status, final: d.final }).toEqual({ code: d.code, status: HTTP_STATUS[d.code as keyof typeof HTTP_STATUS], final: isFinal(d.code as never) });
    }
  });

  it('the close-code table names every Stasis close code', () => {
    const rows = tableAfter('| close code | meaning |');
    const documented = new Set(rows.map(([code]) => Number(code)));
    for (const [name, code] of Object.entries(CLOSE_CODES)) expect(documented.has(code), `${name} (${code})`).toBe(true);
  });
});
