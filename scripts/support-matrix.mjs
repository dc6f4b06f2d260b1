// Renders the support matrix (README "Browser support") from what the e2e suites measured in this run: each
// engine's test wrote .stasis-tmp/reports/engine-<name>-<fact>.json. Prints Markdown; nothing is typed by hand.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.stasis-tmp/reports';
const engines = new Map();
for (const file of readdirSync(dir).filter((name) => /^engine-[a-z]+-.+\.json$/.test(name))) {
  const fact = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  engines.set(fact.engine, { ...engines.get(fact.engine), ...fact });
}
const yes = (value) => (value === undefined ? '?' : value ? 'yes' : '**no**');
const order = ['chromium', 'firefox', 'webkit'];
const rows = [...engines.values()].sort((a, b) => order.indexOf(a.engine) - order.indexOf(b.engine));
/** What a missing capability changes for Stasis, said the same way for every engine. */
const notes = (c) =>
  [
    c.backgroundSync === false && 'a hide made offline goes through on `online` or the next visit',
    c.persistentStorage === false && 'storage cannot be marked persistent',
    c.freezeEvents === false && 'no `freeze`: hides go by `visibilitychange` and `pagehide`',
  ]
    .filter(Boolean)
    .join('; ') || '—';
console.log('| engine (version tested) | service worker custody | Web Locks | Background Sync | persistent storage | `freeze` events | back/forward cache with a live session | what differs |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const e of rows) {
  const c = e.capabilities ?? {};
  console.log(
    `| ${e.engine} ${e.version} | ${yes(c.serviceWorker)} | ${yes(c.webLocks)} | ${yes(c.backgroundSync)} | ${yes(c.persistentStorage)} | ${yes(c.freezeEvents)} | ${yes(e.bfcache)} | ${notes(c)} |`,
  );
}
