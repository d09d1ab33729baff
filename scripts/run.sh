#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) and runs the main job.
# Until the server exists this is the in-process demo cluster on the pure Raft core:
# elections, replication, a leader crash and re-election, narrated. Extra arguments go to
# the demo, e.g. `bash scripts/run.sh --nodes=5 --seed=3`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bazel run -c opt //tools:demo_cluster -- "$@"
