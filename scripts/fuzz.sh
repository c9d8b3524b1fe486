#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time each (default 60 s):
#   scripts/fuzz.sh [seconds]
# Installs cargo-fuzz when missing. Uses the nightly toolchain when there is
# one, otherwise the stable compiler with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs
# nightly-only flags). New inputs found go to fuzz/corpus/<target>/ only when
# FUZZ_KEEP_CORPUS=1; crashes land in fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets=(token_verify auth_request config_load payload_read)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

echo "== building ${#targets[@]} targets with: ${fuzz[*]}"
"${fuzz[@]}" build --fuzz-dir fuzz

for target in "${targets[@]}"; do
    echo "== $target for ${seconds}s"
    work="$(mktemp -d)"
    if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
        corpus=("fuzz/corpus/$target")
    else
        # Read the committed seeds, write new finds to a scratch folder.
        corpus=("$work" "fuzz/corpus/$target")
    fi
    "${fuzz[@]}" run --fuzz-dir fuzz "$target" "${corpus[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    rm -rf "$work"
done
echo "== fuzzing done: no crash in ${#targets[@]} targets x ${seconds}s"
