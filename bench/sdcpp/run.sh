#!/usr/bin/env bash
# stable-diffusion.cpp untiled against tiled (quadflow) on the tiny FLUX.2 klein model, txt2img (the grid tiler needs
# no init image, and no encode keeps the runs short) at 512, 1024 and 2048 px:
# seconds a sampling step, peak memory of the process, and quadflow's own share of the tiled steps. Needs the patched
# engine (bash integrations/stable-diffusion.cpp/build.sh). Writes bench/sdcpp/results.md.
#   bash bench/sdcpp/run.sh            # REPEATS=3 (REPEATS_2048=1: its decode takes minutes on 2 cores) STEPS=4
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
engine=${QUADFLOW_SDCPP_DIR:-$root/build-sdcpp}
sd=$engine/bin/sd-cli
tiny=$engine/tiny
repeats=${REPEATS:-3}
repeats_2048=${REPEATS_2048:-1}
sizes=${SIZES:-512 1024 2048}
steps=${STEPS:-4}
out=$(mktemp -d)
[ -x "$sd" ] || { echo "bench/sdcpp: no $sd (bash integrations/stable-diffusion.cpp/build.sh)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/sdcpp: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# One run: prints "seconds_per_step peak_mib model_s quadflow_s model_calls".
run() {
  local size=$1 name=$2
  shift 2
  /usr/bin/time -v "$sd" --diffusion-model "$tiny/flux2_tiny_dit.safetensors" --llm "$tiny/flux2_tiny_qwen3.safetensors" \
    --taesd "$tiny/flux2_tiny_taesd.safetensors" -p "a cat on a blue sofa" \
    -W "$size" -H "$size" --steps "$steps" \
    --cfg-scale 1 --seed 7 --vae-tiling --vae-tile-overlap 0 -v -o "$out/$name.png" "$@" >"$out/$name.log" 2>&1
  python3 - "$out/$name.log" "$steps" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
steps = int(sys.argv[2])
sampling = float(re.search(r"sampling completed, taking ([0-9.]+)s", log).group(1))
peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1))
tiled = re.search(r"tiled diffusion: (\d+) model calls, \d+ tiles; ([0-9.]+)s in the model, ([0-9.]+)s in quadflow", log)
model, share, calls = (float(tiled.group(2)), float(tiled.group(3)), int(tiled.group(1))) if tiled else (0, 0, steps)
print(f"{sampling / steps:.4f} {peak_kib / 1024:.0f} {model:.4f} {share:.4f} {calls}")
PY
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

{
  echo "| image | run | model calls | s / step (median of runs) | runs | peak memory (MiB) | quadflow's share of the tiled steps |"
  echo "|---:|---|---:|---:|---:|---:|---:|"
  for size in $sizes; do
    runs=$repeats
    [ "$size" = 2048 ] && runs=$repeats_2048
    for mode in untiled tiled; do
      flags=()
      [ "$mode" = tiled ] && flags=(--diffusion-tiler grid --diffusion-tile-size 512 --diffusion-tile-overlap 64)
      : >"$out/rows"
      for r in $(seq "$runs"); do run "$size" "${mode}_${size}_$r" "${flags[@]}" >>"$out/rows"; done
      step=$(cut -d' ' -f1 "$out/rows" | median)
      peak=$(cut -d' ' -f2 "$out/rows" | median)
      calls=$(head -n1 "$out/rows" | cut -d' ' -f5)
      share=$(awk '{m += $3; q += $4} END {if (m + q > 0) printf "%.2f%%", 100 * q / (m + q); else print "—"}' "$out/rows")
      echo "| $size px | $mode | $calls | $step | $runs | $peak | $share |"
    done
  done
} | tee "$root/bench/sdcpp/results.md.new"
mv "$root/bench/sdcpp/results.md.new" "$root/bench/sdcpp/results.md"
