#!/usr/bin/env bash
# The e2e suite drives Debian's Chromium (Playwright cannot download browsers here).
# Installs it with apt-get when it is missing and we are root; otherwise says what to do.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[stasis] installing Debian's chromium (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
echo "[stasis] Chromium not found at $CHROMIUM. Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH." >&2
exit 1
