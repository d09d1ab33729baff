# Shared by the benchmark scripts (source it): a scratch directory and the processes
# started in it, cleaned up on exit and on Ctrl-C, and a RaftBadger cluster launched the
# old service's way.

# Makes $work (a fresh directory under /tmp named after $1) and the cleanup trap that
# kills every pid in $pids and removes $work.
bench_begin() {
  work=$(mktemp -d "/tmp/rb-$1.XXXXXX")
  pids=()
  trap bench_cleanup INT TERM EXIT
}

bench_cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

# Starts a 3-node cluster with the server binary $1 on ports $2..$2+2, one terminal each
# as the old service's README does (replica1 bootstraps and adds the others), in $work.
# More environment for every node: $rb_env ("NAME=value ..."). Sets rb_server, rb_base,
# rb_pids and rb_endpoints, and adds the pids to $pids.
start_raftbadger() {
  rb_server=$1
  rb_base=$2
  rb_pids=()
  local i
  for i in 2 3 1; do start_rb_node "$i"; done
  rb_endpoints="localhost:$rb_base,localhost:$((rb_base + 1)),localhost:$((rb_base + 2))"
}

# (Re)starts node $1 (1..3) of the cluster start_raftbadger started, over its data.
start_rb_node() {
  local i=$1 port=$((rb_base + $1 - 1)) peers=""
  [ "$i" = 1 ] && peers="replica2:$((rb_base + 1)),replica3:$((rb_base + 2))"
  # shellcheck disable=SC2086
  (cd "$work" && exec env ${rb_env:-} NODE_ID=replica$i RAFT_ADDRESS=localhost:$port \
    RAFT_PEERS=$peers BADGER_DB_PATH=./rb$i PORT=$port \
    BOOTSTRAP=$([ "$i" = 1 ] && echo true || echo false) LISTEN_HOST=localhost \
    "$rb_server" >>"$work/rb$i.log" 2>&1) &
  pids+=($!)
  rb_pids[i - 1]=$!
}

# Kills the cluster start_raftbadger started and removes its data and logs.
bench_cleanup_cluster() {
  local p
  for p in "${rb_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${rb_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"/rb[123] "$work"/rb[123].log
}

# Stops node $1 with SIGTERM and waits for it to exit.
stop_rb_node() {
  local pid=${rb_pids[$1 - 1]}
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# A number field of loadgen's JSON line (stdin).
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# A memory figure of /proc/PID/status ($1: VmRSS, VmHWM, ...) in MiB for each further
# pid given, space-separated.
status_mib() {
  local key=$1 total="" p
  shift
  for p in "$@"; do
    total="$total $(awk -v k="$key:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$p/status" \
      2>/dev/null || echo "?")"
  done
  echo "${total# }"
}

# CPU time (user and system) used so far by all the pids given, in microseconds.
cpu_us() {
  local hz p
  hz=$(getconf CLK_TCK)
  for p in "$@"; do
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the name.
    sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0
  done | awk -v hz="$hz" '{t += $1} END {printf "%.0f", t * 1e6 / hz}'
}

# Resident memory, and its peak, in MiB of each pid given.
rss_mib() { status_mib VmRSS "$@"; }
hwm_mib() { status_mib VmHWM "$@"; }
