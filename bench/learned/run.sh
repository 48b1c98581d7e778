#!/usr/bin/env bash
# The learned model's measurements in one command: builds learned_tiling_fidelity (needs LibTorch: apt-get install
# libtorch-dev) and runs it on a crop of the demo photo, writing bench/learned/results/fidelity.{md,csv}; then plots
# them (bench/learned/results/fidelity.png) when Debian's python3-matplotlib is there.
#   bash bench/learned/run.sh            (BUILD_DIR=build, extra flags in FIDELITY_ARGS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
results=$root/bench/learned/results
mkdir -p "$results"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQUADFLOW_ENABLE_LIBTORCH=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target learned_tiling_fidelity >/dev/null
cd "$root"
"$build/bench/learned_tiling_fidelity" --csv "$results/fidelity.csv" ${FIDELITY_ARGS:-} | tee "$results/fidelity.md"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 "$root/bench/learned/plot.py" "$results/fidelity.csv" "$results/fidelity.png"
fi
