"""Tiled accumulate + normalise in PyTorch, the way the Python tiled-diffusion extensions do it.

Per evaluation, for each batch of tiles (tiles of one padded shape, at most `tile_batch_size` per batch, shape
groups in order of first appearance, as quadflow::blend::make_batches and the C++ field form them):
slice x[:, :, y0:y1, x0:x1] (reflection padding where the padded tile leaves the canvas, as the seed system's
extract_tile_with_padding does), torch.cat the batch, call the model, then per tile

  * ``multidiffusion``: value[..., slice] += out * w; count[..., slice] += w; at the end value / count
    (MultiDiffusion's per-step average, with Mixture-of-Diffusers Gaussian weights);
  * ``mixture``: buffer[..., slice] += out * (w * rescale[..., slice]) with rescale = 1 / (summed weights)
    computed once per layout (ComfyUI-TiledDiffusion's MixtureOfDiffusers.__call__).

Weights: quadflow's gaussian_axis_weight (include/quadflow/blend/weights.hpp) in float32, each axis over its own
extent: exp(-(i - (W - 1) / 2)^2 / (2 * 0.01 * W^2)), floored at 1e-18, product of the row and column factors.
Buffers are allocated once and zeroed per evaluation (ComfyUI's reset_buffer); weight tensors are cached per
tile shape. Only torch and the standard library are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
import torch.nn.functional as F

MIN_AXIS_WEIGHT = 1e-18


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Layout:
    width: int  # latent px
    height: int
    padded: list[Rect]  # the tiles the model sees, latent px; may leave the canvas


def clamped_overlap_latent(overlap_px: int, latent_scale: int, width: int, height: int) -> int:
    """quadflow::tile::clamped_overlap_latent: the overlap in latent px, at most min(W, H) / 4."""
    return min(overlap_px // latent_scale, min(width, height) // 4)


def read_layout(path: str, rectangles: str, overlap_px: int = 0, latent_scale: int = 1) -> Layout:
    """A layout from `quadflow quadtree --json` (rectangles="cores": each core grows by
    min(w / 2, h / 2, overlap) latent px per side, the seed system's rule) or `quadflow grid`
    (rectangles="padded": the real tiles)."""
    with open(path) as f:
        data = json.load(f)
    width, height = data["width"] // latent_scale, data["height"] // latent_scale
    overlap = clamped_overlap_latent(overlap_px, latent_scale, width, height)
    padded = []
    for t in data["tiles"]:
        r = Rect(t["x"] // latent_scale, t["y"] // latent_scale, t["w"] // latent_scale, t["h"] // latent_scale)
        if rectangles == "cores":
            o = min(r.w // 2, r.h // 2, overlap)
            r = Rect(r.x - o, r.y - o, r.w + 2 * o, r.h + 2 * o)
        elif rectangles != "padded":
            raise ValueError(f"rectangles={rectangles!r}: expected cores|padded")
        padded.append(r)
    return Layout(width, height, padded)


def gaussian_axis_weight(extent: int, variance: float = 0.01) -> torch.Tensor:
    """quadflow::blend::gaussian_axis_weight for i in [0, extent), in float32 with the C++ operation order."""
    i = torch.arange(extent, dtype=torch.float32)
    w = torch.tensor(float(extent), dtype=torch.float32)
    d = i - torch.tensor(0.5, dtype=torch.float32) * (w - 1.0)
    denominator = (torch.tensor(2.0, dtype=torch.float32) * torch.tensor(variance, dtype=torch.float32)) * w * w
    g = torch.exp(-(d * d) / denominator)
    return torch.clamp(g, min=MIN_AXIS_WEIGHT)


def tile_weights(w: int, h: int) -> torch.Tensor:
    """1 x 1 x h x w product of the row factors (over h) and the column factors (over w)."""
    return (gaussian_axis_weight(h)[:, None] * gaussian_axis_weight(w)[None, :])[None, None]


def shape_batches(layout: Layout, tile_batch_size: int) -> list[list[int]]:
    """Tile indices grouped by padded shape (groups in order of first appearance, tiles in index order), each
    group cut into batches of at most tile_batch_size: quadflow::blend::make_batches."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, r in enumerate(layout.padded):
        groups.setdefault((r.w, r.h), []).append(index)
    batches = []
    for tiles in groups.values():
        for first in range(0, len(tiles), tile_batch_size):
            batches.append(tiles[first:first + tile_batch_size])
    return batches


@dataclass
class _TilePlan:
    index: int
    clipped: tuple  # canvas slice of the in-canvas part of the padded tile
    padding: tuple | None  # (left, right, top, bottom) reflection padding, None when inside
    crop: tuple  # slice of the padded tile that lies in the canvas
    weight: torch.Tensor  # 1 x 1 x h x w weights of the in-canvas part


class TorchTiledBlend:
    """One evaluation of the tiled blend: __call__(x, model) -> blended output (a buffer reused across calls)."""

    def __init__(self, layout: Layout, shape: tuple, tile_batch_size: int = 4, mode: str = "multidiffusion"):
        if mode not in ("multidiffusion", "mixture"):
            raise ValueError(f"mode={mode!r}: expected multidiffusion|mixture")
        self.mode = mode
        H, W = layout.height, layout.width
        cached: dict[tuple[int, int], torch.Tensor] = {}
        self.batches: list[list[_TilePlan]] = []
        for batch in shape_batches(layout, tile_batch_size):
            plans = []
            for index in batch:
                r = layout.padded[index]
                full = cached.setdefault((r.w, r.h), tile_weights(r.w, r.h))
                y0, y1, x0, x1 = max(r.y, 0), min(r.y + r.h, H), max(r.x, 0), min(r.x + r.w, W)
                crop = (slice(None), slice(None), slice(y0 - r.y, y1 - r.y), slice(x0 - r.x, x1 - r.x))
                padding = (x0 - r.x, r.x + r.w - x1, y0 - r.y, r.y + r.h - y1)
                plans.append(_TilePlan(index, (slice(None), slice(None), slice(y0, y1), slice(x0, x1)),
                                       padding if any(padding) else None, crop, full[crop]))
            self.batches.append(plans)
        self.value = torch.zeros(shape, dtype=torch.float32)
        self.count = torch.zeros((1, 1, H, W), dtype=torch.float32)
        if mode == "mixture":
            for plans in self.batches:
                for p in plans:
                    self.count[p.clipped] += p.weight
            self.rescale = 1.0 / self.count

    def tile_input(self, x: torch.Tensor, p: _TilePlan) -> torch.Tensor:
        part = x[p.clipped]
        return part if p.padding is None else F.pad(part, p.padding, mode="reflect")

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, model) -> torch.Tensor:
        value = self.value
        value.zero_()
        if self.mode == "multidiffusion":
            count = self.count
            count.zero_()
            for plans in self.batches:
                out = model(torch.cat([self.tile_input(x, p) for p in plans], dim=0), plans)
                for i, p in enumerate(plans):
                    value[p.clipped] += out[i:i + 1][p.crop] * p.weight
                    count[p.clipped] += p.weight
            return value.div_(count)
        rescale = self.rescale
        for plans in self.batches:
            out = model(torch.cat([self.tile_input(x, p) for p in plans], dim=0), plans)
            for i, p in enumerate(plans):
                value[p.clipped] += out[i:i + 1][p.crop] * (p.weight * rescale[p.clipped])
        return value


def identity_model(batch: torch.Tensor, plans) -> torch.Tensor:
    """A model that returns at once: its output is its input."""
    return batch


def check_model(batch: torch.Tensor, plans) -> torch.Tensor:
    """out = a(id) * in + b(id), a = 1 + 0.01 (id mod 7), b = 0.1 (id mod 5) - 0.2 in float32, as check_model in
    bench/bench_peers.cpp."""
    ids = torch.tensor([p.index for p in plans])
    a = (1.0 + torch.tensor(0.01, dtype=torch.float32) * (ids % 7).to(torch.float32)).view(-1, 1, 1, 1)
    b = (torch.tensor(0.1, dtype=torch.float32) * (ids % 5).to(torch.float32) - 0.2).view(-1, 1, 1, 1)
    return a * batch + b
