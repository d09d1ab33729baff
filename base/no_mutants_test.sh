#!/bin/bash
# No production binary carries a mutant (base/mutation.h): neither the switch that turns
# one on nor the catalogue's names. The simulator built with the mutants must carry both,
# which shows that this check can see them.
set -u
fail=0
carries_mutants() {  # binary -> 0 if it holds the mutation machinery
  nm -C "$1" 2>/dev/null | grep -q 'rb::mutation::Activate' || grep -aq 'vote_ignores_log' "$1"
}
for bin in "$@"; do
  case "$bin" in
    */mutants)
      if ! carries_mutants "$bin"; then
        echo "FAIL: $bin was built with the mutants but shows none: the check is blind"
        fail=1
      fi
      ;;
    *)
      if carries_mutants "$bin"; then
        echo "FAIL: production binary $bin carries mutants"
        fail=1
      else
        echo "ok: $bin carries no mutant"
      fi
      ;;
  esac
done
exit $fail
