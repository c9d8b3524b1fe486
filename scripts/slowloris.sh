#!/usr/bin/env bash
# A slowloris attack with slowhttptest (Debian) against a live gateway, while
# a probe asks for a page every half second: the gateway must answer every
# probe, and slowhttptest itself must find the service available throughout.
#   scripts/slowloris.sh [seconds] [connections]    (defaults: 30, 2000)
# Builds the debug binary, starts it on the default config with fresh ports, a
# scratch data folder and `limits.header_read_timeout: 5s`, then runs
# slowhttptest in slow-headers mode (-H: one header line every 3 s per
# connection, i.e. never finishing a head). Installs slowhttptest with
# apt-get when root (scripts/ensure-tools.sh slowloris).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
connections="${2:-2000}"

scripts/ensure-tools.sh slowloris
cargo build --locked --bin portcullis

config_edits=("s#header_read_timeout: 10s#header_read_timeout: 5s#")
source scripts/lib/live-gateway.sh
attack_pid=""
trap '[ -n "$attack_pid" ] && kill "$attack_pid" 2>/dev/null; stop_gateway' EXIT
grep -q "header_read_timeout: 5s" "$work/portcullis.yaml" || { echo "could not set header_read_timeout"; exit 1; }
echo "== slowhttptest: $connections slow-header connections for ${seconds}s against 127.0.0.1:$port"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
slowhttptest -H -c "$connections" -r 400 -i 3 -s 8192 -l "$seconds" -p 2 -g \
    -o "$work/slowhttptest" -u "http://127.0.0.1:$port/nowhere" > "$work/attack.log" 2>&1 &
attack_pid=$!

probes=0
failed=0
sleep 2
while kill -0 "$attack_pid" 2>/dev/null; do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/nowhere" || true)
    probes=$((probes + 1))
    [ "$code" = 404 ] || { failed=$((failed + 1)); echo "probe $probes answered '$code'"; }
    sleep 0.5
done
wait "$attack_pid" || true
attack_pid=""

refused=$(curl -fsS "http://127.0.0.1:$admin/metrics" | awk '/^portcullis_requests_refused_total\{reason="header_timeout"\}/ {print $2}')
csv="$work/slowhttptest.csv"
unavailable=0
if [ -f "$csv" ]; then
    # columns: seconds,closed,pending,connected,service available
    unavailable=$(awk -F, 'NR > 1 && $5 == 0 {n++} END {print n+0}' "$csv")
    echo "slowhttptest: most connections held at once: $(awk -F, 'NR > 1 && $4 > m {m = $4} END {print m+0}' "$csv"); seconds the service was unavailable: $unavailable"
fi
echo "probes: $probes, failed: $failed; heads cut off by the deadline: ${refused:-0}"
kill -0 "$gateway_pid" 2>/dev/null || { echo "the gateway died"; cat "$work/gateway.log"; exit 1; }
[ "$probes" -gt 0 ] || { echo "no probe ran"; cat "$work/attack.log"; exit 1; }
[ "$failed" -eq 0 ] || { echo "the gateway stopped answering during the attack"; exit 1; }
[ "$unavailable" -eq 0 ] || { echo "slowhttptest found the service unavailable"; exit 1; }
echo "slowloris: the gateway served every probe"
