#!/usr/bin/env bash
# The learned model's measurements in one command: builds the three bench/learned programs (need LibTorch:
# apt-get install libtorch-dev), runs them and writes bench/learned/results/{fidelity,work_fidelity,upscaling}.{md,csv},
# the upscaling contact sheet, and the plots (*.png) when Debian's python3-matplotlib is there.
#   bash bench/learned/run.sh            (BUILD_DIR=build; extra flags in FIDELITY_ARGS, WORK_FIDELITY_ARGS,
#                                         UPSCALING_ARGS)
set -euo pipefail
# shellcheck source=../configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/../configure.sh" learned -DQUADFLOW_ENABLE_LIBTORCH=ON
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target learned_tiling_fidelity learned_work_fidelity learned_upscaling >/dev/null
cd "$root"
"$build/bench/learned_tiling_fidelity" --csv "$results/fidelity.csv" ${FIDELITY_ARGS:-} | tee "$results/fidelity.md"
"$build/bench/learned_work_fidelity" --csv "$results/work_fidelity.csv" ${WORK_FIDELITY_ARGS:-} | tee "$results/work_fidelity.md"
"$build/bench/learned_upscaling" --csv "$results/upscaling.csv" --sheet "$results/upscaling_contact_sheet.png" \
  ${UPSCALING_ARGS:-} | tee "$results/upscaling.md"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  for kind in fidelity work_fidelity upscaling; do
    /usr/bin/python3 "$root/bench/learned/plot.py" "${kind/_/-}" "$results/$kind.csv" "$results/$kind.png"
  done
fi
