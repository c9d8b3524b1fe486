#!/usr/bin/env bash
# Proves the README's run command: starts scripts/run.sh (release build, the
# default config on :8080 with admin on 127.0.0.1:9090), checks that it
# answers as documented, and stops it. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
setsid scripts/run.sh >"$log" 2>&1 &
pid=$!
stop() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop EXIT

# The release build comes first; allow it time.
for _ in $(seq 1 900); do
  if curl -fsS -o /dev/null http://127.0.0.1:9090/healthz 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "scripts/run.sh exited:"; tail -50 "$log"; exit 1; fi
  sleep 1
done

fail() { echo "smoke: $*"; tail -30 "$log"; exit 1; }
code=$(curl -s -o /tmp/smoke-body -w '%{http_code}' http://127.0.0.1:8080/api/me)
[ "$code" = 401 ] || fail "/api/me answered $code, expected 401"
grep -q '"code":401' /tmp/smoke-body || fail "/api/me body is not the JSON envelope"
code=$(curl -s -o /tmp/smoke-body -w '%{http_code}' http://127.0.0.1:8080/nowhere)
[ "$code" = 404 ] || fail "/nowhere answered $code, expected 404"
curl -fsS http://127.0.0.1:9090/metrics | grep -q '^portcullis_build_info' || fail "no build_info in /metrics"
echo "smoke: scripts/run.sh serves the default config as documented"
