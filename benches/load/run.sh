#!/usr/bin/env bash
# The load benchmark, one command: Portcullis (JWT and no auth) against a bare
# Pingora proxy, HAProxy with jwt_verify, nginx proxy_pass and the bare
# upstream, side by side in interleaved rounds on this machine; then OTP
# logins/s on SQLite and Redis and proxy latency during a password storm.
# Writes benches/results/latest.md. Needs redis-server (scripts/ensure-tools.sh test).
# Options are passed to bench.py (--rounds N, --duration SECONDS, --quick,
# --output FILE for a trial run that leaves latest.md alone).
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for tool in wrk haproxy nginx hey taskset; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for t in "${need[@]}"; do [ "$t" = taskset ] && pkgs+=(util-linux) || pkgs+=("$t"); done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
    # Debian starts packaged services on install; the benchmark runs its own.
    systemctl disable --now nginx haproxy >/dev/null 2>&1 || true
    pkill -x nginx 2>/dev/null || true; pkill -x haproxy 2>/dev/null || true
  else
    echo "Install first: ${pkgs[*]} (e.g. sudo apt-get install -y ${pkgs[*]})" >&2
    exit 1
  fi
fi
scripts/ensure-tools.sh build
# One build: the gateway and the bare Pingora measuring stick (examples/bare_pingora.rs).
cargo build --release --locked --bin portcullis --example bare_pingora
exec python3 benches/load/bench.py --binary target/release/portcullis \
  --bare-pingora target/release/examples/bare_pingora "$@"
