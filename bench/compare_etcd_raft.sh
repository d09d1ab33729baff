#!/usr/bin/env bash
# Runs the same Raft-core workloads on RaftBadger's core and on etcd's Go raft (v3.4 from
# Debian's golang-etcd-server-dev), one after the other in one run, on this machine.
# Installs Go and the etcd sources (only needed for this comparison) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
for p in golang-go golang-etcd-server-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p"
  fi
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# GOPATH mode over Debian's packaged Go sources: offline, no module downloads.
(cd "$out" && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$out/cache" \
  go build -o "$out/etcd_raft_bench" "$OLDPWD/bench/etcd_raft/main.go")
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(date -u +%F)"
echo "== RaftBadger core (C++, -c opt)"
bazel run -c opt //bench:raft_bench -- --benchmark_min_time=2 \
  --benchmark_filter='BM_(SingleVoter|ThreeVoter)' 2>/dev/null | grep '^BM_'
echo "== etcd raft v3.4 (Go $(go version | awk '{print $3}'))"
"$out/etcd_raft_bench"
