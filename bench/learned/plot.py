#!/usr/bin/env python3
"""Plots the learned-model measurements in bench/learned/results/:
  plot.py fidelity FIDELITY.csv OUT.png            PSNR to untiled against overlap, a line per tile size and blend
                                                   weight, a panel per strength mode;
  plot.py work-fidelity WORK_FIDELITY.csv OUT.png  tile-pixels (x the untiled run's) against PSNR to untiled, a panel
                                                   per scale;
  plot.py upscaling UPSCALING.csv OUT.png          PSNR and SSIM to the originals against strength, a line per
                                                   configuration, bicubic dashed."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fidelity(rows, out):
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
    return fig


def work_fidelity(rows, out):
    scales = sorted({int(r["scale"]) for r in rows})
    fig, axes = plt.subplots(1, len(scales), figsize=(5 * len(scales), 4.2), squeeze=False)
    markers = {"grid + mask": "s", "model tiles + mask": "o", "model tiles + strength": "^"}
    for ax, scale in zip(axes[0], scales):
        for r in rows:
            if int(r["scale"]) != scale:
                continue
            name = r["configuration"]
            work = int(r["tile_pixels"]) / int(r["untiled_tile_pixels"])
            ax.plot([work], [float(r["psnr_db"])], markers.get(name, "D"), markersize=9, label=name)
        ax.set_title(f"{scale}x")
        ax.set_xlabel("tile-pixels / the untiled run's")
        ax.set_ylabel("PSNR to the untiled run (dB)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def upscaling(rows, out):
    images = list(dict.fromkeys(r["image"] for r in rows))
    fig, axes = plt.subplots(2, len(images), figsize=(5.5 * len(images), 8), squeeze=False)
    for column, image in enumerate(images):
        mine = [r for r in rows if r["image"] == image]
        bicubic = next(r for r in mine if r["configuration"] == "bicubic")
        lines = defaultdict(list)
        for r in mine:
            if r["configuration"] != "bicubic":
                lines[r["configuration"]].append((float(r["strength"]), float(r["psnr_db"]), float(r["ssim"])))
        for row, (metric, label) in enumerate([(1, "PSNR to the original (dB)"), (2, "SSIM to the original")]):
            ax = axes[row][column]
            for name, points in lines.items():
                points.sort()
                ax.plot([p[0] for p in points], [p[metric] for p in points], marker="o",
                        linestyle="-" if name == "untiled" else ":", label=name)
            ax.axhline(float(bicubic["psnr_db" if metric == 1 else "ssim"]), color="k", linestyle="--",
                       label="bicubic")
            ax.set_title(image)
            ax.set_xlabel("img2img strength")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return fig


def main(kind, path, out):
    rows = list(csv.DictReader(open(path)))
    fig = {"fidelity": fidelity, "work-fidelity": work_fidelity, "upscaling": upscaling}[kind](rows, out)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
