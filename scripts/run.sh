#!/usr/bin/env bash
# The main job: on a fresh Debian 12 machine (as root), installs what is missing, builds
# the server and the CLI, starts a local 3-node RaftBadger cluster from scratch (the old
# Go service's three-terminal launch, in one terminal), runs the demo against it, prints
# the addresses and a ready-to-paste raftbadger-cli line, and keeps the cluster up until
# Ctrl-C (then stops every node with SIGTERM).
#
#   bash scripts/run.sh                # ports 50051-50053, data in ./run-data (fresh)
#   RB_BASE_PORT=6000 bash scripts/run.sh
#   RB_NO_WAIT=1 bash scripts/run.sh   # stop after the demo (scripts/test.sh runs this)
#   RB_BIN=DIR bash scripts/run.sh     # use the binaries in DIR instead of installing them
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
base=${RB_BASE_PORT:-50051}
metrics_base=${RB_METRICS_BASE_PORT:-9101}  # /metrics, /livez, /readyz of each node
data=${RB_DATA:-$root/run-data}

if [ -n "${RB_BIN:-}" ]; then
  bin=$RB_BIN
else
  PREFIX="$root/.run-bin" bash scripts/install.sh
  bin="$root/.run-bin/bin"
fi

pids=()
stop() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo "run: stopping the cluster..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    echo "run: stopped. Logs and data are in $data"
  fi
}
trap stop INT TERM EXIT

for p in $base $((base + 1)) $((base + 2)) $metrics_base $((metrics_base + 1)) $((metrics_base + 2)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "run: port $p is in use (another cluster running?). Set RB_BASE_PORT and RB_METRICS_BASE_PORT." >&2
    exit 1
  fi
done

rm -rf "$data"
mkdir -p "$data"
echo "run: starting 3 nodes (logs in $data/replica*.log)"
for i in 2 3 1; do
  port=$((base + i - 1))
  if [ "$i" = 1 ]; then
    peers="replica2:$((base + 1)),replica3:$((base + 2))"
    bootstrap=true
  else
    peers=""
    bootstrap=false
  fi
  (cd "$data" && NODE_ID=replica$i RAFT_ADDRESS=localhost:$port RAFT_PEERS=$peers \
      BADGER_DB_PATH=./replica$i PORT=$port BOOTSTRAP=$bootstrap LISTEN_HOST=localhost \
      METRICS_PORT=$((metrics_base + i - 1)) \
      exec "$bin/raftbadger" >"$data/replica$i.log" 2>&1) &
  pids+=($!)
done

endpoints="localhost:$base,localhost:$((base + 1)),localhost:$((base + 2))"
cli="$bin/raftbadger-cli --endpoints=$endpoints"
echo "run: waiting for a leader and all three voters..."
for attempt in $(seq 1 150); do
  if $cli --timeout=1s status 2>/dev/null | awk 'NR > 1 && $3 == "follower" {f++} NR > 1 && $3 == "leader" {l++} END {exit !(l == 1 && f == 2)}'; then
    break
  fi
  if [ "$attempt" = 150 ]; then
    echo "run: the cluster did not form within 30 s; see $data/replica*.log" >&2
    exit 1
  fi
  sleep 0.2
done
$cli status
echo
echo "run: the old client's sequence (write through the leader, read from each follower):"
$cli demo
echo
echo "The cluster is up: replica1 localhost:$base, replica2 localhost:$((base + 1)), replica3 localhost:$((base + 2))"
echo "Try:"
echo "  $cli put greeting hello"
echo "  $cli get greeting --consistency=linearizable"
echo "  $cli status"
echo "  $cli member list"
echo "  curl -s localhost:$metrics_base/metrics | grep ^rb_"
if [ -n "${RB_NO_WAIT:-}" ]; then
  exit 0
fi
echo "Press Ctrl-C to stop the cluster."
wait
