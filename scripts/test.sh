#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) and runs every test: `bazel test //...`.
# Extra arguments go to bazel, e.g. `bash scripts/test.sh --config=asan`.
# Ends with one line, "N passed, N failed", counting test cases (gtest cases; a target
# that produced no result, e.g. because it failed to build or timed out, counts as failed).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

bazel test //... "$@"
bazel_rc=$?

passed=0
failed=0
skipped=0
# `bazel query` lists every test target `bazel test //...` runs (not those tagged manual,
# such as a test binary that runs only through a wrapper built with the mutants); each
# writes bazel-testlogs/<pkg>/<name>/test.xml.
targets=$(bazel query 'tests(//...) except attr(tags, "manual", tests(//...))' 2>/dev/null)
for target in $targets; do
  label=${target#//}
  dir="bazel-testlogs/${label/://}"
  # One test.xml, or one per shard (shard_1_of_8/test.xml, ...) for sharded tests.
  xmls=()
  [ -f "$dir/test.xml" ] && xmls+=("$dir/test.xml")
  for shard in "$dir"/shard_*_of_*/test.xml; do
    [ -f "$shard" ] && xmls+=("$shard")
  done
  if [ ${#xmls[@]} -eq 0 ]; then
    echo "no result for $target" >&2
    failed=$((failed + 1))
    continue
  fi
  for xml in "${xmls[@]}"; do
    # A <testcase> is failed if a <failure> or <error> follows it before the next testcase,
    # skipped if marked so, passed otherwise.
    read -r p f s < <(awk '
      function close_case() { if (open) { if (bad) f++; else if (skip) s++; else p++ } open = 0 }
      /<testcase/ { close_case(); open = 1; bad = 0; skip = ($0 ~ /result="skipped"/) }
      /<failure|<error/ { if (open) bad = 1 }
      /<testcase[^>]*\/>/ { close_case() }
      END { close_case(); print p + 0, f + 0, s + 0 }' "$xml")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
  done
done

# The main job itself: scripts/run.sh starts a fresh 3-node cluster and runs the demo,
# with the binaries the tests just built (one more case in the count).
main_job() {
  local bin log port
  bin=$(mktemp -d)
  log=$(mktemp)
  ln -s "$PWD/bazel-bin/server/raftbadger" "$bin/raftbadger"
  ln -s "$PWD/bazel-bin/client/raftbadger-cli" "$bin/raftbadger-cli"
  for attempt in 1 2 3; do  # another process may hold the ports drawn
    port=$((20000 + RANDOM % 20000))
    if RB_NO_WAIT=1 RB_BIN="$bin" RB_BASE_PORT=$port RB_DATA="$bin/data" \
        timeout 180 bash scripts/run.sh >"$log" 2>&1; then
      rm -rf "$bin" "$log"
      return 0
    fi
    grep -q "is in use" "$log" || break
  done
  echo "the main job (scripts/run.sh) failed; its output:" >&2
  tail -n 30 "$log" >&2
  return 1
}
if [ -x bazel-bin/server/raftbadger ] && [ -x bazel-bin/client/raftbadger-cli ]; then
  echo "test: the main job (scripts/run.sh: a fresh 3-node cluster and the demo)..."
  if main_job; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
else
  echo "no raftbadger binaries to run the main job with" >&2
  failed=$((failed + 1))
fi

if [ "$bazel_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "bazel test exited with $bazel_rc but no test case failed (build error?)" >&2
  failed=1
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$bazel_rc" -eq 0 ]
