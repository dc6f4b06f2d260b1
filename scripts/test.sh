#!/usr/bin/env bash
# `npm test`: bootstrap, type-check, type-level tests, lint, unit tests (vitest), then the e2e suites: Chromium, and the engine suite
# in Firefox and WebKit (Playwright as the runner; see playwright.config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-engines.sh
bash scripts/ensure-services.sh
echo "[stasis] packing Stasis and installing the examples from the tarball…"
bash scripts/examples.sh

echo "[stasis] type-checking…"
npx --no-install tsc --noEmit -p tsconfig.json
echo "[stasis] type-level tests of the public API (test/types: what must compile, and what must not)…"
npx --no-install tsc --noEmit -p test/types/tsconfig.json
echo "[stasis] linting (ESLint + typescript-eslint)…"
npx --no-install eslint --max-warnings 0 .

reports=.stasis-tmp/reports
mkdir -p "$reports"

echo "[stasis] unit tests (vitest)…"
# Chromium is installed by now: the conformance suite's --browser round trip runs too.
STASIS_CONFORMANCE_BROWSER=1 npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest.json"

echo "[stasis] end-to-end tests (Chromium; Firefox and WebKit engine suite)…"
PLAYWRIGHT_JSON_OUTPUT_NAME="$reports/playwright.json" npx --no-install playwright test --reporter=list,json

echo "[stasis] fleet fault test (two instances behind nginx, Redis stopped, killed, flushed; an instance killed)…"
npx --no-install vitest run -c vitest.faults.config.ts --reporter=default --reporter=json --outputFile.json="$reports/vitest-faults.json" || true

echo "[stasis] benchmark harness smoke run (tiny counts; numbers not meaningful)…"
node dist/bench/run.js --smoke > "$reports/bench-smoke.txt"
# Issue 14's "done when": the run prints the peer table (both Stasis rows) and the goals table.
for heading in '### Peers' '| Stasis live mode (1 round trip) |' '### Goals'; do
  grep -qF -- "$heading" "$reports/bench-smoke.txt" || { echo "[stasis] the bench smoke run printed no \"$heading\"" >&2; exit 1; }
done

node scripts/support-matrix.mjs "$reports" > "$reports/support-matrix.md"
node scripts/test-summary.mjs "$reports/vitest.json" "$reports/playwright.json" "$reports/vitest-faults.json"
