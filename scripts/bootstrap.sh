#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: install dependencies when missing, then build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/rollup ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[stasis] installing dependencies (npm ci)…"
  # npm 11 sometimes writes a lock without other platforms' optional packages (rollup's, esbuild's) and
  # then refuses its own lock in `npm ci`; `npm install --no-save` installs the same locked versions.
  npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --no-save --loglevel=error
fi

echo "[stasis] building…"
npx --no-install rollup -c --silent
npx --no-install tsc -p tsconfig.build.json
