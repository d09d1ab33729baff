#!/usr/bin/env bash
# Side by side on this machine: a 3-node RaftBadger cluster and a 3-member etcd cluster
# (Debian's etcd-server, 3.4) on loopback, fresh data directories, fsync on in both, the
# same Raft timing (100 ms heartbeat, 1 s election timeout), the same load generator
# (bench/loadgen) against each in turn. Prints one table: throughput, p50 and p99 per
# scenario and system, the ratio, the CPU time each system's three nodes and the load
# generator spent per operation, and each node's resident memory after the 64-client write
# scenario. Last, the floor: what the same load makes of a server that answers every call
# at once (bench/grpc_floor), which no system behind gRPC can beat on this machine.
# Installs what is missing. Kills everything it started, on Ctrl-C too.
#
#   bash bench/compare_etcd.sh                 # 10 s per scenario and system
#   DURATION=30s bash bench/compare_etcd.sh
#   SCENARIOS="w64 lin64" bash bench/compare_etcd.sh   # a subset (names below)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
base=${BASE_PORT:-52000}

bash scripts/install-deps.sh >/dev/null
if ! command -v etcd >/dev/null; then
  echo "compare: installing Debian's etcd-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server \
    >/dev/null
fi
# The packaged service would hold the default ports; this script runs its own members.
systemctl stop etcd 2>/dev/null || true

echo "compare: building (bazel -c opt)"
bazel build -c opt //server:raftbadger //client:raftbadger-cli //bench:loadgen //bench:grpc_floor \
  2>/dev/null
bin=$root/bazel-bin
loadgen=$bin/bench/loadgen

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_begin compare

# RaftBadger: the old service's launch, one terminal each.
start_raftbadger "$bin/server/raftbadger" "$base"

# etcd: three members, defaults otherwise (fsync of its WAL on every commit).
cluster=""
for i in 1 2 3; do
  cluster="${cluster:+$cluster,}e$i=http://127.0.0.1:$((base + 20 + i))"
