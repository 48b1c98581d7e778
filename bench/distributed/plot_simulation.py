#!/usr/bin/env python3
"""Plots bench/distributed/simulate's CSV: step time and the exchange's share of the step against the GPU count
(log2 axis), a line per interconnect, solid for tile batch size 1 and dashed for the others.

  plot_simulation.py [SIMULATION.csv [OUT.png]]

Defaults: bench/distributed/results/simulation.csv and docs/images/distributed_simulation.png (repository root)."""
import csv
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main():
    csv_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/distributed/results/simulation.csv"
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/images/distributed_simulation.png"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))

    lines = defaultdict(list)  # (interconnect, batch size) -> (GPUs, step s, exchange %)
    for r in rows:
        lines[(r["interconnect"], int(r["tile_batch_size"]))].append(
            (int(r["ranks"]), float(r["step_s"]), 100.0 * float(r["exchange_share"])))

    fig, (step_ax, share_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(r["interconnect"] for r in rows))}
    for (link, batch_size), points in sorted(lines.items()):
        points.sort()
        gpus = [p[0] for p in points]
        style = {"color": colours[link], "linestyle": "-" if batch_size == 1 else "--", "marker": "o",
                 "label": f"{link}, tile batch {batch_size}"}
        step_ax.plot(gpus, [p[1] for p in points], **style)
        share_ax.plot(gpus, [p[2] for p in points], **style)

    gpu_counts = sorted({int(r["ranks"]) for r in rows})
    for ax in (step_ax, share_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(gpu_counts, [str(g) for g in gpu_counts])
        ax.set_xlabel("GPUs")
        ax.grid(True, which="both", alpha=0.3)
    step_ax.set_yscale("log")
    step_ax.set_ylabel("step time (s)")
    step_ax.set_title("Step time (compute + exchange)")
    share_ax.set_ylabel("exchange share of the step (%)")
    share_ax.set_title("All-gather of the model outputs")
    step_ax.legend(fontsize=8)
    tiles = max(int(r["most_tiles_per_rank"]) for r in rows)  # one GPU runs every tile
    fig.suptitle(f"16384 x 16384 FLUX upscale, {tiles} tiles, simulated (FLUX.1-dev on H100)")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=120)


if __name__ == "__main__":
    main()
