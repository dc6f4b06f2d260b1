import { mkdir, writeFile } from 'node:fs/promises';

/** Where `npm test` keeps its reports; scripts/support-matrix.mjs renders the measured facts from here. */
export const REPORTS_DIR = '.stasis-tmp/reports';

/** Records facts an e2e test measured about an engine (capabilities, back/forward cache) for the support matrix. */
export async function recordMeasured(engine: string, version: string, facts: Record<string, unknown>): Promise<void> {
  await mkdir(REPORTS_DIR, { recursive: true });
  const name = Object.keys(facts).join('-');
  await writeFile(`${REPORTS_DIR}/engine-${engine}-${name}.json`, JSON.stringify({ engine, version, ...facts }));
}

/** The capability probe every engine runs in a Stasis page (a function serialised into the page). */
export function probeCapabilities(): Record<string, boolean> {
  return {
    serviceWorker: 'serviceWorker' in navigator && (window as { Stasis?: { status: { custody: string } } }).Stasis?.status.custody === 'service-worker',
    webLocks: 'locks' in navigator,
    backgroundSync: 'SyncManager' in window,
    persistentStorage: typeof navigator.storage?.persist === 'function',
    freezeEvents: 'onfreeze' in document,
  };
}
