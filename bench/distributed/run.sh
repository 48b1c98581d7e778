#!/usr/bin/env bash
# The distributed field's measurements in one command: builds distributed_scaling (needs MPI: apt-get install
# libopenmpi-dev openmpi-bin; the learned model when LibTorch is built in) and distributed_simulation, runs the
# strong scaling under `mpirun -np 2` and the simulation of many GPUs, and writes bench/distributed/results/
# {scaling,simulation}.{md,csv} and docs/images/distributed_simulation.png (with Debian's python3-matplotlib).
#   bash bench/distributed/run.sh            (BUILD_DIR=build; RANKS=2; extra flags in SCALING_ARGS)
set -euo pipefail
# shellcheck source=../configure.sh
source "$(dirname "${BASH_SOURCE[0]}")/../configure.sh" distributed -DQUADFLOW_ENABLE_MPI=ON
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target distributed_scaling distributed_simulation >/dev/null
cd "$root"
mpirun --oversubscribe --allow-run-as-root -np "${RANKS:-2}" "$build/bench/distributed_scaling" \
  --csv "$results/scaling.csv" ${SCALING_ARGS:-} | tee "$results/scaling.md"
"$build/bench/distributed_simulation" --csv "$results/simulation.csv" > "$results/simulation.md"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 "$root/bench/distributed/plot_simulation.py" "$results/simulation.csv" \
    "$root/docs/images/distributed_simulation.png"
fi
