#!/usr/bin/env bash
# Smoke test of the benchmark harnesses, for CI: Paddock only, debug build, tiny sizes. It
# proves the harnesses still work end to end; it asserts no numbers.
#  - bench/storage.py: 2,000 znodes, 2-second runs, one restart (build, start, load,
#    populate, SIGTERM, restart, recovery read, memory).
#  - bench/compare --quick: every workload cell, the sessions sweep (1 and 10), the watch
#    fan-out (100 sessions x 20 znodes), the recovery phase in 1-second cells, one
#    leader-failover trial and a follower joining by SNAP; and once more for one cell with
#    --repeat 2.
#  - bench/profile: 300 setData under callgrind, and 200 on a 3-member ensemble.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workdir="${BENCH_SMOKE_WORKDIR:-$here/../target/bench-smoke}"
/usr/bin/python3 "$here/storage.py" \
  --servers paddock --profile debug --znodes 2000 --duration 2 --warmup 1 --restarts 1 \
  --workdir "$workdir"
# The table must contain a recovery time and a throughput figure for Paddock.
grep -q '^| recovery, median (s) | [0-9]' "$workdir/results.md"
grep -q '^| set 64x16 ops/s | [0-9]' "$workdir/results.md"

compare_dir="$workdir-compare"
/usr/bin/python3 "$here/compare" --quick --servers paddock --profile debug --no-install \
  --no-build --workdir "$compare_dir"
for row in 'get ops/s' 'create-delete ops/s' 'multi ops/s' 'churn sessions/s' \
  'sweep set 10x1 ops/s' 'watch: burst notifications/s' 'memory per znode (bytes)' \
  'get-beside-set p50 ms' "get-beside-set: the writer's ops/s" 'set-64k server peak RSS MiB' \
  'leader failover, kill to first write (s, median of 1)' \
  "the leader's getData worst latency during the join (ms)"; do
  grep -q "^| $row | [0-9]" "$compare_dir/results.md" || { echo "missing: $row" >&2; exit 1; }
done
test -s "$compare_dir/throughput-vs-sessions.svg"
# --repeat: medians of alternating runs.
/usr/bin/python3 "$here/compare" --quick --servers paddock --profile debug --no-install \
  --no-build --workloads set --repeat 2 --workdir "$compare_dir-repeat"
grep -q 'the median of 2 runs per server' "$compare_dir-repeat/results.md"
grep -q '^| set ops/s | [0-9]' "$compare_dir-repeat/results.md"
# The null server (the ceiling column) beside Paddock: both columns carry numbers.
/usr/bin/python3 "$here/compare" --quick --servers paddock,null --profile debug --no-install \
  --no-build --workloads set-64x1 --workdir "$compare_dir-null"
grep -q '^| set-64x1 ops/s | [0-9][0-9,]* | [0-9]' "$compare_dir-null/results.md"
# bench/profile: instructions per operation under callgrind, and Paddock's functions listed.
/usr/bin/python3 "$here/profile" --profile debug --no-install --no-build --workloads set \
  --ops 300 --workdir "$workdir-profile"
grep -q '^| set | `--workload set' "$workdir-profile/results.md"
grep -q '^| [0-9,]* | `paddock_core::state::State::request`' "$workdir-profile/results.md"
# ... and on an ensemble: the members' counts beside their sum.
/usr/bin/python3 "$here/profile" --profile debug --no-install --no-build --topology ensemble \
  --workloads set --ops 200 --workdir "$workdir-profile-ensemble"
grep -q '^| set | .* | [0-9,]* ([0-9,]* + [0-9,]* + [0-9,]*) |$' \
  "$workdir-profile-ensemble/results.md"
echo "bench smoke: ok"
