#!/bin/bash
# The timeline page (sim/timeline.h) in a real browser: headless Chromium loads the page of
# a known failing run (the session_reapplies mutant, seed 14: a retried write applied twice
# undoes a later one, and a read sees it) and of a passing one, runs its script, and dumps the DOM. The page must have drawn
# (data-rendered="yes"), with no script error, and say what happened. The failing run is
# replayed from its schedule file, so new faults (which move what seeds draw) leave it be.
set -u
simulate="$1"
schedule="$2"
chromium_bin="$(command -v chromium || true)"
if [ -z "$chromium_bin" ]; then
  echo "FAIL: chromium is not installed (scripts/install-deps.sh installs it)"
  exit 1
fi
export HOME="$TEST_TMPDIR"  # Chromium writes its profile there
fail=0

render() {  # page -> its DOM after the script ran
  timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$TEST_TMPDIR/profile" --virtual-time-budget=10000 --dump-dom "file://$1" \
    2>"$TEST_TMPDIR/chromium.log"
}

expect() {  # what, dom, pattern
  if grep -q -- "$3" <<<"$2"; then
    echo "ok: $1"
  else
    echo "FAIL: $1 (no '$3' in the rendered page)"
    fail=1
  fi
}

failing="$TEST_TMPDIR/failing.html"
"$simulate" --schedule="$schedule" --html="$failing" >"$TEST_TMPDIR/failing.txt"
grep -q "^FAILED seed 14 (linearizability check)" "$TEST_TMPDIR/failing.txt" || {
  echo "FAIL: the known failing run did not fail as expected:"; tail -5 "$TEST_TMPDIR/failing.txt"; exit 1; }
dom="$(render "$failing")"
expect "the failing run's page drew" "$dom" 'data-rendered="yes"'
expect "no script error" "$dom" '<div id="errors"></div>'
expect "the violation is shown" "$dom" 'linearizability check failed'
expect "with the operation that cannot be ordered" "$dom" 'cannot be placed before it returned'
expect "the summary names the seed" "$dom" 'seed 14: '
expect "message types can be filtered" "$dom" 'data-type="MsgReadIndex"'

passing="$TEST_TMPDIR/passing.html"
"$simulate" --seed=1 --html="$passing" >"$TEST_TMPDIR/passing.txt" || {
  echo "FAIL: seed 1 should pass"; exit 1; }
dom="$(render "$passing")"
expect "the passing run's page drew" "$dom" 'data-rendered="yes"'
expect "no script error there either" "$dom" '<div id="errors"></div>'
expect "it says no check failed" "$dom" 'No violation: every check passed.'

[ $fail -eq 0 ] || { echo "chromium's log:"; tail -20 "$TEST_TMPDIR/chromium.log"; }
exit $fail
