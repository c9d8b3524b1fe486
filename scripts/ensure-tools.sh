#!/usr/bin/env bash
# Makes sure the system tools the build and the tests need are present:
# cmake (Pingora's zlib-ng build) always, redis-server for the tests,
# slowhttptest for scripts/slowloris.sh, and what the PGO training run
# drives (scripts/build-pgo.sh): redis-server, wrk and nginx.
# Installs them with apt-get when running as root; otherwise says exactly
# what to install and fails.
# Usage: scripts/ensure-tools.sh [build|test|slowloris|pgo]
set -euo pipefail

want=(cmake)
case "${1:-build}" in
  test) want+=(redis-server) ;;
  slowloris) want+=(slowhttptest) ;;
  pgo) want+=(redis-server wrk nginx) ;;
esac

missing=()
for tool in "${want[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} with apt-get..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts a redis-server service on install; tests start their own.
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  # Likewise nginx: the training run starts its own.
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    command -v systemctl >/dev/null 2>&1 && systemctl disable --now nginx >/dev/null 2>&1 || true
    pkill -x nginx 2>/dev/null || true
  fi
  exit 0
fi

echo "Missing: ${missing[*]}." >&2
echo "Install them first, for example: sudo apt-get install -y ${missing[*]}" >&2
echo "(Debian/Ubuntu package names; on macOS: brew install ${missing[*]/redis-server/redis})" >&2
exit 1
