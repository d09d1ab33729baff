#!/usr/bin/env bash
# Checks deploy/raftbadger.service with systemd-analyze verify (the unit's syntax, its
# options, its dependencies). ExecStart and EnvironmentFile point at files this test
# provides, since verify also checks that the binary exists and is executable.
set -euo pipefail
unit="$TEST_SRCDIR/$TEST_WORKSPACE/deploy/raftbadger.service"
binary="$TEST_SRCDIR/$TEST_WORKSPACE/server/raftbadger"
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is missing: scripts/install-deps.sh installs it (package systemd)" >&2
  exit 1
fi
work="$TEST_TMPDIR/unit"
mkdir -p "$work"
cp "$TEST_SRCDIR/$TEST_WORKSPACE/deploy/raftbadger.env.example" "$work/raftbadger.env"
sed -e "s|^ExecStart=/usr/local/bin/raftbadger$|ExecStart=$binary|" \
    -e "s|^EnvironmentFile=/etc/raftbadger/raftbadger.env$|EnvironmentFile=$work/raftbadger.env|" \
    "$unit" > "$work/raftbadger.service"
# The substitutions must have happened, or the test would check a different file.
grep -q "^ExecStart=$binary$" "$work/raftbadger.service"
grep -q "^EnvironmentFile=$work/raftbadger.env$" "$work/raftbadger.service"
out=$(cd "$work" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify ./raftbadger.service 2>&1) || {
  echo "systemd-analyze verify failed:"; echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify warned:"; echo "$out"; exit 1
fi
# The options the deployment relies on are there.
for option in StateDirectory=raftbadger Restart=on-failure RestartPreventExitStatus=2 \
    DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict KillSignal=SIGTERM; do
  grep -q "^$option$" "$unit" || { echo "missing $option"; exit 1; }
done
echo "ok: systemd-analyze verify passed"
