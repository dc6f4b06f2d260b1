#!/usr/bin/env bash
# The engine suite drives Debian's Firefox ESR (WebDriver BiDi) and WebKitGTK's MiniBrowser (WebKitWebDriver,
# under Xvfb); Playwright cannot download or drive these builds. Installs them with apt-get when missing and we
# are root (about 80 s and 890 MB); otherwise says what to do.
set -euo pipefail
missing=()
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[stasis] installing Debian's ${missing[*]} (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  command -v firefox-esr >/dev/null && command -v WebKitWebDriver >/dev/null && command -v Xvfb >/dev/null && exit 0
fi
echo "[stasis] missing: ${missing[*]}. Install them (Debian: apt-get install firefox-esr webkit2gtk-driver xvfb)." >&2
exit 1
