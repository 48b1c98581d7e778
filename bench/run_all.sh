#!/usr/bin/env bash
# quadflow benchmarks, all of them: builds Release, runs the Google Benchmark programs, the PyTorch peers
# (bench/peers/run_peers.py) and the model-work study (model_work), then writes bench/results/latest.md,
# latest.json and model_work.png. Needs cmake, a C++20 compiler, libbenchmark-dev, libcli11-dev, libstb-dev,
# libeigen3-dev, and Python 3 with torch and numpy (matplotlib for the plot). About 90 s on 2 cores, once built.
#
#   bash bench/run_all.sh                      # build in ./build, results in bench/results
#   BUILD_DIR=/tmp/qf-build bash bench/run_all.sh
#   RESULTS_DIR=/tmp/results ROUNDS=7 bash bench/run_all.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
results=${RESULTS_DIR:-$root/bench/results}
rounds=${ROUNDS:-15}
python=${PYTHON:-python3}
jobs=$(nproc 2>/dev/null || echo 2)
started=$(date +%s)
image=apps/quadflow/data/astronaut.png
cd "$root"

if ! "$python" -c 'import torch, numpy' >/dev/null 2>&1; then
  cat >&2 <<EOF
run_all.sh: $python cannot import torch and numpy, which the PyTorch comparison needs. Install them with
  $python -m pip install torch numpy
or, on Debian, apt-get install python3-torch python3-numpy and run with PYTHON=/usr/bin/python3.
Nothing was built.
EOF
  exit 1
fi
mkdir -p "$results" "$build"

echo "== configure and build (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build/run_all_configure.log" 2>&1 ||
  { tail -n 30 "$build/run_all_configure.log"; exit 1; }
targets=(bench_field bench_quadtree bench_sampling bench_peers model_work quadflow_cli)
known_targets=$(cmake --build "$build" --target help)
if [[ "$known_targets" == *bench_peers_x86_64_v3* ]]; then
  targets+=(bench_peers_x86_64_v3)
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}" > "$build/run_all_build.log" 2>&1 ||
  { tail -n 30 "$build/run_all_build.log"; exit 1; }

echo "== Google Benchmark programs (medians of 5 repetitions, ratios at the end)"
for program in bench_field bench_quadtree bench_sampling; do
  "$build/bench/$program" --benchmark_color=false --benchmark_out="$results/$program.json" \
    --benchmark_out_format=json > "$results/$program.txt"
  sed -n '/ratios (medians of the same run)/,$p' "$results/$program.txt"
done

echo "== PyTorch peers"
binaries=(--binary "$build/bench/bench_peers")
if [[ -x "$build/bench/bench_peers_x86_64_v3" ]]; then
  binaries+=(--binary "$build/bench/bench_peers_x86_64_v3")
fi
"$python" "$root/bench/peers/run_peers.py" "${binaries[@]}" --cli "$build/apps/quadflow/quadflow" \
  --image "$image" --rounds "$rounds" --json-out "$results/peers.json" \
  | tee "$results/peers.txt"

echo "== model work (1x, 2x, 4x)"
"$build/bench/model_work" --image "$image" --json-out "$results/model_work.json" \
  | tee "$results/model_work.txt"
"$build/bench/model_work" --image "$image" --min-denoise 0 \
  --json-out "$results/model_work_min_denoise_0.json" > "$results/model_work_min_denoise_0.txt"

echo "== report"
"$python" "$root/bench/peers/make_report.py" --results "$results" --build "$build" \
  --seconds "$(( $(date +%s) - started ))"
echo "done in $(( $(date +%s) - started )) s"
