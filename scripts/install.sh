#!/usr/bin/env bash
# Builds raftbadger and raftbadger-cli (optimized) and installs them in /usr/local/bin (or
# $PREFIX/bin), so that the README's three-terminal sequence runs as written.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
prefix=${PREFIX:-/usr/local}
echo "install: building raftbadger and raftbadger-cli (optimized)..."
bazel build -c opt --noshow_progress //server:raftbadger //client:raftbadger-cli
mkdir -p "$prefix/bin"
install -m 0755 bazel-bin/server/raftbadger "$prefix/bin/raftbadger"
install -m 0755 bazel-bin/client/raftbadger-cli "$prefix/bin/raftbadger-cli"
echo "install: $prefix/bin/raftbadger and $prefix/bin/raftbadger-cli"
