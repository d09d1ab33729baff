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
# `bazel query` lists every test target; each writes bazel-testlogs/<pkg>/<name>/test.xml.
targets=$(bazel query 'tests(//...)' 2>/dev/null)
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
