#!/usr/bin/env bash
# The one test command (README): install the validators, then every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
export STACKGEN_VENV=${STACKGEN_VENV:-/tmp/stackgen-validators}
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