done
etcd_pids=()
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:$((base + 10 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((base + 10 + i))" \
    --listen-peer-urls "http://127.0.0.1:$((base + 20 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 20 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --heartbeat-interval 100 --election-timeout 1000 >"$work/etcd$i.log" 2>&1 &
  pids+=($!)
  etcd_pids+=($!)
done
etcd_endpoints="127.0.0.1:$((base + 11)),127.0.0.1:$((base + 12)),127.0.0.1:$((base + 13))"

echo "compare: waiting for both clusters"
for system in rb etcd; do
  if [ $system = rb ]; then args=(--api=kv --endpoints=$rb_endpoints); else args=(--api=etcd --endpoints=$etcd_endpoints); fi
  for attempt in $(seq 1 60); do
    if "$loadgen" "${args[@]}" --clients=1 --duration=0.2s --warmup=0s --keys=1 >/dev/null 2>&1; then
      break
    fi
    if [ "$attempt" = 60 ]; then
      echo "compare: $system did not come up in 30 s; logs in $work" >&2
      trap - EXIT
      exit 1
    fi
    sleep 0.5
  done
done

# name|loadgen flags (beyond the endpoints); reads use RaftBadger's names, mapped for etcd.
all_scenarios=(
  "w1|--clients=1 --value_bytes=256"
  "w8|--clients=8 --value_bytes=256"
  "w64|--clients=64 --value_bytes=256"
  "w256|--clients=256 --value_bytes=256"
  "lin64|--clients=64 --read_percent=100 --consistency=linearizable"
  "stale64|--clients=64 --read_percent=100 --consistency=stale --reads_on=all"
  "mix64|--clients=64 --read_percent=90 --consistency=linearizable"
  "w64_4k|--clients=64 --value_bytes=4096"
  "w64_64k|--clients=64 --value_bytes=65536"
)
wanted=${SCENARIOS:-}
declare -A etcd_ops_of

# CPU microseconds per operation: $1 and $2 the nodes' CPU before and after, $3 loadgen's
# JSON line (its ops_all counts the warm-up too, as the CPU does).
cpu_per_op() {
  awk -v a="$1" -v b="$2" -v n="$(echo "$3" | field ops_all)" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "-" }'
}

# $1 / $2 with two decimals, or "-" without a denominator.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "== $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(date -u '+%F %H:%M') UTC"
echo "== raftbadger $(git rev-parse --short HEAD), $(etcd --version | head -1)"
echo "== $duration per scenario and system after $warmup warm-up; latencies in microseconds"
echo "== cpu: microseconds of CPU per operation, warm-up included: the three nodes (rb, etcd)"
echo "==      and the load generator against each (lg rb, lg etcd)"
printf "%-9s | %10s %8s %8s | %10s %8s %8s | %6s | %5s %5s %5s %5s\n" scenario "rb ops/s" p50 p99 \
  "etcd ops/s" p50 p99 ratio "rb" "etcd" "lg rb" "lg et"
for entry in "${all_scenarios[@]}"; do
  name=${entry%%|*}
  flags=${entry#*|}
  if [ -n "$wanted" ] && [[ " $wanted " != *" $name "* ]]; then continue; fi
  cpu_before=$(cpu_us "${rb_pids[@]}")
  # shellcheck disable=SC2086
  rb=$("$loadgen" --api=kv --endpoints=$rb_endpoints $flags --duration=$duration \
    --warmup=$warmup --json | tail -1)
  rb_cpu=$(cpu_per_op "$cpu_before" "$(cpu_us "${rb_pids[@]}")" "$rb")
  etcd_flags=${flags/--consistency=stale/--consistency=serializable}
  cpu_before=$(cpu_us "${etcd_pids[@]}")
  # shellcheck disable=SC2086
  et=$("$loadgen" --api=etcd --endpoints=$etcd_endpoints $etcd_flags --duration=$duration \
    --warmup=$warmup --json | tail -1)
  et_cpu=$(cpu_per_op "$cpu_before" "$(cpu_us "${etcd_pids[@]}")" "$et")
  rb_ops=$(echo "$rb" | field ops_per_s)
  et_ops=$(echo "$et" | field ops_per_s)
  etcd_ops_of[$name]=$et_ops
  printf "%-9s | %10.0f %8s %8s | %10.0f %8s %8s | %6s | %5s %5s %5.0f %5.0f\n" "$name" \
    "$rb_ops" "$(echo "$rb" | field p50_us)" "$(echo "$rb" | field p99_us)" "$et_ops" \
    "$(echo "$et" | field p50_us)" "$(echo "$et" | field p99_us)" "$(ratio "$rb_ops" "$et_ops")" \
    "$rb_cpu" "$et_cpu" \
    "$(echo "$rb" | field cpu_us_per_op)" "$(echo "$et" | field cpu_us_per_op)"
  if [ "$name" = w64 ]; then
    rss_line="resident memory after w64 (MiB per node): raftbadger $(rss_mib "${rb_pids[@]}"), etcd $(rss_mib "${etcd_pids[@]}")"
  fi
done
[ -n "${rss_line:-}" ] && echo "$rss_line"

# The floor, for the scenarios it can stand in for (a Put, a Range).
"$bin/bench/grpc_floor" --port=$((base + 30)) >"$work/floor.log" 2>&1 &
floor_pid=$!
pids+=("$floor_pid")
floor=(--api=etcd --endpoints=localhost:$((base + 30)))
for attempt in $(seq 1 20); do
  "$loadgen" "${floor[@]}" --clients=1 --duration=0.1s --warmup=0s --keys=1 >/dev/null 2>&1 && break
  [ "$attempt" = 20 ] && { echo "compare: grpc_floor did not start; log in $work" >&2; exit 1; }
  sleep 0.25
done
for entry in "w64|--clients=64 --value_bytes=256" "lin64|--clients=64 --read_percent=100"; do
  name=${entry%%|*}
  if [ -n "$wanted" ] && [[ " $wanted " != *" $name "* ]]; then continue; fi
  cpu_before=$(cpu_us "$floor_pid")
  # shellcheck disable=SC2086
  fl=$("$loadgen" "${floor[@]}" ${entry#*|} --duration=$duration --warmup=$warmup --json | tail -1)
  fl_ops=$(echo "$fl" | field ops_per_s)
  printf "floor %-6s %6.0f ops/s, %s x etcd's; cpu per op: server %s, load generator %.0f\n" \
    "$name" "$fl_ops" "$(ratio "$fl_ops" "${etcd_ops_of[$name]:-0}")" \
    "$(cpu_per_op "$cpu_before" "$(cpu_us "$floor_pid")" "$fl")" "$(echo "$fl" | field cpu_us_per_op)"
done
