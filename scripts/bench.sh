#!/usr/bin/env bash
# `npm run bench`: build, make sure Chromium is there, run every benchmark (bench/run.ts). Not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-chromium.sh
# redis-server for the HMAC + Redis peer (bench/peers); without it that row is left out and the run says so.
bash scripts/ensure-services.sh || echo "[stasis] bench: going on without what is missing (see above)" >&2
exec node dist/bench/run.js "$@"
