#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: install dependencies when missing, then build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/rollup ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[stasis] installing dependencies (npm ci)…"


  npm ci --no-audit --no-fund --loglevel=error
fi

echo "[stasis] building…"
bash scripts/build.sh
