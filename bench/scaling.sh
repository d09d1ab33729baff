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

work=$(mktemp -d /tmp/rb-scaling.XXXXXX)
pids=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup INT TERM EXIT

for i in 2 3 1; do
  port=$((base + i - 1))
  if [ "$i" = 1 ]; then peers="replica2:$((base + 1)),replica3:$((base + 2))"; else peers=""; fi
  (cd "$work" && NODE_ID=replica$i RAFT_ADDRESS=localhost:$port RAFT_PEERS=$peers \
    BADGER_DB_PATH=./rb$i PORT=$port BOOTSTRAP=$([ "$i" = 1 ] && echo true || echo false) \
    LISTEN_HOST=localhost exec "$bin/server/raftbadger" >"$work/rb$i.log" 2>&1) &
  pids+=($!)
done
endpoints="localhost:$base,localhost:$((base + 1)),localhost:$((base + 2))"

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

field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
rss_mib() {
  local total=""
  for p in "${pids[@]}"; do
    total="$total $(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$p/status 2>/dev/null || echo "?")"
  done
  echo "${total# }"
}
errors() { sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p'; }

step() {  # label, loadgen flags
  local out
  # shellcheck disable=SC2086
  out=$("$loadgen" --api=kv --endpoints=$endpoints $2 --duration=$duration --warmup=$warmup \
    --json | tail -1)
  printf "%-22s | %10.0f %9s %9s | %-14s | %s\n" "$1" "$(echo "$out" | field ops_per_s)" \
    "$(echo "$out" | field p50_us)" "$(echo "$out" | field p99_us)" "$(rss_mib)" \
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
