#!/usr/bin/env bash
# `npm test`: bootstrap, type-check, unit tests (vitest), then the e2e suite (Playwright + real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-services.sh
echo "[stasis] packing Stasis and installing the examples from the tarball…"
bash scripts/examples.sh

echo "[stasis] type-checking…"
npx --no-install tsc --noEmit -p tsconfig.json

reports=.stasis-tmp/reports
mkdir -p "$reports"

echo "[stasis] unit tests (vitest)…"
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest.json"

echo "[stasis] end-to-end tests (Playwright, Chromium)…"
PLAYWRIGHT_JSON_OUTPUT_NAME="$reports/playwright.json" npx --no-install playwright test --reporter=list,json

echo "[stasis] benchmark harness smoke run (tiny counts; numbers not meaningful)…"
node dist/bench/run.js --smoke > "$reports/bench-smoke.txt"

node scripts/test-summary.mjs "$reports/vitest.json" "$reports/playwright.json"
