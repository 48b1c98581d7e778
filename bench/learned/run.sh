#!/usr/bin/env bash
# The learned model's measurements in one command: builds the three bench/learned programs (need LibTorch:
# apt-get install libtorch-dev), runs them and writes bench/learned/results/{fidelity,model_work,upscaling}.{md,csv},
# the upscaling contact sheet, and the plots (*.png) when Debian's python3-matplotlib is there.
#   bash bench/learned/run.sh            (BUILD_DIR=build; extra flags in FIDELITY_ARGS, MODEL_WORK_ARGS,
#                                         UPSCALING_ARGS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
results=$root/bench/learned/results
mkdir -p "$results"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQUADFLOW_ENABLE_LIBTORCH=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target learned_tiling_fidelity learned_model_work learned_upscaling >/dev/null
cd "$root"
"$build/bench/learned_tiling_fidelity" --csv "$results/fidelity.csv" ${FIDELITY_ARGS:-} | tee "$results/fidelity.md"
"$build/bench/learned_model_work" --csv "$results/model_work.csv" ${MODEL_WORK_ARGS:-} | tee "$results/model_work.md"
"$build/bench/learned_upscaling" --csv "$results/upscaling.csv" --sheet "$results/upscaling_contact_sheet.png" \
  ${UPSCALING_ARGS:-} | tee "$results/upscaling.md"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  for kind in fidelity model_work upscaling; do
    /usr/bin/python3 "$root/bench/learned/plot.py" "${kind/_/-}" "$results/$kind.csv" "$results/$kind.png"
  done
fi
