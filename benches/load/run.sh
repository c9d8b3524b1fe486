#!/usr/bin/env bash
# The load benchmark, one command: Portcullis (JWT and no auth) against
# HAProxy with jwt_verify, nginx proxy_pass and the bare upstream, side by side
# in interleaved rounds on this machine. Writes benches/results/latest.md.
# Options are passed to bench.py (--rounds N, --duration SECONDS, --quick).
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
cargo build --release --locked --bin portcullis
exec python3 benches/load/bench.py --binary target/release/portcullis "$@"
