#!/usr/bin/env python3
"""Writes bench/results/latest.md, latest.json and model_work.png from the outputs of one bench/run_all.sh run.

Usage: python3 bench/peers/make_report.py --results bench/results --build build
Reads from --results: peers.json (run_peers.py), model_work.json and model_work_min_denoise_0.json (model_work),
and bench_field.txt, bench_quadtree.txt, bench_sampling.txt (the Google Benchmark programs' console output, whose
last lines are their ratios). The plot needs matplotlib; without it the report says so and is written anyway.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess

COPY_GOAL = 0.7
SPEEDUP_GOAL = 2.0
WORK_GOAL = 0.5


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def ratio_lines(path: str) -> list[dict]:
    """The 'ratios (medians of the same run)' lines of a bench program's console output."""
    if not os.path.exists(path):
        return []
    text = re.sub(r"\x1b\[[0-9;]*m", "", open(path).read())
    rows = []
    pattern = re.compile(r"^\s+(\S+)\s+/\s+(\S+)\s+(\S+):\s+([0-9.]+)\s+\(goal (.*)\)$")
    for line in text.split("ratios (medians of the same run):")[-1].splitlines():
        m = pattern.match(line)
        if m:
            rows.append({"measured": m[1], "baseline": m[2], "counter": m[3], "ratio": float(m[4]), "goal": m[5]})
    return rows


def compiler_of(build: str) -> str:
    cache = os.path.join(build, "CMakeCache.txt")
    if not os.path.exists(cache):
        return "unknown"
    values = {}
    for line in open(cache):
        m = re.match(r"^(CMAKE_CXX_COMPILER|CMAKE_BUILD_TYPE|CMAKE_CXX_FLAGS_RELEASE):\w+=(.*)$", line.strip())
        if m:
            values[m[1]] = m[2]
    compiler = values.get("CMAKE_CXX_COMPILER", "c++")
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        version = compiler
    return f"{version}, {values.get('CMAKE_BUILD_TYPE', '?')} ({values.get('CMAKE_CXX_FLAGS_RELEASE', '')})"


