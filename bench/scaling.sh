#!/usr/bin/env bash
# How RaftBadger's cost grows on this machine. A 3-node cluster on loopback, fsync on,
# fresh data directories, the old service's launch (as bench/compare_etcd.sh starts it);
# bench/loadgen drives it. Four tables:
#   1. write throughput, p50 and p99 against the number of clients (1 to 1,024) and the
#      value size, with each node's resident memory after every step;
#   2. data size (10k, 100k, 1M keys of 256 B): fill rate, database size, memory, and
#      the time a follower takes to restart over that data;
#   3. a snapshot of that 1M-key state: a follower stopped, the leader moves past its
#      log, and the follower's catch-up by snapshot, with both nodes' peak memory;
#   4. catch-up of a follower 100k entries behind, by log (no snapshot taken) and by
#      snapshot, and restart time against log length.
# Kills everything it started, on Ctrl-C too.
#
#   bash bench/scaling.sh                  # 10 s per step after 2 s of warm-up
#   DURATION=30s KEYS_MAX=100000 bash bench/scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
base=${BASE_PORT:-52100}
keys_max=${KEYS_MAX:-1000000}

bash scripts/install-deps.sh >/dev/null
echo "scaling: building (bazel -c opt)"
bazel build -c opt //server:raftbadger //bench:loadgen //client:raftbadger-cli 2>/dev/null
bin=$root/bazel-bin
loadgen=$bin/bench/loadgen
cli=$bin/client/raftbadger-cli

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_begin scaling
start_raftbadger "$bin/server/raftbadger" "$base"

# Waits until the cluster at $rb_endpoints has a leader and two followers caught up, and
# takes a write.
await_cluster() {
  for _ in $(seq 1 120); do
    if [ "$("$cli" --endpoints="$rb_endpoints" status 2>/dev/null |
      awk '$3 == "leader" {l++} $3 == "follower" && $8 == 0 {f++} END {print l + 0, f + 0}')" \
      = "1 2" ] && "$loadgen" --api=kv --endpoints="$rb_endpoints" --clients=1 \
      --duration=0.2s --warmup=0s --keys=1 >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "scaling: the cluster did not come up in 60 s; logs in $work" >&2
  trap - EXIT
  exit 1
}
echo "scaling: waiting for the cluster"
await_cluster

errors() { sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p'; }

step() {  # label, loadgen flags
  local out
  # shellcheck disable=SC2086
  out=$("$loadgen" --api=kv --endpoints="$rb_endpoints" $2 --duration=$duration --warmup=$warmup \
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

# The node number (1..3) of the leader.
leader_node() {
  local port
  port=$("$cli" --endpoints="$rb_endpoints" status 2>/dev/null |
    awk '$3 == "leader" {sub(/.*:/, "", $2); print $2; exit}')
  echo $((port - rb_base + 1))
}

# Seconds (with ms) from now until node $1 answers, is a follower and has applied the
# highest commit index any member reports. Polls every 50 ms, for at most 20 minutes.
await_caught_up() {
  local start now row
  start=$(date +%s.%N)
  for _ in $(seq 1 24000); do
    row=$("$cli" --endpoints="$rb_endpoints" status 2>/dev/null |
      awk -v e="localhost:$((rb_base + $1 - 1))" '$2 == e {print $3, $8}')
    if [ "$row" = "follower 0" ]; then
      now=$(date +%s.%N)
      awk -v a="$start" -v b="$now" 'BEGIN {printf "%.2f", b - a}'
      return 0
    fi
    sleep 0.05
  done
  echo "never"
}

# A follower's node number: the first of 2, 3, 1 that does not lead.
a_follower() {
  local l
  l=$(leader_node)
  for i in 2 3 1; do [ "$i" != "$l" ] && { echo "$i"; return; }; done
}

fill() {  # keys, clients: writes keys 0..n-1 once, 256 B each; prints ops/s
  "$loadgen" --api=kv --endpoints="$rb_endpoints" --clients="$2" --sequential --operations="$1" \
    --keys="$1" --warmup=0s --value_bytes=256 --json | tail -1 | field ops_per_s
}

# A fresh cluster: the large values above left a log of 64 KiB entries and free pages.
bench_cleanup_cluster
start_raftbadger "$rb_server" "$rb_base"
await_cluster

echo
echo "== data size: keys of 256 B written once each (64 clients), then a follower restarted"
printf "%-10s | %10s | %8s | %-14s | %9s | %-14s\n" "keys" "fill ops/s" "DB MiB" \
  "RSS MiB/node" "restart s" "RSS after"
for n in 10000 100000 1000000; do
  [ "$n" -gt "$keys_max" ] && break
  rate=$(fill "$n" 64)
  f=$(a_follower)
  db=$(du -sm "$work/rb$f" | cut -f1)
  rss=$(rss_mib "${rb_pids[@]}")
  stop_rb_node "$f"
  start_rb_node "$f"
  took=$(await_caught_up "$f")
  printf "%-10s | %10.0f | %8s | %-14s | %9s | %-14s\n" "$n" "$rate" "$db" "$rss" "$took" \
    "$(rss_mib "${rb_pids[@]}")"
done

echo
echo "== snapshot of that state: a follower stopped while 2,000 writes move the leader past"
echo "   its log, then started: it catches up by snapshot"
f=$(a_follower)
l=$(leader_node)
stop_rb_node "$f"
"$loadgen" --api=kv --endpoints="$rb_endpoints" --clients=64 --operations=2000 --warmup=0s \
  --keys=1000 --json >/dev/null
leader_hwm_before=$(hwm_mib "${rb_pids[l - 1]}")
start_rb_node "$f"
took=$(await_caught_up "$f")
snap=$(grep -h "sent snapshot" "$work/rb$l.log" | tail -1 | sed 's/.*sent snapshot/sent snapshot/')
printf "caught up in %s s; %s\n" "$took" "$snap"
printf "peak RSS MiB: follower %s, leader %s (%s before)\n" "$(hwm_mib "${rb_pids[f - 1]}")" \
  "$(hwm_mib "${rb_pids[l - 1]}")" "$leader_hwm_before"

# Catch-up of a follower 100k entries behind, on a fresh cluster with $1 as
# SNAPSHOT_THRESHOLD; then a restart of that follower over its log.
catch_up() {
  bench_cleanup_cluster
  rb_env="SNAPSHOT_THRESHOLD=$1"
  start_raftbadger "$rb_server" "$rb_base"
  await_cluster
  fill 10000 64 >/dev/null
  local f took restart
  f=$(a_follower)
  stop_rb_node "$f"
  "$loadgen" --api=kv --endpoints="$rb_endpoints" --clients=64 --operations=100000 \
    --warmup=0s --keys=10000 --json >/dev/null
  start_rb_node "$f"
  took=$(await_caught_up "$f")
  stop_rb_node "$f"
  start_rb_node "$f"
  restart=$(await_caught_up "$f")
  printf "%-26s | %12s | %9s | %s\n" "$2" "$took" "$restart" \
    "$(grep -c "received snapshot" "$work/rb$f.log")"
}

echo
echo "== a follower 100k writes behind (10k keys of 256 B), on a fresh cluster each"
printf "%-26s | %12s | %9s | %s\n" "by" "catch-up s" "restart s" "snapshots received"
catch_up 1000000 "log (never compacted)"
catch_up 1000 "snapshot (compacted every 1,000)"
