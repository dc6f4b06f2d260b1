// Prints one closing line for the whole `npm test` run from the vitest and Playwright JSON reports.
import { readFileSync } from 'node:fs';

const [vitestFile, playwrightFile] = process.argv.slice(2);
const unit = JSON.parse(readFileSync(vitestFile, 'utf8'));
const e2e = JSON.parse(readFileSync(playwrightFile, 'utf8')).stats;
const passed = unit.numPassedTests + e2e.expected + e2e.flaky;
const failed = unit.numFailedTests + e2e.unexpected;
const skipped = unit.numPendingTests + unit.numTodoTests + e2e.skipped;
console.log(`unit ${unit.numPassedTests}/${unit.numTotalTests}, e2e ${e2e.expected + e2e.flaky}/${e2e.expected + e2e.flaky + e2e.unexpected + e2e.skipped}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
