#!/usr/bin/env bash
# quadflow quick start: installs the Debian packages it needs (when run as root), then either builds the
# quadflow CLI alone and runs the demo (`demo`, the default) or builds everything and runs the whole test
# suite through ctest (`test`). QUADFLOW_QUICKSTART_DRY_RUN=1 prints the build and run commands instead.
set -euo pipefail

what=${1:-demo}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUADFLOW_BUILD_DIR:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)
dry_run=${QUADFLOW_QUICKSTART_DRY_RUN:-0}

case "$what" in
  demo | test) ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac

run() {
  if [ "$dry_run" = 1 ]; then
    echo "+ $*" >&2
  else
    "$@"
  fi
}

# libtorch-dev: the learned flow model (models/flow_unet.pt) through LibTorch; without it the rest builds.
packages=(cmake make g++ libeigen3-dev doctest-dev libbenchmark-dev libstb-dev libcli11-dev nlohmann-json3-dev libtorch-dev)
# openmpi-bin, libopenmpi-dev: the tests run the distributed field under mpirun (without them they report Skipped).
if [ "$what" = test ]; then packages+=(openmpi-bin libopenmpi-dev); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "quickstart: installing ${missing[*]}"
    run apt-get update -qq
    DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "quickstart: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

run cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${QUADFLOW_CMAKE_ARGS:-} >/dev/null
case "$what" in
  demo)
    run cmake --build "$build" -j "$jobs" --target quadflow_cli
    run "$build/apps/quadflow/quadflow" demo --out-dir "${QUADFLOW_DEMO_DIR:-$root/out/demo}"
    ;;
  test)
    run cmake --build "$build" -j "$jobs"
    run ctest --test-dir "$build" --output-on-failure -j "$jobs"
    ;;
esac
