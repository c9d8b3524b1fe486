#!/usr/bin/env bash
# The load benchmark, one command: Portcullis (JWT and no auth) against a bare
# Pingora proxy, HAProxy with jwt_verify, nginx proxy_pass and the bare
# upstream, side by side in interleaved rounds on this machine; then OTP
# logins/s on SQLite and Redis and proxy latency during a password storm.
# Writes benches/results/latest.md.
# Options are passed to bench.py (--rounds N, --duration SECONDS, --quick,
# --output FILE for a trial run that leaves latest.md alone), except --pgo:
# also build the profile-guided binary (scripts/build-pgo.sh, ~13 min) and
# measure it beside the plain release build.
set -euo pipefail
cd "$(dirname "$0")/../.."

pgo=()
args=()
for a in "$@"; do
  if [ "$a" = --pgo ]; then pgo=(--pgo-binary target/pgo/portcullis); else args+=("$a"); fi
done

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
# cmake for the build, redis-server for the Redis store measurements.
scripts/ensure-tools.sh test
# One build: the gateway and the bare Pingora measuring stick (examples/bare_pingora.rs).
cargo build --release --locked --bin portcullis --example bare_pingora
if [ ${#pgo[@]} -gt 0 ]; then scripts/build-pgo.sh; fi
exec python3 benches/load/bench.py --binary target/release/portcullis \
  --bare-pingora target/release/examples/bare_pingora "${pgo[@]}" "${args[@]}"
