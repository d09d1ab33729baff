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
# Sets rb_pids and rb_endpoints, and adds the pids to $pids.
start_raftbadger() {
  local server=$1 base=$2 i port peers
  rb_pids=()
  for i in 2 3 1; do
    port=$((base + i - 1))
    if [ "$i" = 1 ]; then peers="replica2:$((base + 1)),replica3:$((base + 2))"; else peers=""; fi
    (cd "$work" && NODE_ID=replica$i RAFT_ADDRESS=localhost:$port RAFT_PEERS=$peers \
      BADGER_DB_PATH=./rb$i PORT=$port BOOTSTRAP=$([ "$i" = 1 ] && echo true || echo false) \
      LISTEN_HOST=localhost exec "$server" >"$work/rb$i.log" 2>&1) &
    pids+=($!)
    rb_pids+=($!)
  done
  rb_endpoints="localhost:$base,localhost:$((base + 1)),localhost:$((base + 2))"
}

# A number field of loadgen's JSON line (stdin).
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# Resident memory in MiB of each pid given, space-separated.
rss_mib() {
  local total="" p
  for p in "$@"; do
    total="$total $(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$p/status 2>/dev/null || echo "?")"
  done
  echo "${total# }"
}
