#!/usr/bin/env bash
# The one test command: installs what the tests need, builds everything, and runs the Rust
# tests (unit, model, codec fuzz, differential against Apache ZooKeeper, raw protocol, zkCli.sh)
# and the kazoo differential suite, the data-directory compatibility tests in both directions
# with Apache ZooKeeper, and the SIGKILL crash test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo build --workspace --all-targets
export PADDOCK_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/paddock"
# The differential suites must compare against Paddock, never silently skip it.
export PADDOCK_REQUIRED=1
cargo test --workspace -- --test-threads=2
# The benchmark harness must not rot: a smoke run, numbers not asserted.
bash bench/smoke.sh
# The crash test kills Paddock with SIGKILL this many times under write load (about 1 s each).
export CRASH_ITERATIONS="${CRASH_ITERATIONS:-200}"
/usr/bin/python3 -m pytest -q -p no:cacheprovider server/difftest/kazoo server/difftest/storage
