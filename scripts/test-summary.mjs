// Prints the closing lines of `npm test` from the vitest and Playwright JSON reports: counts per suite and per
// browser engine (Playwright project), then one `N passed, N failed` line for the whole run.
import { readFileSync } from 'node:fs';

const [vitestFile, playwrightFile, faultsFile] = process.argv.slice(2);
const unit = JSON.parse(readFileSync(vitestFile, 'utf8'));
// The fleet fault test (its own vitest run): counted with the unit tests, named on its own line.
const faults = faultsFile ? JSON.parse(readFileSync(faultsFile, 'utf8')) : undefined;
const report = JSON.parse(readFileSync(playwrightFile, 'utf8'));
const e2e = report.stats;

/** Tests by project (chromium, firefox, webkit): passed (incl. flaky), failed, skipped, and time spent. */
const engines = new Map();
const walk = (suite) => {
  for (const spec of suite.specs ?? []) {
    for (const test of spec.tests) {
      const counts = engines.get(test.projectName) ?? { passed: 0, failed: 0, skipped: 0, ms: 0 };
      if (test.status === 'expected' || test.status === 'flaky') counts.passed++;
      else if (test.status === 'unexpected') counts.failed++;
      else counts.skipped++;
      counts.ms += test.results.reduce((sum, result) => sum + (result.duration ?? 0), 0);
      engines.set(test.projectName, counts);
    }
  }
  for (const child of suite.suites ?? []) walk(child);
};
for (const suite of report.suites) walk(suite);

const passed = unit.numPassedTests + e2e.expected + e2e.flaky + (faults?.numPassedTests ?? 0);
const failed = unit.numFailedTests + e2e.unexpected + (faults?.numFailedTests ?? 0);
const skipped = unit.numPendingTests + unit.numTodoTests + e2e.skipped;
const perEngine = [...engines]
  .map(([name, c]) => `${name} ${c.passed}/${c.passed + c.failed}${c.skipped ? ` (${c.skipped} skipped)` : ''} in ${Math.round(c.ms / 1000)} s`)
  .join(', ');
console.log(`unit ${unit.numPassedTests}/${unit.numTotalTests}; e2e by engine: ${perEngine}`);
if (faults) console.log(`fleet fault test ${faults.numPassedTests}/${faults.numTotalTests}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
