#!/usr/bin/env bash
# Runs one libFuzzer target for a while: fuzz/run.sh <quadtree|grid|image_loader|cli> <seconds> [libFuzzer flags...]
# Builds the targets with clang++ (or $QUADFLOW_FUZZ_CXX) in $QUADFLOW_FUZZ_BUILD_DIR (default build-fuzz) when
# needed, starts from the seed corpus fuzz/corpus/<target>/ plus what earlier runs found (kept in the build dir,
# never in the source tree), and exits non-zero on a finding (crash, sanitizer report, unexpected exception,
# timeout), leaving the input that triggered it in $QUADFLOW_FUZZ_BUILD_DIR/artifacts/<target>/.
# Reproduce one with: build-fuzz/fuzz/fuzz_<target> FILE
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <quadtree|grid|image_loader|cli> <seconds> [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${QUADFLOW_FUZZ_BUILD_DIR:-$root/build-fuzz}
case "$target" in
  quadtree|grid|image_loader|cli) ;;
  *) echo "$0: unknown target '$target' (quadtree|grid|image_loader|cli)" >&2; exit 2 ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="${QUADFLOW_FUZZ_CXX:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DQUADFLOW_BUILD_FUZZERS=ON -DQUADFLOW_BUILD_TESTS=OFF -DQUADFLOW_BUILD_EXAMPLES=OFF \
    -DQUADFLOW_BUILD_BENCHMARKS=OFF -DQUADFLOW_ENABLE_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target "fuzz_$target" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

corpus="$build/corpus/$target"
artifacts="$build/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
extra=()
[ -f "$root/fuzz/$target.dict" ] && extra+=("-dict=$root/fuzz/$target.dict")
exec "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "${extra[@]}" "$@" "$corpus" "$root/fuzz/corpus/$target"
