#!/usr/bin/env bash
# Smoke test of the storage benchmark harness, for CI: Paddock only, 2,000 znodes, 2-second
# runs, one restart, debug build. It proves the harness still works end to end (build, start,
# load, populate, SIGTERM, restart, recovery read, memory); it asserts no numbers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workdir="${BENCH_SMOKE_WORKDIR:-$here/../target/bench-smoke}"
/usr/bin/python3 "$here/storage.py" \
  --servers paddock --profile debug --znodes 2000 --duration 2 --warmup 1 --restarts 1 \
  --workdir "$workdir"
# The table must contain a recovery time and a throughput figure for Paddock.
grep -q '^| recovery, median (s) | [0-9]' "$workdir/results.md"
grep -q '^| set 64x16 ops/s | [0-9]' "$workdir/results.md"
echo "bench smoke: ok"
