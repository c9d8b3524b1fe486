#!/usr/bin/env bash
# A profile-guided (PGO) release build of the gateway, for production: builds
# an instrumented binary, runs benches/load/pgo_train.py against it (proxy
# traffic, refusals, OTP and password logins on SQLite and Redis, idle
# connections), merges the profiles and builds again with them. The result is
# target/pgo/portcullis; the plain `cargo build --release` is untouched
# (each step has its own target directory, as RUSTFLAGS differ).
# About 13 minutes on 2 cores. Needs llvm-profdata from rustup's llvm-tools
# component (added here when missing) and what the training drives: wrk,
# nginx (its upstream), redis-server, taskset.
# Exits with 3, having built nothing, when llvm-profdata cannot be had (so
# .ci/run can tell a machine without it from a build that failed).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/target/pgo"

host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  if command -v rustup >/dev/null 2>&1; then
    echo "Adding rustup's llvm-tools component (llvm-profdata)..." >&2
    timeout 300 rustup component add llvm-tools >&2 || true
  fi
  if [ ! -x "$profdata" ]; then
    echo "Missing $profdata: install it with 'rustup component add llvm-tools'" >&2
    echo "(it must match rustc's LLVM; a distribution's llvm-profdata usually does not)." >&2
    exit 3
  fi
fi
scripts/ensure-tools.sh pgo

rm -rf "$out/profiles"
mkdir -p "$out/profiles"
echo "== 1/3 instrumented build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$out/profiles" \
  cargo build --release --locked --bin portcullis --target-dir "$out/instrumented"
# Build scripts run instrumented too and leave their own profiles: drop them.
rm -rf "$out/profiles"
mkdir -p "$out/profiles"

echo "== 2/3 training run" >&2
python3 benches/load/pgo_train.py --binary "$out/instrumented/release/portcullis"
if ! compgen -G "$out/profiles/*.profraw" >/dev/null; then
  echo "The training run left no profile in $out/profiles" >&2
  exit 1
fi
"$profdata" merge -o "$out/portcullis.profdata" "$out"/profiles/*.profraw

echo "== 3/3 optimised build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$out/portcullis.profdata" \
  cargo build --release --locked --bin portcullis --target-dir "$out/build"
cp "$out/build/release/portcullis" "$out/portcullis"
echo "PGO build: $out/portcullis" >&2
