# Sourced by the scripts that attack or probe a live gateway: starts the
# debug binary on the default config with fresh loopback ports and a scratch
# data folder, and stops it on exit. Before sourcing, set `config_edits` to
# extra sed expressions (an array) for the config. After: $port, $admin,
# $work (scratch folder), $gateway_pid.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
admin="$(free_port)"
work="$(mktemp -d)"
gateway_pid=""
stop_gateway() {
    if [ -n "$gateway_pid" ]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap stop_gateway EXIT

edits=()
for e in "${config_edits[@]}"; do edits+=(-e "$e"); done
sed -e "s#0.0.0.0:8080#127.0.0.1:$port#" \
    -e "s#127.0.0.1:9090#127.0.0.1:$admin#" \
    -e "s#/tmp/portcullis.pid#$work/pid#" \
    -e "s#/tmp/portcullis_upgrade.sock#$work/upgrade.sock#" \
    -e "s#\./data/#$work/#g" \
    "${edits[@]}" \
    conf/portcullis.yaml > "$work/portcullis.yaml"
RUST_LOG=warn target/debug/portcullis run -c "$work/portcullis.yaml" > "$work/gateway.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/gateway.log"; exit 1; }
    sleep 0.1
done
