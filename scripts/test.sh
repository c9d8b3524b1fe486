#!/usr/bin/env bash
# Runs the whole test suite: unit tests, integration tests (which start the
# real gateway on free loopback ports, with their own upstreams and, where
# needed, their own redis-server), and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh test
exec cargo test --locked --all-targets "$@"
