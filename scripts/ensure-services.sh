#!/usr/bin/env bash
# Some tests start their own redis-server and nginx (loopback, free ports, temp dirs).
# Installs Debian's packages with apt-get when the binaries are missing and we are root;
# otherwise says what to do. Never leaves the Debian-managed services running.
set -euo pipefail
REDIS="${REDIS_SERVER_PATH:-/usr/bin/redis-server}"
NGINX="${NGINX_PATH:-/usr/sbin/nginx}"
if [ -x "$REDIS" ] && [ -x "$NGINX" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[stasis] installing Debian's redis-server and nginx (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends redis-server nginx >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server nginx >/dev/null
  fi
  # The packages' postinst may start the system services; the tests need ports 6379/80 free.
  service redis-server stop >/dev/null 2>&1 || true
  service nginx stop >/dev/null 2>&1 || true
  [ -x /usr/sbin/nginx ] && /usr/sbin/nginx -s stop >/dev/null 2>&1 || true
  pkill -x redis-server >/dev/null 2>&1 || true
  pkill -x nginx >/dev/null 2>&1 || true
  [ -x "$REDIS" ] && [ -x "$NGINX" ] && exit 0
fi
[ -x "$REDIS" ] || echo "[stasis] redis-server not found at $REDIS. Install it (Debian: apt-get install redis-server) or set REDIS_SERVER_PATH." >&2
[ -x "$NGINX" ] || echo "[stasis] nginx not found at $NGINX. Install it (Debian: apt-get install nginx) or set NGINX_PATH." >&2
exit 1
