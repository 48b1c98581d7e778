#!/usr/bin/env bash
# quadflow GPU check, for a machine with an NVIDIA GPU: builds the CUDA parts (Release, CUDA ON, architecture of
# this GPU), runs the CUDA tests (parity with the CPU field, exact preservation, bit-identical reruns, errors),
# the GPU example, the blend benchmark (bench/cuda/bench_cuda_blend.cu) and its PyTorch peer
# (bench/peers/torch_tiled_blend_cuda.py), and writes everything with the device name into
# bench/results/gpu-<date>.md. Every step runs under a timeout taken from one 7-minute budget, so the script
# ends within 8 minutes whatever happens; a step that fails or times out is recorded and the next one runs.
#
# Usage: bash bench/gpu_check.sh [build-dir]        (default /tmp/qf-gpu-check)
#   QUADFLOW_RESULTS_DIR   where the report goes (default bench/results)
#   QUADFLOW_CUDA_ARCH     architecture, e.g. 90, instead of asking nvidia-smi
#   QUADFLOW_BUILD_ONLY=1  configure and build only (checks the script on a machine without a GPU)
#   QUADFLOW_PREBUILT=1    skip configure and build: build-dir already holds the four executables, at the paths a
#                          build gives them (tests/cuda/test_cuda_field, tests/test_blend_tables,
#                          bench/cuda/bench_cuda_blend, examples/gpu/quadflow_gpu_field), and build-dir/lib any
#                          shared library they need that the GPU machine lacks (libbenchmark). For a GPU machine
#                          without the Debian packages: build here with QUADFLOW_BUILD_ONLY=1 and
#                          QUADFLOW_CUDA_ARCH=90, copy those files over, run there with QUADFLOW_PREBUILT=1. The
#                          executables read the demo photo from this checkout's absolute path.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-/tmp/qf-gpu-check}
results=${QUADFLOW_RESULTS_DIR:-$root/bench/results}
report=$results/gpu-$(date +%Y-%m-%d).md
deadline=$((SECONDS + 420))
mkdir -p "$build" "$results"
rm -f "$build"/{bench.json,torch.json,velocity.f32,layout.json} "$build"/{configure,build,tests,blend_tables,example,bench,torch_peer}.out
log=$build/gpu_check.log
: >"$log"

# run_step NAME CAP_SECONDS COMMAND...: runs COMMAND with its output in $build/NAME.out, under a timeout of
# CAP_SECONDS or what is left of the budget; records "NAME: ok|failed (rc)|timed out" in $build/steps.
: >"$build/steps"
run_step() {
    local name=$1 cap=$2
    shift 2
    local left=$((deadline - SECONDS))
    if ((left < 5)); then
        echo "$name: not run (budget spent)" >>"$build/steps"
        return 1
    fi
    ((cap > left)) && cap=$left
    echo "== $name (timeout ${cap}s): $*" | tee -a "$log"
    local started=$SECONDS
    timeout --kill-after=10 "$cap" "$@" >"$build/$name.out" 2>&1
    local rc=$?
    cat "$build/$name.out" >>"$log"
    local took=$((SECONDS - started))
    if ((rc == 0)); then
        echo "$name: ok (${took}s)" >>"$build/steps"
    elif ((rc == 124 || rc == 137)); then
        echo "$name: timed out after ${took}s" >>"$build/steps"
    else
        echo "$name: failed, exit code $rc (${took}s)" >>"$build/steps"
    fi
    echo "-- $name: exit code $rc after ${took}s" | tee -a "$log"
    return $rc
}

if [[ -n "${QUADFLOW_CUDA_ARCH:-}" ]]; then
    arch=$QUADFLOW_CUDA_ARCH
    device="(not queried: QUADFLOW_CUDA_ARCH=$arch)"
else
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' ')
    arch=${cap/./}
    device=$(nvidia-smi -L | head -n 1)
fi
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1 || true)
nvcc_version=$(nvcc --version 2>/dev/null | tail -n 1 || true)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain 2>/dev/null | wc -l | tr -d ' ')
echo "device: $device, architecture sm_$arch" | tee -a "$log"

if [[ "${QUADFLOW_PREBUILT:-0}" == 1 ]]; then
    echo "configure, build: skipped (QUADFLOW_PREBUILT=1)" >>"$build/steps"
    [[ -d "$build/lib" ]] && export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
run_step configure 120 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQUADFLOW_ENABLE_CUDA=ON \
    -DQUADFLOW_CUDA_ARCHITECTURES="$arch" -DCMAKE_CUDA_ARCHITECTURES="$arch"
run_step build 300 cmake --build "$build" -j "$(nproc)" --target test_cuda_field test_blend_tables bench_cuda_blend \
    quadflow_gpu_field
