#!/usr/bin/env python3
"""Tiled blend (accumulate + normalise) in PyTorch on the GPU, the way the Python tiled-diffusion extensions do it.

The peer of bench/cuda/bench_cuda_blend.cu's `blend_fused_plain`: the same layout (the JSON that
`bench_cuda_blend --layout_json=PATH` writes: padded rectangles in latent px), the same model outputs (slot
element i of the tiles' outputs, tiles in index order, each C x h x w over its whole padded rectangle, is
((i * 2654435761) mod 1000) / 1000 - 0.5), Gaussian weights (quadflow::blend::gaussian_axis_weight: per axis
exp(-(i - (W - 1) / 2)^2 / (2 * variance * W^2)) floored at 1e-18, product of the row and column factors), and
per tile, as MultiDiffusion / Mixture of Diffusers implementations loop over their views:

    value[:, :, y0:y1, x0:x1] += out * w
    count[:, :, y0:y1, x0:x1] += w
    velocity = value / count

with the parts of a padded tile outside the canvas cropped away. Timed with CUDA events (median of --repeats
evaluations after warm-up). --compare PATH checks the result against the float32 velocity that
`bench_cuda_blend --velocity_out=PATH` writes. Prints one JSON line (and writes it to --json-out).

Usage: python3 bench/peers/torch_tiled_blend_cuda.py --layout layout.json [--compare velocity.f32]
           [--repeats 20] [--json-out torch.json] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

MIN_AXIS_WEIGHT = 1e-18


def gaussian_axis_weight(extent: int, variance: float, device) -> torch.Tensor:
    """quadflow::blend::gaussian_axis_weight for i in [0, extent), float32, the C++ operation order."""
    i = torch.arange(extent, dtype=torch.float32, device=device)
    w = torch.tensor(float(extent), dtype=torch.float32, device=device)
    d = i - 0.5 * (w - 1.0)
    g = torch.exp(-(d * d) / (2.0 * torch.tensor(variance, dtype=torch.float32, device=device) * w * w))
    return torch.clamp(g, min=MIN_AXIS_WEIGHT)


class TiledBlend:
    def __init__(self, layout: dict, device):
        self.width, self.height, self.channels = layout["width"], layout["height"], layout["channels"]
        variance = float(layout["variance"])
        H, W, C = self.height, self.width, self.channels
        total = sum(C * w * h for _, _, w, h in layout["tiles"])
        # The model outputs of every tile, in one buffer, as the benchmark fills its batch buffer.
        i = torch.arange(total, dtype=torch.int64, device=device)
        flat = ((i * 2654435761) % 1000).to(torch.float32) * 1e-3 - 0.5
        weights: dict[tuple[int, int], torch.Tensor] = {}
        self.tiles = []
        offset = 0
        for x, y, w, h in layout["tiles"]:
            out = flat[offset:offset + C * w * h].view(1, C, h, w)
            offset += C * w * h
            if (w, h) not in weights:
                weights[(w, h)] = (gaussian_axis_weight(h, variance, device)[:, None] *
                                   gaussian_axis_weight(w, variance, device)[None, :])[None, None]
            y0, y1, x0, x1 = max(y, 0), min(y + h, H), max(x, 0), min(x + w, W)
            crop = (slice(None), slice(None), slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
            self.tiles.append(((slice(None), slice(None), slice(y0, y1), slice(x0, x1)), out[crop],
                               weights[(w, h)][crop]))
        self.value = torch.zeros((1, C, H, W), dtype=torch.float32, device=device)
        self.count = torch.zeros((1, 1, H, W), dtype=torch.float32, device=device)

    @torch.inference_mode()
    def __call__(self) -> torch.Tensor:
        value, count = self.value, self.count
        value.zero_()
        count.zero_()
        for canvas, out, w in self.tiles:
            value[canvas] += out * w
            count[canvas] += w
        return value / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", required=True, help="layout JSON from bench_cuda_blend --layout_json=PATH")
    parser.add_argument("--compare", help="float32 velocity from bench_cuda_blend --velocity_out=PATH")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda", help="cuda (timed with CUDA events) or cpu (a dry run)")
    parser.add_argument("--json-out")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("PyTorch has no CUDA device here (torch.cuda.is_available() is False)")
    with open(args.layout) as f:
        layout = json.load(f)
    blend = TiledBlend(layout, device)
    for _ in range(args.warmup):
        result = blend()
    times_ms = []
    for _ in range(args.repeats):
        if device.type == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            result = blend()
            stop.record()
            torch.cuda.synchronize()
            times_ms.append(start.elapsed_time(stop))
        else:
            began = time.perf_counter()
            result = blend()
            times_ms.append((time.perf_counter() - began) * 1e3)

    report = {
        "peer": "torch tiled blend (slice loop, value/count)",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "tiles": len(layout["tiles"]),
        "shape": [1, blend.channels, blend.height, blend.width],
        "median_ms": statistics.median(times_ms),
        "min_ms": min(times_ms),
        "repeats": args.repeats,
    }
    if args.compare:
        ours = torch.from_file(args.compare, shared=False, size=result.numel(), dtype=torch.float32).view(result.shape)
        difference = (ours.to(device) - result).abs().max().item()
        report["max_abs_difference"] = difference
        report["scale"] = result.abs().max().item()
    line = json.dumps(report)
    print(line)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
