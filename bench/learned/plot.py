#!/usr/bin/env python3
"""Plots bench/learned/results/fidelity.csv: PSNR to the untiled run against overlap, one line per tile size and
blend weight, one panel per strength mode. Usage: plot.py fidelity.csv fidelity.png"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(path, out):
    rows = list(csv.DictReader(open(path)))
    modes = sorted({r["strength"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        lines = defaultdict(dict)  # (tile, weights) -> real overlap -> PSNR (requests that give one layout coincide)
        for r in rows:
            if r["strength"] == mode:
                lines[(int(r["tile"]), r["weights"])][int(r["real_overlap"])] = float(r["psnr_db"])
        for (tile, weights), by_overlap in sorted(lines.items()):
            points = sorted(by_overlap.items())
            style = {"uniform": ":", "gaussian": "--", "smootherstep": "-"}[weights]
            ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o",
                    label=f"tile {tile}, {weights}")
        ax.set_title(f"strength: {mode}")
        ax.set_xlabel("real overlap (px)")
        ax.set_ylabel("PSNR to the untiled run (dB)")
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