fi
if [[ "${QUADFLOW_BUILD_ONLY:-0}" == 1 ]]; then
    cat "$build/steps"
    exit 0
fi

# The test executables run directly (ctest would need this build's absolute paths): test_cuda_field exits 77
# when it sees no device, which the summary reports as skipped.
run_step tests 150 "$build/tests/cuda/test_cuda_field"
run_step blend_tables 60 "$build/tests/test_blend_tables"
run_step example 60 "$build/examples/gpu/quadflow_gpu_field"
run_step bench 150 "$build/bench/cuda/bench_cuda_blend" --layout_json="$build/layout.json" \
    --velocity_out="$build/velocity.f32" --benchmark_out="$build/bench.json" --benchmark_out_format=json
if timeout 60 python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
    run_step torch_peer 120 python3 "$root/bench/peers/torch_tiled_blend_cuda.py" --layout "$build/layout.json" \
        --compare "$build/velocity.f32" --json-out "$build/torch.json"
else
    echo "torch_peer: not run (no PyTorch with CUDA here)" >>"$build/steps"
fi

# The goals, from the benchmark's JSON and the peer's JSON.
summary=$(python3 - "$build" <<'PY'
import json, os, sys
build = sys.argv[1]
lines = []
try:
    steps = open(os.path.join(build, "steps")).read().splitlines()
except OSError:
    steps = []
for step in steps:
    if step.startswith("tests:"):
        state = ("passed" if ": ok" in step else "SKIPPED (no device seen)" if "exit code 77" in step
                 else "not run" if "not run" in step else "FAILED")
        lines.append(f"| CUDA device tests (parity <= 1e-6, exact preservation, bit-identical reruns, errors) | {state} | passed | {'met' if state == 'passed' else 'NOT met'} |")
def median(benchmarks, name):
    for b in benchmarks:
        if b.get("run_name") == name and b.get("aggregate_name") == "median":
            return b
    return None
try:
    benchmarks = json.load(open(os.path.join(build, "bench.json")))["benchmarks"]
except (OSError, ValueError, KeyError):
    benchmarks = []
blend = median(benchmarks, "blend_fused_plain/manual_time")
for kind in ("plain", "strength"):
    b = median(benchmarks, f"blend_fused_{kind}/manual_time")
    c = median(benchmarks, f"copy_same_bytes_{kind}/manual_time")
    if b and c:
        ratio = b["bytes_per_second"] / c["bytes_per_second"]
        lines.append(f"| fused blend ({kind}) bandwidth / device copy of the same bytes | {ratio:.3f} | >= 0.7 | {'met' if ratio >= 0.7 else 'NOT met'} |")
        lines.append(f"| fused blend ({kind}) time, copy of the same bytes time (us, medians) | {b['real_time']:.1f}, {c['real_time']:.1f} | (report) | |")
copy = median(benchmarks, "copy_latent/manual_time")
if blend and copy:
    lines.append(f"| latent copy time (us, median; its 16.8 MB partly stay in L2) | {copy['real_time']:.1f} | (report) | |")
try:
    torch = json.load(open(os.path.join(build, "torch.json")))
except (OSError, ValueError):
    torch = None
if torch and blend:
    speedup = torch["median_ms"] * 1000.0 / blend["real_time"]
    lines.append(f"| PyTorch slice loop (ms, median) | {torch['median_ms']:.3f} | (report) | |")
    lines.append(f"| speedup over PyTorch | {speedup:.1f}x | >= 10x | {'met' if speedup >= 10 else 'NOT met'} |")
if torch and "max_abs_difference" in torch:
    d = torch["max_abs_difference"]
    lines.append(f"| max abs difference to PyTorch (values in [-0.5, 0.5)) | {d:.2e} | <= 1e-5 | {'met' if d <= 1e-5 else 'NOT met'} |")
print("\n".join(lines) if lines else "| (no benchmark results) | | | |")
PY
)

{
    echo "# quadflow GPU check, $(date +%Y-%m-%d)"
    echo
    echo "- device: $device (sm_$arch), driver ${driver:-unknown}"
    echo "- nvcc: ${nvcc_version:-unknown}"
    echo "- commit: $commit ($dirty files differ from it)"
    echo "- script: bench/gpu_check.sh, $SECONDS s"
    echo
    echo "## Steps"
    echo
    sed 's/^/- /' "$build/steps"
    echo
    echo "## Goals"
    echo
    echo "| measure | value | goal | |"
    echo "|---|---:|---|---|"
    echo "$summary"
    for step in tests blend_tables example bench torch_peer; do
        [[ -f "$build/$step.out" ]] || continue
        echo
        echo "## $step"
        echo
        echo '```'
        tail -n 80 "$build/$step.out"
        echo '```'
    done
} >"$report"
echo "report: $report"
cat "$build/steps"