def git_revision(root: str) -> str:
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        # --no-optional-locks: a report must not rewrite the index's stat cache.
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", root, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return head + (" with uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def peers_section(peers: dict) -> list[str]:
    names = [os.path.basename(b) for b in peers["binaries"]]
    checks = peers["blend_check"]
    worst = max(v["max_abs_difference"] for v in checks.values())
    largest = max(v["max_abs_value"] for v in checks.values())
    lines = ["## 1. CPU, side by side with PyTorch", "",
             f"Tiled accumulate + normalise of a 1x16x512x512 latent, model returning at once (identity in torch), "
             f"tile batch 4, Gaussian weights (variance 0.01). Median ms of {peers.get('rounds_done', peers['rounds'])} rounds x "
             f"{peers['evaluations']} evaluations; speedup = torch time / quadflow time, the median of the per-round "
             f"ratios (goal >= {SPEEDUP_GOAL}). `bench_peers` is the default build (x86-64 baseline; with GCC "
             "on x86-64 Linux its gather, blend and noise loops also exist for x86-64-v3 and are picked at run time), "
             "`bench_peers_x86_64_v3` the same code with `-march=x86-64-v3` (AVX2, FMA); PyTorch dispatches its "
             f"kernels at run time ({peers['machine'].get('torch_cpu_capability', '?')} here).", "",
             "Layouts, both sides reading the same JSON:", ""]
    lines += [f"- {name}: `{command}`" for name, command in peers["layouts"].items()]
    lines += ["", f"Same values: max |quadflow - torch| = {worst:.2g} (|values| up to {largest:.3g}) for every layout, "
              "thread count, build and torch variant, with a tile-dependent check model on x = torch.randn(42).", ""]
    machine = peers["machine"]
    cpus = int(machine.get("CPU(s)", "0") or 0)
    load = max(machine["load_average_start"][0], machine["load_average_end"][0])
    contended = bool(cpus) and load >= cpus - 0.5
    head = "| layout | tiles | threads | " + " | ".join(f"{n} ms" for n in names) + \
           " | torch MultiDiffusion-style ms | torch ComfyUI MoD ms | " + \
           " | ".join(f"speedup {n} (vs MD / vs MoD)" for n in names) + " | goal >= 2 (both torch variants) |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for row in peers["blend"]:
        speedups = [(row[f"speedup_{n}_vs_multidiffusion"]["median"], row[f"speedup_{n}_vs_mixture"]["median"])
                    for n in names]
        if contended and row["threads"] > 1:
            judged = "not judged (cores shared, see below)"
        else:
            judged = ", ".join(f"{n}: {verdict(min(s) >= SPEEDUP_GOAL)}" for n, s in zip(names, speedups))
        lines.append(f"| {row['layout']} | {row['tiles']} | {row['threads']} | " +
                     " | ".join(f"{row[f'{n}_ms']:.2f}" for n in names) +
                     f" | {row['multidiffusion_ms']:.2f} | {row['mixture_ms']:.2f} | " +
                     " | ".join(f"{a:.2f} / {b:.2f}" for a, b in speedups) + f" | {judged} |")
    if contended:
        lines += ["", f"Caution: the 1-minute load average reached {load:.1f} on {cpus} CPUs during these runs (other "
                  "work on the machine), so the runs with 2 threads shared their cores; PyTorch's OpenMP threads wait "
                  "by spinning and slow down far more than quadflow's blocking thread pool when a core is taken. "
                  "Treat the 2-thread rows as a measurement under contention, not of an idle machine."]
    noise = peers["noise"]
    lines += ["", "torch-compatible noise, `torch.manual_seed(42); torch.randn(1, 16, 512, 512)` against "
              "`quadflow::noise::torch_randn(42, shape)`:", "",
              "| implementation | ms | values equal bit for bit | speedup vs torch.randn 1 thread | vs 2 threads |",
              "|---|---:|---|---:|---:|"]
    for n in names:
        check = peers["noise_check"][n]
        lines.append(f"| quadflow `{n}` | {noise[f'{n}_ms']:.2f} | "
                     f"{check['values'] - check['bitwise_mismatches']} of {check['values']} | "
                     f"{noise[f'speedup_{n}_vs_torch.randn/threads:1']['median']:.2f} | "
                     f"{noise.get(f'speedup_{n}_vs_torch.randn/threads:2', {'median': float('nan')})['median']:.2f} |")
    for key in sorted(k for k in noise if k.startswith("torch.randn/") and k.endswith("_ms")):
        lines.append(f"| `{key[:-3]}` | {noise[key]:.2f} | | | |")
    return lines


