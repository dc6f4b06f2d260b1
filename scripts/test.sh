#!/usr/bin/env bash
# `npm test`: bootstrap, type-check, unit tests (vitest), then the e2e suite (Playwright + real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-chromium.sh

echo "[stasis] type-checking…"
npx --no-install tsc --noEmit -p tsconfig.json

echo "[stasis] unit tests (vitest)…"
npx --no-install vitest run

echo "[stasis] end-to-end tests (Playwright, Chromium)…"
npx --no-install playwright test
