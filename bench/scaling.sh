#!/usr/bin/env bash
# How RaftBadger's cost grows on this machine: write throughput, p50 and p99 against the
# number of clients (1 to 1,024) and against the value size, with each node's resident
# memory after every step. A 3-node cluster on loopback, fsync on, fresh data directories,
# the old service's launch (as bench/compare_etcd.sh starts it); bench/loadgen drives it.
# Kills everything it started, on Ctrl-C too.
#
#   bash bench/scaling.sh                  # 10 s per step after 2 s of warm-up
#   DURATION=30s bash bench/scaling.sh
#
# Not measured here yet (the performance issue asks for them): restart time and memory
# against data size, a follower's catch-up by log and by snapshot, and the send and
# install of a 256 MiB snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
base=${BASE_PORT:-52100}

bash scripts/install-deps.sh >/dev/null
echo "scaling: building (bazel -c opt)"
bazel build -c opt //server:raftbadger //bench:loadgen 2>/dev/null
bin=$root/bazel-bin
loadgen=$bin/bench/loadgen

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_begin scaling
start_raftbadger "$bin/server/raftbadger" "$base"
endpoints=$rb_endpoints

echo "scaling: waiting for the cluster"
for attempt in $(seq 1 60); do
  if "$loadgen" --api=kv --endpoints=$endpoints --clients=1 --duration=0.2s --warmup=0s \
    --keys=1 >/dev/null 2>&1; then
    break
  fi
  if [ "$attempt" = 60 ]; then
    echo "scaling: the cluster did not come up in 30 s; logs in $work" >&2
    trap - EXIT
    exit 1
  fi
  sleep 0.5
done

errors() { sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p'; }

step() {  # label, loadgen flags
  local out
  # shellcheck disable=SC2086
  out=$("$loadgen" --api=kv --endpoints=$endpoints $2 --duration=$duration --warmup=$warmup \
    --json | tail -1)
  printf "%-22s | %10.0f %9s %9s | %-14s | %s\n" "$1" "$(echo "$out" | field ops_per_s)" \
    "$(echo "$out" | field p50_us)" "$(echo "$out" | field p99_us)" "$(rss_mib "${rb_pids[@]}")" \
    "$(echo "$out" | errors)"
}

echo
echo "== $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(date -u '+%F %H:%M') UTC"
echo "== raftbadger $(git rev-parse --short HEAD); 1,000 keys; $duration per step after $warmup warm-up"
printf "%-22s | %10s %9s %9s | %-14s | %s\n" "writes" "ops/s" "p50 us" "p99 us" \
  "RSS MiB/node" "errors by status"
for c in 1 8 64 256 1024; do
  step "$c clients, 256 B" "--clients=$c --value_bytes=256 --connections=$((c < 4 ? 1 : 4))"
done
for v in 1024 4096 16384 65536; do
  step "64 clients, $v B" "--clients=64 --value_bytes=$v"
done
