#!/usr/bin/env bash
# `npm run bench`: build, make sure Chromium is there, run every benchmark (bench/run.ts). Not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-chromium.sh
exec node dist/bench/run.js "$@"