def copy_section(field_ratios: list[dict], peers: dict) -> list[str]:
    lines = ["", "## Blend against a copy of the same bytes", "",
             "From `bench_field` (Google Benchmark, medians of 5 repetitions in random interleaved order), ratio = copy time / field-step time. "
             "Against `copy_latent` (one 1x16x512x512 float latent read and one written, 2 x 16 MiB: issue 4's "
             "measure) and against `copy_same_bytes_*`, a copy of as many bytes as the step must move (see below), "
             f"which is what the goal of issue 6 (>= {COPY_GOAL}) is read against.", "",
             "| measured | baseline | ratio | goal in bench_field | issue 6 goal >= 0.7 |", "|---|---|---:|---|---|"]
    for r in field_ratios:
        same_bytes = r["baseline"].startswith("copy_same_bytes")
        lines.append(f"| `{r['measured']}` | `{r['baseline']}` | {r['ratio']:.3f} | {r['goal']} | "
                     f"{verdict(r['ratio'] >= COPY_GOAL) if same_bytes else '(not this measure)'} |")
    names = [os.path.basename(b) for b in peers["binaries"]]
    lines += ["", "The same from the peer runs, in the same process as the blend: against a copy of one latent, and "
              "against a copy of the bytes the blend cannot avoid moving (read every padded tile from x and write it "
              "to the model's input, read the model's output where it lies in the canvas, write the velocity once: "
              "4 B x 16 x (2 x padded px + in-canvas padded px + canvas px)), half read and half written. The "
              "same-bytes ratio is that copy's time over the blend's time; the goal of issue 6 (>= 0.7) is read "
              "against it.", "",
              "| layout | threads | padded tile px / canvas px | bytes moved (MB) | same-bytes copy (ms) | " +
              " | ".join(f"{n}: copy one latent / blend | {n}: same-bytes ratio" for n in names) + " |",
              "|---|---:|---:|---:|---:|" + "---:|---:|" * len(names)]
    for row in peers["blend"]:
        canvas = peers["shape"][2] * peers["shape"][3]
        cells = []
        for n in names:
            cells += [f"{row['copy_latent_ms'] / row[f'{n}_ms']:.3f}",
                      f"{row['copy_same_bytes_ms'] / row[f'{n}_ms']:.3f} {verdict(row['copy_same_bytes_ms'] / row[f'{n}_ms'] >= COPY_GOAL)}"]
        lines.append(f"| {row['layout']} | {row['threads']} | {row['padded_tile_pixels'] / canvas:.2f} | "
                     f"{row['least_bytes'] / 1e6:.1f} | {row['copy_same_bytes_ms']:.2f} | " + " | ".join(cells) + " |")
    return lines


