#!/usr/bin/env python3
"""quadflow against PyTorch on the CPU, side by side, from one script.

Builds nothing: it runs the C++ benchmark binary (bench_peers, built by CMake) and the PyTorch implementation
in torch_tiled_blend.py on the same inputs, checks that both compute the same values, and prints both timings
and their ratio.

  * Tiled blend (accumulate + normalise) of a 1x16x512x512 latent with a model that returns at once, on the
    demo photo's quadtree (`quadflow quadtree --image apps/quadflow/data/astronaut.png --latent-scale 1 --min-tile 16
    --overlap 8`, about 800 tiles, as bench/bench_field.cpp) and on ComfyUI-TiledDiffusion's default grid
    (`quadflow grid`, 96 latent px tiles, overlap 8). Both sides read the same layout JSON. Check: one evaluation
    with a tile-dependent model on x = torch.randn(seed), compared element by element (max |difference|).
  * torch-compatible noise: torch.randn(seed, 1x16x512x512) against quadflow::noise::torch_randn, values compared
    bit for bit in the same run.

Timings are medians. The machine may be shared and noisy, so the C++ and the torch measurements alternate in
`--rounds` rounds (each of `--evaluations` timed evaluations after warm-up); the reported time is the median of
the per-round medians and the ratio the median of the per-round ratios (the two sides of a ratio are measured
seconds apart). Prints a table and writes everything to --json-out.

Usage: python3 bench/peers/run_peers.py [--binary build/bench/bench_peers] [--binary build/bench/bench_peers_x86_64_v3]
           [--cli build/apps/quadflow/quadflow] [--rounds 5] [--evaluations 15] [--json-out bench/results/peers.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_tiled_blend as blend  # noqa: E402

SHAPE = (1, 16, 512, 512)
LATENT = 512  # the demo photo is 512x512 px, read at latent scale 1 as a 512x512 latent (a 4096^2 FLUX image)
TORCH_MODES = {"multidiffusion": "torch MultiDiffusion-style (value/count per step)",
               "mixture": "torch ComfyUI Mixture of Diffusers (1/sum precomputed)"}
GOAL_SPEEDUP = 2.0


def run_json(command: list[str]) -> dict:
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def runs_here(binary: str) -> bool:
    """Whether `binary` runs on this CPU (an x86-64-v3 build stops with SIGILL on a CPU without AVX2)."""
    try:
        done = subprocess.run([binary, "noise", "--shape", "1,1,1,16", "--evaluations", "1"], capture_output=True)
    except OSError as e:
        print(f"skipping {binary}: {e}", file=sys.stderr)
        return False
    if done.returncode != 0:
        print(f"skipping {binary}: exit status {done.returncode} on this CPU", file=sys.stderr)
    return done.returncode == 0


def median_time_ms(work, warmup: int, evaluations: int) -> float:
    for _ in range(warmup):
        work()
    times = []
    for _ in range(evaluations):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def make_layouts(cli: str, image: str, folder: str) -> dict:
    """The two layouts as JSON files written by the quadflow CLI, with how to read them."""
    quadtree = os.path.join(folder, "quadtree.json")
    subprocess.run([cli, "quadtree", "--image", image, "--latent-scale", "1", "--min-tile", "16", "--overlap", "8",
                    "--json", quadtree], check=True, capture_output=True)
    grid = os.path.join(folder, "grid.json")
    with open(grid, "w") as f:
        subprocess.run([cli, "grid", "--width", str(LATENT), "--height", str(LATENT), "--latent-scale", "1",
                        "--tile", "96", "--overlap", "8"], check=True, stdout=f)
    return {
        "quadtree": {"path": quadtree, "rectangles": "cores", "overlap": 8,
                     "command": f"quadflow quadtree --image {image} --latent-scale 1 --min-tile 16 --overlap 8 --json {quadtree}"},
        "grid": {"path": grid, "rectangles": "padded", "overlap": 0,
                 "command": f"quadflow grid --width {LATENT} --height {LATENT} --latent-scale 1 --tile 96 --overlap 8"},
    }


def blend_command(binary: str, layout: dict, threads: int, evaluations: int, extra: list[str] | None = None) -> list[str]:
    return [binary, "blend", "--layout", layout["path"], "--rectangles", layout["rectangles"], "--overlap",
            str(layout["overlap"]), "--threads", str(threads), "--evaluations", str(evaluations)] + (extra or [])


def check_blend(binaries: list[str], layouts: dict, seed: int, folder: str) -> dict:
    """Max |C++ - torch| of one evaluation with the tile-dependent check model, per layout, binary, thread count
    and torch mode."""
    torch.manual_seed(seed)
    x = torch.randn(SHAPE)
    results = {}
    for name, layout in layouts.items():
        tiles = blend.read_layout(layout["path"], layout["rectangles"], layout["overlap"], 1)
        torch_outputs = {mode: blend.TorchTiledBlend(tiles, SHAPE, 4, mode)(x, blend.check_model).numpy().copy()
                         for mode in TORCH_MODES}
        for binary in binaries:
            for threads in (1, 2):
                path = os.path.join(folder, f"velocity_{name}_{threads}.f32")
                run_json(blend_command(binary, layout, threads, 1, ["--warmup", "0", "--seed", str(seed),
                                                                     "--velocity-out", path]))
                ours = np.fromfile(path, dtype=np.float32).reshape(SHAPE)
                for mode, theirs in torch_outputs.items():
                    difference = float(np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64))))
                    results[f"{name}/{os.path.basename(binary)}/threads:{threads}/{mode}"] = {
                        "max_abs_difference": difference, "max_abs_value": float(np.max(np.abs(theirs)))}
    return results


def check_noise(binaries: list[str], seed: int, folder: str) -> dict:
    torch.manual_seed(seed)
    theirs = torch.randn(SHAPE).numpy().ravel()
    results = {}
    for binary in binaries:
        path = os.path.join(folder, "noise.f32")
        run_json([binary, "noise", "--seed", str(seed), "--shape", ",".join(map(str, SHAPE)), "--evaluations", "1",
                  "--warmup", "0", "--values-out", path])
        ours = np.fromfile(path, dtype=np.float32)
        results[os.path.basename(binary)] = {
            "values": int(ours.size),
            "bitwise_mismatches": int(np.count_nonzero(ours.view(np.uint32) != theirs.view(np.uint32)))}
    return results


def time_blend(binaries, layouts, thread_counts, rounds, evaluations, budget_seconds) -> dict:
    """Per (layout, threads): per-round medians of every C++ binary and every torch mode. Stops after the round
    that passes `budget_seconds` (at least 3 rounds): on a busy machine a 2-thread run can take 100x longer."""
    torch.manual_seed(0)
    x = torch.randn(SHAPE)
    torch_blends = {name: {mode: blend.TorchTiledBlend(blend.read_layout(l["path"], l["rectangles"], l["overlap"], 1),
                                                       SHAPE, 4, mode) for mode in TORCH_MODES}
                    for name, l in layouts.items()}
    samples: dict = {}
    deadline = time.monotonic() + budget_seconds
    for round_index in range(rounds):
        if round_index >= 3 and time.monotonic() > deadline:
            print(f"  time budget of {budget_seconds:.0f} s spent after {round_index} rounds", file=sys.stderr)
            break
        for name, layout in layouts.items():
            for threads in thread_counts:
                entry = samples.setdefault(f"{name}/threads:{threads}", {"layout": name, "threads": threads})
                for binary in binaries:
                    measured = run_json(blend_command(binary, layout, threads, evaluations))
                    entry.setdefault(os.path.basename(binary), []).append(measured["median_ms"])
                    entry.setdefault("copy_latent_ms", []).append(measured["copy_latent_median_ms"])
                    entry.setdefault("copy_same_bytes_ms", []).append(measured["copy_same_bytes_median_ms"])
                    entry["least_bytes"] = measured["least_bytes"]
                    entry["tiles"] = measured["tiles"]
                    entry["model_calls"] = measured["model_calls_per_evaluation"]
                    entry["padded_tile_pixels"] = measured["padded_tile_pixels"]
                    entry["padded_tile_pixels_in_canvas"] = measured["padded_tile_pixels_in_canvas"]
                torch.set_num_threads(threads)
                for mode, peer in torch_blends[name].items():
                    entry.setdefault(mode, []).append(
                        median_time_ms(lambda: peer(x, blend.identity_model), 2, evaluations))
        print(f"  blend round {round_index + 1}/{rounds} done", file=sys.stderr)
    return samples


def time_noise(binaries, thread_counts, rounds, evaluations, seed) -> dict:
    samples: dict = {}
    for _ in range(rounds):
        for binary in binaries:
            measured = run_json([binary, "noise", "--seed", str(seed), "--shape", ",".join(map(str, SHAPE)),
                                 "--evaluations", str(evaluations)])
            samples.setdefault(os.path.basename(binary), []).append(measured["median_ms"])
        for threads in thread_counts:
            torch.set_num_threads(threads)

            def draw():
                torch.manual_seed(seed)
                torch.randn(SHAPE)
            samples.setdefault(f"torch.randn/threads:{threads}", []).append(median_time_ms(draw, 2, evaluations))
    return samples


def summarise_ratio(theirs: list[float], ours: list[float]) -> dict:
    ratios = [t / o for t, o in zip(theirs, ours)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "load_average_start": os.getloadavg()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L3 cache"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def main() -> int:
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", action="append",
                        help="bench_peers binary, may be repeated (default: build/bench/bench_peers, and "
                             "build/bench/bench_peers_x86_64_v3 when it exists)")
    parser.add_argument("--cli", default=os.path.join(root, "build", "apps", "quadflow", "quadflow"), help="quadflow CLI")
    parser.add_argument("--image", default=os.path.join(root, "apps", "quadflow", "data", "astronaut.png"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--evaluations", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--budget-seconds", type=float, default=150,
                        help="stop timing the blend after the round that passes this (at least 3 rounds)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json-out", help="write all measurements here")
    args = parser.parse_args()
    binaries = args.binary or [b for b in (os.path.join(root, "build", "bench", "bench_peers"),
                                           os.path.join(root, "build", "bench", "bench_peers_x86_64_v3"))
                               if os.path.exists(b)]
    binaries = [b for b in binaries if runs_here(b)]
    if not binaries:
        parser.error("no bench_peers binary: build it (cmake --build build --target bench_peers) or pass --binary")
    thread_counts = [int(t) for t in args.threads.split(",")]
    names = [os.path.basename(b) for b in binaries]
    report = {"machine": machine(), "shape": SHAPE, "rounds": args.rounds, "evaluations": args.evaluations,
              "binaries": binaries}

    with tempfile.TemporaryDirectory() as folder:
        layouts = make_layouts(args.cli, args.image, folder)
        report["layouts"] = {name: l["command"] for name, l in layouts.items()}
        print("checking values ...", file=sys.stderr)
        report["blend_check"] = check_blend(binaries, layouts, args.seed, folder)
        report["noise_check"] = check_noise(binaries, args.seed, folder)
        print("timing the blend ...", file=sys.stderr)
        blend_samples = time_blend(binaries, layouts, thread_counts, args.rounds, args.evaluations,
                                   args.budget_seconds)
        print("timing the noise ...", file=sys.stderr)
        noise_samples = time_noise(binaries, thread_counts, args.rounds, max(5, args.evaluations // 2), args.seed)
    report["machine"]["load_average_end"] = os.getloadavg()

    blend_rows = []
    for key, entry in blend_samples.items():
        row = {"layout": entry["layout"], "threads": entry["threads"], "tiles": entry["tiles"],
               "model_calls": entry["model_calls"], "padded_tile_pixels": entry["padded_tile_pixels"],
               "padded_tile_pixels_in_canvas": entry["padded_tile_pixels_in_canvas"],
               "copy_latent_ms": statistics.median(entry["copy_latent_ms"]),
               "copy_same_bytes_ms": statistics.median(entry["copy_same_bytes_ms"]),
               "least_bytes": entry["least_bytes"]}
        for series in names + list(TORCH_MODES):
            row[f"{series}_ms"] = statistics.median(entry[series])
        for name in names:
            for mode in TORCH_MODES:
                row[f"speedup_{name}_vs_{mode}"] = summarise_ratio(entry[mode], entry[name])
        row["samples_ms"] = {k: v for k, v in entry.items() if isinstance(v, list)}
        blend_rows.append(row)
    report["blend"] = blend_rows
    report["rounds_done"] = min(len(row["samples_ms"]["multidiffusion"]) for row in blend_rows)
    noise_row = {f"{k}_ms": statistics.median(v) for k, v in noise_samples.items()}
    for name in names:
        for threads in thread_counts:
            noise_row[f"speedup_{name}_vs_torch.randn/threads:{threads}"] = summarise_ratio(
                noise_samples[f"torch.randn/threads:{threads}"], noise_samples[name])
    noise_row["samples_ms"] = noise_samples
    report["noise"] = noise_row

    worst = max(v["max_abs_difference"] for v in report["blend_check"].values())
    print(f"\nmachine: {report['machine'].get('Model name', '?')}, {report['machine'].get('CPU(s)', '?')} CPUs; torch "
          f"{torch.__version__} ({report['machine']['torch_cpu_capability']}); load average "
          f"{report['machine']['load_average_start'][0]:.2f} -> {report['machine']['load_average_end'][0]:.2f}")
    print(f"blend 1x16x512x512, model returns at once; median ms of {report['rounds_done']} rounds x {args.evaluations} "
          f"evaluations; speedup = torch time / quadflow time (median of per-round ratios, goal >= {GOAL_SPEEDUP})")
    print(f"  values: max |quadflow - torch| = {worst:.3g} over every layout, thread count and torch mode "
          f"(|values| up to {max(v['max_abs_value'] for v in report['blend_check'].values()):.3g})")
    header = f"  {'layout':9} {'tiles':>5} {'thr':>3} " + " ".join(f"{n:>22}" for n in names) + \
             f" {'torch MultiDiff':>15} {'torch MoD':>10}   speedups (vs MultiDiff / vs MoD)"
    print(header)
    for row in blend_rows:
        cells = " ".join(f"{row[f'{n}_ms']:>19.2f} ms" for n in names)
        speedups = "  ".join(f"{n}: {row[f'speedup_{n}_vs_multidiffusion']['median']:.2f} / "
                             f"{row[f'speedup_{n}_vs_mixture']['median']:.2f}" for n in names)
        print(f"  {row['layout']:9} {row['tiles']:>5} {row['threads']:>3} {cells} {row['multidiffusion_ms']:>12.2f} ms "
              f"{row['mixture_ms']:>7.2f} ms   {speedups}")
    print(f"blend against a copy of the bytes it must move (copy time / blend time, goal >= 0.7):")
    for row in blend_rows:
        print(f"  {row['layout']:9} {row['threads']:>3} thr: {row['least_bytes'] / 1e6:.1f} MB, copy "
              f"{row['copy_same_bytes_ms']:.2f} ms; " +
              "  ".join(f"{n}: {row['copy_same_bytes_ms'] / row[f'{n}_ms']:.2f}" for n in names))
    print("noise torch.randn(42, 1x16x512x512):")
    for name, check in report["noise_check"].items():
        print(f"  {name}: {check['bitwise_mismatches']} of {check['values']} values differ from torch bit for bit; "
              f"{noise_row[f'{name}_ms']:.2f} ms; speedup vs torch.randn " +
              ", ".join(f"{t} thread(s) {noise_row[f'speedup_{name}_vs_torch.randn/threads:{t}']['median']:.2f}"
                        for t in thread_counts))
    print("  torch.randn: " + ", ".join(f"{t} thread(s) {noise_row[f'torch.randn/threads:{t}_ms']:.2f} ms"
                                        for t in thread_counts))
    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
