#!/usr/bin/env bash
# Quick start: builds Portcullis (release) and runs it on the annotated
# default config, conf/portcullis.yaml. Extra arguments go to `portcullis run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh build
exec cargo run --release --locked -- run -c conf/portcullis.yaml "$@"