def work_table(work: dict) -> list[str]:
    lines = ["| scale | image px | configuration | tiles | model calls | tile-pixels | x grid | low-d change | "
             "high-d change | seam (own borders) | seam (quadtree borders) | seam contrast (quadtree borders) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    grid = {r["scale"]: r["tile_pixels"] for r in work["rows"] if r["configuration"].startswith("grid")}
    for r in work["rows"]:
        lines.append(f"| {r['scale']}x | {r['pixel_width']}x{r['pixel_height']} | {r['configuration']} | {r['tiles']} | "
                     f"{r['model_calls']} | {r['tile_pixels']} | {r['tile_pixels'] / grid[r['scale']]:.3f} | "
                     f"{r['low_d_change']:.2f} | {r['high_d_change']:.2f} | {r['seam_own_borders']:.3f} | "
                     f"{r['seam_quadtree_borders']:.3f} | {r.get('seam_contrast_quadtree_borders', float('nan')):.3f} |")
    lines += ["", "| scale | configuration | tile-pixels x grid (goal <= 0.5) | seam vs grid, quadtree borders "
              "(goal <= 1) | goal | seam contrast, this / grid |", "|---|---|---:|---:|---|---:|"]
    for g in work["goal"]:
        lines.append(f"| {g['scale']}x | {g['configuration']} | {g['tile_pixels_ratio']:.3f} | {g['seam_ratio']:.3f} | "
                     f"{verdict(g['met'])} | {g.get('seam_contrast', float('nan')):.3f} / "
                     f"{g.get('grid_seam_contrast', float('nan')):.3f} |")
    return lines


def plot_work(work: dict, path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series: dict[str, list] = {}
    for r in work["rows"]:
        series.setdefault(r["configuration"], []).append((r["pixel_width"], r["tile_pixels"]))
    figure, axes = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for index, (name, points) in enumerate(series.items()):
        proposal = index == len(series) - 1
        xs, ys = zip(*sorted(points))
        axes.plot(xs, ys, marker="o", linestyle="--" if proposal else "-",
                  label=name + (" (proposal)" if proposal else ""))
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    sizes = sorted({r["pixel_width"] for r in work["rows"]})
    axes.set_xticks(sizes, [f"{s}²" for s in sizes])
    axes.set_xlabel("image size (px), the demo photo upscaled 1x, 2x, 4x")
    axes.set_ylabel("tile-pixels over a 20-step img2img (latent px)")
    axes.set_title("Model work: grid vs quadtree policies (latent scale 8)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--seconds", type=float, help="wall time of the whole run")
    args = parser.parse_args()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    results = args.results
    peers = read_json(os.path.join(results, "peers.json"))
    work = read_json(os.path.join(results, "model_work.json"))
    work_min0 = read_json(os.path.join(results, "model_work_min_denoise_0.json"))
    field_ratios = ratio_lines(os.path.join(results, "bench_field.txt"))
    other_ratios = ratio_lines(os.path.join(results, "bench_quadtree.txt")) + \
        ratio_lines(os.path.join(results, "bench_sampling.txt"))
    plotted = plot_work(work, os.path.join(results, "model_work.png"))
    m = peers["machine"]
    compiler = compiler_of(args.build)

    lines = ["# quadflow benchmarks: latest run", "",
             f"Written by `bash bench/run_all.sh` on {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}"
             + (f" in {args.seconds:.0f} s" if args.seconds else "") + f", quadflow {git_revision(root)}.", "",
             f"- CPU: {m.get('Model name', '?')}, {m.get('CPU(s)', '?')} CPUs ({m.get('Core(s) per socket', '?')} cores "
             f"per socket, {m.get('Thread(s) per core', '?')} thread(s) per core), L3 {m.get('L3 cache', '?')}",
             f"- compiler: {compiler}",
             f"- PyTorch {m.get('torch')} (CPU kernels: {m.get('torch_cpu_capability')}), NumPy {m.get('numpy')}, "
             f"Python {m.get('python')}",
             f"- load average (1 min) during the peer runs: {m['load_average_start'][0]:.2f} -> "
             f"{m['load_average_end'][0]:.2f}. A shared machine: compare ratios, not absolute times.", ""]
    lines += peers_section(peers)
    lines += copy_section(field_ratios, peers)
    lines += ["", "## 2. Model work of a whole img2img (20 steps), 1x / 2x / 4x", "",
              f"`model_work` (bench/model_work.cpp): the photo upscaled bilinearly, latent = 8x8 pixel blocks "
              f"averaged (latent scale 8), quadtree with the seed system's defaults (threshold 25, min tile 4 px, "
              f"align 8, overlap off, area rule, d in {work['min_denoise']}..{work['max_denoise']}), grid of "
              f"ComfyUI-TiledDiffusion's defaults (96/8, batch 4) as a KSampler img2img at denoise "
              f"{work['grid_denoise']}; skip preserves tiles with d <= {work['skip_denoise']}. Tile-pixels: padded "
              "latent pixels sent to the model over the run. Quality in 0..255 units on the quadtree's regions "
              "(the demo report's numbers): low-d / high-d change = mean |output - original| where only tiles with "
              "d < 0.5 / d >= 0.5 reach; seam = metrics::seam_score.", ""]
    lines += work_table(work)
    lines += ["", f"![model work](model_work.png)" if plotted else "(matplotlib missing: no plot)", "",
              f"### The same with min_denoise = 0 (the demo's setting: the largest tiles are preserved)", ""]
    lines += work_table(work_min0)
    if other_ratios:
        lines += ["", "## Other benchmarks (ratios, medians of the same run)", "",
                  "| measured | baseline | counter | ratio | goal |", "|---|---|---|---:|---|"]
        lines += [f"| `{r['measured']}` | `{r['baseline']}` | {r['counter']} | {r['ratio']:.3f} | {r['goal']} |"
                  for r in other_ratios]
    with open(os.path.join(results, "latest.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    combined = {"machine": m, "compiler": compiler, "peers": peers, "model_work": work,
                "model_work_min_denoise_0": work_min0, "bench_field_ratios": field_ratios, "other_ratios": other_ratios}
    with open(os.path.join(results, "latest.json"), "w") as f:
        json.dump(combined, f, indent=1)
    print(f"wrote {results}/latest.md, latest.json" + (", model_work.png" if plotted else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
