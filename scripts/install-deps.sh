#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking RaftBadger needs.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
# Runs as root on Debian 12 (a minbase root has no compiler, pkg-config, git or curl).
set -euo pipefail

packages=(
  # Build system: Bazel 4.2.3 and the local rule sets its embedded WORKSPACE suffix wants.
  bazel-bootstrap bazel-platforms bazel-rules-java
  # Toolchain (the sanitizer configs use gcc's sanitizers).
  g++ pkg-config ca-certificates git
  # Libraries, all linked from the system through pkg-config (see third_party/system_libs.bzl).
  libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libsqlite3-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev
  # JSON (the server's --config file), header-only.
  nlohmann-json3-dev
  # A small HTTP server (GNU libmicrohttpd) for Prometheus /metrics, /livez and /readyz.
  libmicrohttpd-dev
  # openssl makes throwaway CAs and certificates for the TLS tests; iproute2 and nftables
  # give fault_test's nodes network namespaces to partition; libfaketime runs one of them
  # on a skewed clock (tests only).
  openssl iproute2 nftables faketime
  # systemd-analyze checks deploy/raftbadger.service (tests only; nothing is started).
  systemd
  # Headless Chromium renders the simulator's timeline page in sim/timeline_test.
  chromium
)

# `--fuzz`: clang and its sanitizer and libFuzzer runtimes, for scripts/fuzz.sh only.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
