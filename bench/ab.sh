#!/bin/bash
# A/B of two RaftBadger server binaries on this machine, in ABBA rounds: each round runs
# A, B, B, A, each run on a fresh 3-node cluster (the old service's launch, bench/lib.sh),
# so that neither a pair's order nor the machine's drift favours either side. (Runs in one
# order only misled once: on these machines the second run of a pair is faster,
# docs/performance.md.) Prints a line per run, then each binary's means: throughput, p50,
# p99 and the nodes' CPU per operation.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [loadgen flags...]    # default: --clients=1
#   ROUNDS=3 DURATION=10s WARMUP=2s PORT_BASE=46100 bash bench/ab.sh ...
#
# Build the binaries to compare first, e.g. with `bazel build -c opt //server:raftbadger`
# at each commit, copying bazel-bin/server/raftbadger aside each time.
set -euo pipefail

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
  echo "usage: bash bench/ab.sh OLD_BINARY NEW_BINARY [loadgen flags...]" >&2
  exit 2
fi
a=$(realpath "$1")
b=$(realpath "$2")
shift 2
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(--clients=1)
rounds=${ROUNDS:-3}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
base=${PORT_BASE:-46100}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "ab: building the load generator (bazel -c opt)"
bazel build -c opt //bench:loadgen 2>/dev/null
loadgen=$(bazel info -c opt bazel-bin 2>/dev/null)/bench/loadgen

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_begin ab

# One run: a fresh cluster of binary $1, the load, one result line (label, then
# ops/s p50 p99 cpu/op) appended to $work/results.
run_once() {
  local label=$1 binary=$2 attempt out c0 c1 n
  start_raftbadger "$binary" "$base"
  for attempt in $(seq 1 60); do
    "$loadgen" --api=kv --endpoints="$rb_endpoints" --clients=1 --duration=0.2s --warmup=0s \
      --keys=1 >/dev/null 2>&1 && break
    if [ "$attempt" = 60 ]; then
      echo "ab: $binary did not come up in 30 s; logs in $work" >&2
      trap - EXIT
      exit 1
    fi
    sleep 0.5
  done
  c0=$(cpu_us "${rb_pids[@]}")
  out=$("$loadgen" --api=kv --endpoints="$rb_endpoints" "${flags[@]}" --duration="$duration" \
    --warmup="$warmup" --json | tail -1)
  c1=$(cpu_us "${rb_pids[@]}")
  n=$(echo "$out" | field ops_all)
  bench_cleanup_cluster
  if [ -z "$n" ] || [ "$n" = 0 ]; then
    echo "ab: no operations: $out" >&2
    exit 1
  fi
  echo "$label $(echo "$out" | field ops_per_s) $(echo "$out" | field p50_us)" \
    "$(echo "$out" | field p99_us) $(((c1 - c0) / n))" | tee -a "$work/results"
}

echo "ab: A=$a"
echo "ab: B=$b"
echo "ab: ${flags[*]}, $rounds rounds of ABBA, $duration each after $warmup of warm-up"
echo "run ops/s p50_us p99_us cpu_us_per_op"
for _ in $(seq 1 "$rounds"); do
  run_once A "$a"
  run_once B "$b"
  run_once B "$b"
  run_once A "$a"
done
echo "means (of $((rounds * 2)) runs each):"
awk '{ops[$1] += $2; p50[$1] += $3; p99[$1] += $4; cpu[$1] += $5; k[$1]++}
  END {for (x in k) printf "%s ops/s=%.0f p50_us=%.0f p99_us=%.0f cpu_us_per_op=%.0f\n",
    x, ops[x] / k[x], p50[x] / k[x], p99[x] / k[x], cpu[x] / k[x]}' "$work/results" | sort
