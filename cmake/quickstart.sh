#!/usr/bin/env bash
# quadflow quick start: installs the Debian packages it needs (when run as root), builds, then runs
# the demo (`demo`, the default) or the whole test suite through ctest (`test`).
set -euo pipefail

what=${1:-demo}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUADFLOW_BUILD_DIR:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake make g++ libeigen3-dev doctest-dev libbenchmark-dev libstb-dev libcli11-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "quickstart: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "quickstart: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${QUADFLOW_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$jobs"

case "$what" in
  demo)
    "$build/examples/quadflow" demo --out-dir "${QUADFLOW_DEMO_DIR:-$root/out/demo}"
    ;;
  test)
    ctest --test-dir "$build" --output-on-failure -j "$jobs"
    ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac
