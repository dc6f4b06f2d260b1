#!/usr/bin/env bash
# `npm start`: build and run the demo on an in-memory server with a throwaway dev key (unless STASIS_KEYS is set).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PORT="${PORT:-8080}"
exec node dist/server/cli.js --dev-key
