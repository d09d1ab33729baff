#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer. Builds every target in fuzz/ with clang, ASan and
# UBSan (--config=fuzz, in an output base of its own, since switching compilers
# reconfigures the toolchain) and runs each for SECONDS on a copy of its corpus.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 60 s, every target
#
# What each run added to the corpus is in fuzz-out/<target>/corpus (copy what is worth
# keeping into fuzz/corpus/<target>/); a crash leaves its input in fuzz-out/<target>/ and
# the script exits non-zero. Replay one: fuzz-out/bin/<target>_fuzzer <input>, or, with
# any compiler, bazel run //fuzz:<target> -- --runs=0 $PWD/<input>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(peer_message_fuzz request_fuzz config_fuzz store_open_fuzz)
fi

bash scripts/install-deps.sh --fuzz
output_base="${RB_FUZZ_OUTPUT_BASE:-$HOME/.cache/raftbadger/bazel-fuzz}"
labels=()
for t in "${targets[@]}"; do labels+=("//fuzz:${t}_fuzzer"); done
bazel --output_base="$output_base" build --config=fuzz "${labels[@]}"
bin="$(bazel --output_base="$output_base" info --config=fuzz bazel-bin 2>/dev/null)/fuzz"

out="$PWD/fuzz-out"
mkdir -p "$out/bin"
failed=0
printf '%-20s %12s %10s %8s %10s %s\n' target executions "exec/s" coverage "new units" result
for t in "${targets[@]}"; do
  cp -f "$bin/${t}_fuzzer" "$out/bin/"
  mkdir -p "$out/$t/corpus"
  cp -n fuzz/corpus/"$t"/* "$out/$t/corpus/" 2>/dev/null || true
  log="$out/$t/fuzz.log"
  set +e
  (cd "$out/$t" && "$out/bin/${t}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=30 -rss_limit_mb=4096 corpus >"$log" 2>&1)
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}')
  added=$(grep -o 'stat::new_units_added: *[0-9]*' "$log" | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc; see $log)"
    failed=1
  fi
  printf '%-20s %12s %10s %8s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${added:-?}" "$result"
done
exit $failed
