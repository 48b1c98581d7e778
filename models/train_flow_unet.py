#!/usr/bin/python3
"""Train and export quadflow's small pixel-space rectified-flow U-Net.

Run with Debian's interpreter (apt packages python3-torch, python3-skimage,
python3-matplotlib):

    /usr/bin/python3 models/train_flow_unet.py            # full run (~30 min, 2 cores)
    /usr/bin/python3 models/train_flow_unet.py --smoke --out /tmp/smoke.pt
    /usr/bin/python3 models/train_flow_unet.py --evaluate models/flow_unet.pt

Conventions (FLUX-style sigma convention):
    x_sigma = (1 - sigma) * x0 + sigma * noise,   sigma in [0, 1]
    the model predicts the flow velocity  v = noise - x0
so one Euler step is  x <- x + (sigma_next - sigma) * v  and the one-step
estimate of the clean image is  x0_hat = x_sigma - sigma * v.
Images are RGB in [-1, 1] (pixel / 127.5 - 1), NCHW float32.

The exported TorchScript module has
    forward(self, x: Tensor, sigma: Tensor) -> Tensor
with x [N, 3, H, W] float32, sigma [N] float32 (a single-element sigma is
broadcast to the batch) and returns v [N, 3, H, W].  Any H, W >= 8 is accepted:
the input is padded (replicate) to the next multiple of 4 inside forward and
the output is cropped back.
"""

import argparse
import csv
import hashlib
import math
import os
import random
import sys
import tempfile
import time
from typing import List, Tuple

import numpy as np

# Passive OpenMP waiting: the 2-core VM is shared with C++ builds, and spinning
# OpenMP threads slow training ~3.5x when one core is busy (measured: 2.15
# vs 1.49 s/iteration with a busy core; 0.61 vs 0.66 s/iteration when idle).
# Must be set before torch (libgomp) is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"

# Licences as stated in scikit-image 0.19.3's docstrings
# (/usr/lib/python3/dist-packages/skimage/data/_fetchers.py; the README.txt in
# that directory carries no per-image licence information).
IMAGE_LICENCES = {
    # colour photographs
    "rocket.jpg": "public domain (SpaceX launch photo of DSCOVR on Falcon 9, released into the public domain by SpaceX)",
    "hubble_deep_field.jpg": "public domain (NASA / HubbleSite, Hubble eXtreme Deep Field)",
    "retina.jpg": "CC0 1.0 (Wikimedia Commons, Mikael Haggstrom, fundus photograph)",
    "ihc.png": "no known copyright restrictions (CMMI, immunohistochemistry micrograph)",
    # grayscale photographs, replicated to 3 channels
    "camera.png": "CC0 (photographer Lav Varshney)",
    "brick.png": "CC0 (CC0Textures Bricks25, perspective-corrected)",
    "grass.png": "CC0 (DeviantArt linolafett Grass-01)",
    "gravel.png": "CC0 (CC0Textures Gravel04)",
    "clock_motion.png": "public domain (photographer Stefan van der Walt)",
    "cell.png": "CC0 (quantitative phase image, Paul Mueller et al.)",
    # held out
    "coffee.png": "CC0 (photographer Rachel Michetti, Pikolo Espresso Bar)",
    "chelsea.png": "CC0 (photographer Stefan van der Walt)",
}

TRAIN_IMAGES = [
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "clock_motion.png",
    "cell.png",
]
# Never trained on; used for the validation loss and --evaluate.
HELD_OUT_IMAGES = ["coffee.png", "chelsea.png"]
# The project's demo photograph: never read by this script.
EXCLUDED_IMAGES = ["astronaut.png"]

assert not set(TRAIN_IMAGES) & set(HELD_OUT_IMAGES)
assert not set(EXCLUDED_IMAGES) & (set(TRAIN_IMAGES) | set(HELD_OUT_IMAGES))

SCALES = [1, 2, 4]            # image downscaled by 1, 1/2, 1/4 before cropping
VAL_SIGMAS = [0.1, 0.3, 0.5, 0.7, 0.9]
TEST_SIZES = [8, 13, 32, 48, 64, 80, 128, 200]
SEED = 1234

# Default training configuration (measured on the 2-core VM: ~0.66 s/iteration
# at batch 16, 64 px crops on idle cores; 2400 iterations ~ 27 min plus
# validation, leaving headroom for competing builds).
DEFAULT_ITERATIONS = 2400
DEFAULT_BATCH = 16
DEFAULT_CROP = 64
DEFAULT_LR = 5e-4
WARMUP = 100
EMA_DECAY = 0.999
VAL_EVERY = 100
LOG_EVERY = 10


# ----------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------

class SigmaEmbedding(nn.Module):
    """Sinusoidal embedding of 1000*sigma followed by a 2-layer MLP."""

    def __init__(self, dim: int = 64, hidden: int = 128):
        super().__init__()
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        args = (sigma * 1000.0)[:, None] * self.freqs[None, :]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
        return self.fc2(F.silu(self.fc1(emb)))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv x2 residual block; sigma enters as scale/shift
    (FiLM) on the second GroupNorm."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        if cin != cout:
            self.skip = nn.Conv2d(cin, cout, 1)
        else:
            self.skip = nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        ss = self.emb(F.silu(emb))[:, :, None, None]
        scale, shift = ss.chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class FlowUNet(nn.Module):
    """Three-level U-Net (full, 1/2, 1/4 resolution) predicting v = noise - x0."""

    def __init__(self, channels: Tuple[int, int, int] = (32, 64, 192),
                 blocks: Tuple[int, int, int] = (1, 1, 2), emb_dim: int = 128):
        super().__init__()
        c0, c1, c2 = channels
        self.sigma_embed = SigmaEmbedding(64, emb_dim)
        self.conv_in = nn.Conv2d(3, c0, 3, padding=1)
        self.enc0 = nn.ModuleList([ResBlock(c0, c0, emb_dim) for _ in range(blocks[0])])
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.enc1 = nn.ModuleList([ResBlock(c1, c1, emb_dim) for _ in range(blocks[1])])
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid = nn.ModuleList([ResBlock(c2, c2, emb_dim) for _ in range(blocks[2])])
        self.up2 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec1 = nn.ModuleList([ResBlock(2 * c1, c1, emb_dim)] +
                                  [ResBlock(c1, c1, emb_dim) for _ in range(blocks[1] - 1)])
        self.up1 = nn.Conv2d(c1, c0, 3, padding=1)
        self.dec0 = nn.ModuleList([ResBlock(2 * c0, c0, emb_dim)] +
                                  [ResBlock(c0, c0, emb_dim) for _ in range(blocks[0] - 1)])
        self.norm_out = nn.GroupNorm(8, c0)
        self.conv_out = nn.Conv2d(c0, 3, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise RuntimeError("flow_unet: x must have shape [N, 3, H, W]")
        n = x.shape[0]
        h_in = x.shape[2]
        w_in = x.shape[3]
        sigma = sigma.to(x.dtype).reshape(-1)
        if sigma.numel() == 1 and n != 1:
            sigma = sigma.expand(n)
        if sigma.numel() != n:
            raise RuntimeError("flow_unet: sigma must have shape [N] (or a single element)")
        pad_h = (4 - h_in % 4) % 4
        pad_w = (4 - w_in % 4) % 4
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")

        emb = self.sigma_embed(sigma)
        h = self.conv_in(x)
        for blk in self.enc0:
            h = blk(h, emb)
        skip0 = h
        h = self.down1(h)
        for blk in self.enc1:
            h = blk(h, emb)
        skip1 = h
        h = self.down2(h)
        for blk in self.mid:
            h = blk(h, emb)
        h = self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = torch.cat([h, skip1], dim=1)
        for blk in self.dec1:
            h = blk(h, emb)
        h = self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = torch.cat([h, skip0], dim=1)
        for blk in self.dec0:
            h = blk(h, emb)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out[:, :, :h_in, :w_in]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------

def load_image(name: str) -> torch.Tensor:
    """Returns a [3, H, W] float32 tensor in [-1, 1]."""
    if name in EXCLUDED_IMAGES:
        raise ValueError(f"{name} is excluded from the model's data")
    from skimage import io  # imported lazily: slow import
    arr = io.imread(os.path.join(SKIMAGE_DATA, name))
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8, got {arr.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float()
    return t / 127.5 - 1.0


def pyramid(img: torch.Tensor, min_size: int) -> List[torch.Tensor]:
    """The image at the scales in SCALES (area downsampling), skipping levels
    smaller than min_size."""
    levels = []
    for s in SCALES:
        lvl = img if s == 1 else F.avg_pool2d(img[None], s)[0]
        if lvl.shape[1] >= min_size and lvl.shape[2] >= min_size:
            levels.append(lvl.contiguous())
    return levels


def is_colour(img: torch.Tensor) -> bool:
    return bool((img[0] - img[1]).abs().max() > 0 or (img[0] - img[2]).abs().max() > 0)


class CropSampler:
    """Random crops at scales 1, 1/2, 1/4 with random horizontal flips.
    Colour images are drawn 3x as often as grayscale ones; colour crops get
    a random non-identity RGB channel permutation with probability 0.5."""

    # the five non-identity RGB permutations
    PERMS = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]

    def __init__(self, names: List[str], crop: int, rng: np.random.Generator):
        self.crop = crop
        self.rng = rng
        self.levels = []
        self.colour = []
        weights = []
        for name in names:
            img = load_image(name)
            col = is_colour(img)
            self.levels.append(pyramid(img, crop))
            self.colour.append(col)
            weights.append(3.0 if col else 1.0)
        w = np.asarray(weights)
        self.p = w / w.sum()

    def sample(self, batch: int) -> torch.Tensor:
        out = torch.empty(batch, 3, self.crop, self.crop)
        imgs = self.rng.choice(len(self.levels), size=batch, p=self.p)
        u = self.rng.random((batch, 5))
        for b in range(batch):
            i = int(imgs[b])
            levels = self.levels[i]
            lvl = levels[min(int(u[b, 0] * len(levels)), len(levels) - 1)]
            _, hh, ww = lvl.shape
            y = min(int(u[b, 1] * (hh - self.crop + 1)), hh - self.crop)
            x = min(int(u[b, 2] * (ww - self.crop + 1)), ww - self.crop)
            c = lvl[:, y:y + self.crop, x:x + self.crop]
            if u[b, 3] < 0.5:
                c = c.flip(2)
            if self.colour[i] and u[b, 4] < 0.5:
                c = c[self.PERMS[int(u[b, 4] * 10) % len(self.PERMS)]]
            out[b] = c
        return out


def fixed_crops(names: List[str], crop: int, per_level: int, seed: int) -> torch.Tensor:
    """Deterministic crops (scales 1 and 1/2) of the held-out images."""
    rng = np.random.default_rng(seed)
    crops = []
    for name in names:
        img = load_image(name)
        for lvl in pyramid(img, crop)[:2]:
            _, hh, ww = lvl.shape
            for _ in range(per_level):
                y = int(rng.integers(0, hh - crop + 1))
                x = int(rng.integers(0, ww - crop + 1))
                crops.append(lvl[:, y:y + crop, x:x + crop])
    return torch.stack(crops)


def sample_sigma(n: int, gen: torch.Generator) -> torch.Tensor:
    """80 %: logit-normal(0, 1); 20 %: uniform(0, 1)."""
    ln = torch.sigmoid(torch.randn(n, generator=gen))
    un = torch.rand(n, generator=gen)
    pick = torch.rand(n, generator=gen) < 0.8
    s = torch.where(pick, ln, un)
    return s.clamp(1e-4, 1.0 - 1e-4)


@torch.no_grad()
def validation_losses(model: nn.Module, x0: torch.Tensor, noise: torch.Tensor) -> List[float]:
    model.eval()
    losses = []
    for s in VAL_SIGMAS:
        sig = torch.full((x0.shape[0],), s)
        xs = (1.0 - s) * x0 + s * noise
        v = model(xs, sig)
        losses.append(F.mse_loss(v, noise - x0).item())
    return losses


# ----------------------------------------------------------------------------
# Export / verification
# ----------------------------------------------------------------------------

def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export(model: nn.Module, out: str) -> str:
    model = model.eval()
    scripted = torch.jit.script(model)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    scripted.save(out)
    digest = sha256_of(out)
    with open(out + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(out)}\n")
    return digest


@torch.no_grad()
def verify_export(model: nn.Module, path: str) -> float:
    """Loads the TorchScript file and compares it with the eager model on all
    TEST_SIZES (square, plus non-square pairs).  Returns the max abs diff."""
    model = model.eval()
    loaded = torch.jit.load(path)
    loaded.eval()
    gen = torch.Generator().manual_seed(7)
    shapes = [(s, s) for s in TEST_SIZES]
    shapes += [(TEST_SIZES[i], TEST_SIZES[-1 - i]) for i in range(len(TEST_SIZES))]
    worst = 0.0
    for (hh, ww) in shapes:
        x = torch.rand(2, 3, hh, ww, generator=gen) * 2 - 1
        sig = torch.tensor([0.25, 0.8])
        a = model(x, sig)
        b = loaded(x, sig)
        if a.shape != (2, 3, hh, ww) or b.shape != a.shape:
            raise RuntimeError(f"bad output shape {tuple(b.shape)} for input {hh}x{ww}")
        if not torch.isfinite(b).all():
            raise RuntimeError(f"non-finite output for input {hh}x{ww}")
        worst = max(worst, (a - b).abs().max().item())
    # single-element sigma broadcast
    x = torch.rand(3, 3, 13, 21, generator=gen) * 2 - 1
    a = loaded(x, torch.tensor([0.5]))
    b = loaded(x, torch.full((3,), 0.5))
    worst = max(worst, (a - b).abs().max().item())
    if worst >= 1e-5:
        raise RuntimeError(f"TorchScript export differs from eager model: max abs diff {worst}")
    return worst


# ----------------------------------------------------------------------------
# Evaluation: Euler sampling from sigma 0.5 on held-out crops
# ----------------------------------------------------------------------------

def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (computed on the [0, 1] scale after
    clamping a to [-1, 1])."""
    a = a.clamp(-1.0, 1.0)
    mse = ((a - b) / 2.0).pow(2).mean().item()
    return 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def evaluate(model, sigma0: float = 0.5, steps: int = 8, seed: int = 2024) -> List[dict]:
    """For each held-out image and crop size (64, 128): take the centre crop,
    noise it to sigma0 with a fixed seed, run `steps` Euler steps to sigma 0.
    Reports PSNR (dB) vs the clean crop of the noisy start, of the one-step
    estimate x - sigma0 * v, and of the Euler result."""
    rows = []
    for name in HELD_OUT_IMAGES:
        img = load_image(name)
        for size in (64, 128):
            _, hh, ww = img.shape
            y, x = (hh - size) // 2, (ww - size) // 2
            clean = img[None, :, y:y + size, x:x + size].contiguous()
            gen = torch.Generator().manual_seed(seed)
            noise = torch.randn(clean.shape, generator=gen)
            xs = (1.0 - sigma0) * clean + sigma0 * noise
            v = model(xs, torch.tensor([sigma0]))
            one_step = xs - sigma0 * v
            sigmas = torch.linspace(sigma0, 0.0, steps + 1).tolist()
            cur = xs
            for i in range(steps):
                v = model(cur, torch.tensor([sigmas[i]]))
                cur = cur + (sigmas[i + 1] - sigmas[i]) * v
            rows.append({
                "image": name, "size": size,
                "psnr_noisy": psnr(xs, clean),
                "psnr_one_step": psnr(one_step, clean),
                "psnr_euler": psnr(cur, clean),
            })
    return rows


def print_evaluation(rows: List[dict], steps: int = 8) -> None:
    print(f"evaluation: held-out centre crops, sigma 0.5 -> 0, {steps} Euler steps, "
          "noise seed 2024; PSNR in dB vs clean crop (outputs clamped to [-1, 1])")
    print(f"  {'image':<12} {'size':>4} {'noisy':>7} {'x-sigma*v':>10} {'euler':>7}")
    for r in rows:
        print(f"  {r['image']:<12} {r['size']:>4} {r['psnr_noisy']:7.2f} "
              f"{r['psnr_one_step']:10.2f} {r['psnr_euler']:7.2f}")


@torch.no_grad()
def euler_sample(model, x: torch.Tensor, sigma0: float, steps: int) -> torch.Tensor:
    sigmas = torch.linspace(sigma0, 0.0, steps + 1).tolist()
    for i in range(steps):
        v = model(x, torch.full((x.shape[0],), sigmas[i]))
        x = x + (sigmas[i + 1] - sigmas[i]) * v
    return x


def extra_evaluation(model) -> None:
    """Further observations printed by --evaluate (not run after training)."""
    for sigma0 in (0.2, 0.8):
        rows = [r for r in evaluate(model, sigma0=sigma0) if r["size"] == 128]
        print(f"start sigma {sigma0}: 128 px held-out centre crops, 8 Euler steps, noise seed 2024")
        for r in rows:
            print(f"  {r['image']:<12} noisy {r['psnr_noisy']:6.2f}  x-sigma*v {r['psnr_one_step']:6.2f}"
                  f"  euler {r['psnr_euler']:6.2f} dB")

    # Receptive field: |d v(100, 100) / d x| on a 200x200 random input at sigma 0.5.
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(1, 3, 200, 200, generator=gen) * 2 - 1).requires_grad_(True)
    with torch.enable_grad():
        v = model(x, torch.tensor([0.5]))
        v[0, :, 100, 100].sum().backward()
    g = x.grad.abs().sum(1)[0]
    print("receptive field of output pixel (100, 100) on a 200x200 input (extent where "
          "|grad| > t * max):")
    for t in (0.0, 1e-3, 1e-2):
        ys, xs = torch.nonzero(g > t * g.max(), as_tuple=True)
        print(f"  t = {t:g}: rows {ys.min().item()}..{ys.max().item()}, "
              f"cols {xs.min().item()}..{xs.max().item()}")

    # Unconditional samples: 16 Euler steps from pure noise.
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(4, 3, 128, 128, generator=gen)
    out = euler_sample(model, noise, 1.0, 16).clamp(-1.0, 1.0)
    clean = []
    for name in HELD_OUT_IMAGES:
        img = load_image(name)
        _, hh, ww = img.shape
        clean.append(img[:, (hh - 128) // 2:(hh - 128) // 2 + 128, (ww - 128) // 2:(ww - 128) // 2 + 128])
    clean_std = torch.stack(clean).std(dim=(1, 2, 3)).mean().item()
    print(f"from pure noise (4 x 128x128, 16 Euler steps, seed 1): mean {out.mean().item():.3f}, "
          f"per-image std {out.std(dim=(1, 2, 3)).mean().item():.3f} "
          f"(held-out 128 px centre crops: per-image std {clean_std:.3f}); "
          f"channel spread {(out.max(dim=1).values - out.min(dim=1).values).mean().item():.3f} "
          f"vs {(torch.stack(clean).max(dim=1).values - torch.stack(clean).min(dim=1).values).mean().item():.3f}")

    # Context: v of a 128x128 held-out crop at sigma 0.5 computed whole vs as
    # four independent 64x64 tiles (no overlap): what naive tiling changes.
    img = load_image(HELD_OUT_IMAGES[0])
    _, hh, ww = img.shape
    clean = img[None, :, (hh - 128) // 2:(hh - 128) // 2 + 128, (ww - 128) // 2:(ww - 128) // 2 + 128]
    gen = torch.Generator().manual_seed(2024)
    xs = 0.5 * clean + 0.5 * torch.randn(clean.shape, generator=gen)
    with torch.no_grad():
        whole = model(xs, torch.tensor([0.5]))
        tiled = torch.empty_like(whole)
        for ty in (0, 64):
            for tx in (0, 64):
                tiled[:, :, ty:ty + 64, tx:tx + 64] = model(xs[:, :, ty:ty + 64, tx:tx + 64], torch.tensor([0.5]))
    diff = (whole - tiled).abs().mean(dim=1)[0]
    dist = torch.minimum(torch.arange(128) % 64, 63 - torch.arange(128) % 64)  # distance to a tile edge
    d2 = torch.minimum(dist[:, None], dist[None, :])
    print(f"context ({HELD_OUT_IMAGES[0]} 128 px centre crop, sigma 0.5): v whole vs 4 separate 64 px tiles, "
          f"mean |diff| over channels; |v| mean {whole.abs().mean().item():.3f}")
    for lo, hi in ((0, 0), (1, 3), (4, 15), (16, 31)):
        sel = diff[(d2 >= lo) & (d2 <= hi)]
        print(f"  pixels {lo:2d}..{hi:2d} px from a tile edge: mean {sel.mean().item():.4f}, "
              f"max {sel.max().item():.4f}")

    # CPU inference time (threads as set by --threads).
    with torch.no_grad():
        for n, size in ((1, 64), (1, 128), (4, 128)):
            xx = torch.rand(n, 3, size, size) * 2 - 1
            sg = torch.full((n,), 0.5)
            for _ in range(3):
                model(xx, sg)
            t0 = time.time()
            for _ in range(10):
                model(xx, sg)
            print(f"inference [{n}, 3, {size}, {size}]: {(time.time() - t0) * 100:.1f} ms per call "
                  f"({torch.get_num_threads()} threads, torch.no_grad)")


# ----------------------------------------------------------------------------
# Training curve
# ----------------------------------------------------------------------------

def write_curve(log_rows: List[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    it = np.array([r["iteration"] for r in log_rows if r["train_loss"] != ""], dtype=float)
    tl = np.array([r["train_loss"] for r in log_rows if r["train_loss"] != ""], dtype=float)
    vrows = [r for r in log_rows if r["val_loss"] != ""]
    vit = np.array([r["iteration"] for r in vrows], dtype=float)
    vl = np.array([r["val_loss"] for r in vrows], dtype=float)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.plot(it, tl, color="tab:blue", alpha=0.3, lw=0.8, label=f"train (mean of {LOG_EVERY} its)")
    if len(tl) >= 10:
        k = 10
        sm = np.convolve(tl, np.ones(k) / k, mode="valid")
        ax.plot(it[k - 1:], sm, color="tab:blue", lw=1.5, label="train (moving avg.)")
    ax.plot(vit, vl, "o-", color="tab:orange", ms=3, label="held-out val (EMA weights)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE on v = noise - x0")
    ax.set_yscale("log")
    ax.set_title("flow_unet training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()

    ax = axes[1]
    for s in VAL_SIGMAS:
        key = f"val_sigma_{s:.1f}"
        ax.plot(vit, np.array([r[key] for r in vrows], dtype=float), "-", label=f"sigma {s:.1f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("held-out MSE on v")
    ax.set_yscale("log")
    ax.set_title("held-out loss by sigma (EMA weights)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(it: int, total: int, base: float) -> float:
    if it < WARMUP:
        return base * (it + 1) / WARMUP
    t = (it - WARMUP) / max(1, total - WARMUP)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t))))


def train(args) -> None:
    t_start = time.time()
    seed_everything(SEED)
    smoke = args.smoke
    crop = 16 if smoke else args.crop
    batch = 2 if smoke else args.batch
    iterations = args.iterations if args.iterations is not None else (3 if smoke else DEFAULT_ITERATIONS)
    val_every = VAL_EVERY if not smoke else max(1, iterations)

    names = TRAIN_IMAGES[:2] if smoke else TRAIN_IMAGES
    sampler = CropSampler(names, crop, np.random.default_rng(SEED))
    val_x0 = fixed_crops(HELD_OUT_IMAGES, crop, 1 if smoke else 4, SEED + 1)
    val_noise = torch.randn(val_x0.shape, generator=torch.Generator().manual_seed(SEED + 2))
    gen = torch.Generator().manual_seed(SEED + 3)

    model = FlowUNet()
    ema = FlowUNet()
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    n_params = count_parameters(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    print(f"flow_unet: {n_params} parameters; {iterations} iterations, batch {batch}, "
          f"crop {crop}, {len(names)} training images, {val_x0.shape[0]} held-out val crops",
          flush=True)

    log_rows: List[dict] = []
    fields = ["iteration", "elapsed_s", "lr", "train_loss", "val_loss"] + \
             [f"val_sigma_{s:.1f}" for s in VAL_SIGMAS]
    log_file = None
    writer = None
    if args.log:
        os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
        log_file = open(args.log, "w", newline="")
        writer = csv.DictWriter(log_file, fieldnames=fields)
        writer.writeheader()

    def emit(row: dict) -> None:
        log_rows.append(row)
        if writer is not None:
            writer.writerow(row)
            log_file.flush()

    recent: List[float] = []
    all_losses: List[float] = []
    last_val: List[float] = []
    t_train = time.time()
    done = 0
    for it in range(iterations):
        if args.max_minutes and (time.time() - t_train) > args.max_minutes * 60.0:
            print(f"WARNING: stopping early at iteration {it}: exceeded --max-minutes "
                  f"{args.max_minutes}", flush=True)
            break
        model.train()
        lr = lr_at(it, iterations, args.lr)
        for g in opt.param_groups:
            g["lr"] = lr
        x0 = sampler.sample(batch)
        noise = torch.randn(x0.shape, generator=gen)
        sigma = sample_sigma(batch, gen)
        s4 = sigma[:, None, None, None]
        xs = (1.0 - s4) * x0 + s4 * noise
        v = model(xs, sigma)
        loss = F.mse_loss(v, noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(EMA_DECAY, (1.0 + it) / (10.0 + it))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm, alpha=1.0 - d)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        lv = loss.item()
        recent.append(lv)
        all_losses.append(lv)
        done = it + 1

        is_val = (done % val_every == 0) or done == iterations
        if done % LOG_EVERY == 0 or is_val:
            row = {k: "" for k in fields}
            row.update(iteration=done, elapsed_s=f"{time.time() - t_train:.1f}", lr=f"{lr:.3e}",
                       train_loss=f"{float(np.mean(recent)):.6f}")
            recent = []
            if is_val:
                last_val = validation_losses(ema, val_x0, val_noise)
                row["val_loss"] = f"{float(np.mean(last_val)):.6f}"
                for s, l in zip(VAL_SIGMAS, last_val):
                    row[f"val_sigma_{s:.1f}"] = f"{l:.6f}"
            emit(row)
            if is_val or done % (10 * LOG_EVERY) == 0:
                el = time.time() - t_train
                print(f"it {done:5d}/{iterations}  train {row['train_loss']}  "
                      f"val {row['val_loss'] or '-':>8}  lr {lr:.2e}  {el / 60:.1f} min "
                      f"({el / done:.3f} s/it)", flush=True)
    train_time = time.time() - t_train
    if not last_val or (log_rows and log_rows[-1]["val_loss"] == ""):
        last_val = validation_losses(ema, val_x0, val_noise)
        row = {k: "" for k in fields}
        row.update(iteration=done, elapsed_s=f"{train_time:.1f}", lr="",
                   val_loss=f"{float(np.mean(last_val)):.6f}")
        for s, l in zip(VAL_SIGMAS, last_val):
            row[f"val_sigma_{s:.1f}"] = f"{l:.6f}"
        emit(row)
    if log_file is not None:
        log_file.close()

    out = args.out
    digest = export(ema, out)
    max_diff = verify_export(ema, out)
    if args.curve:
        write_curve(log_rows, args.curve)

    final_train = float(np.mean(all_losses[-100:])) if all_losses else float("nan")
    print("---- summary ----")
    print(f"torch version        : {torch.__version__}")
    print(f"parameters           : {n_params}")
    print(f"exported             : {out} ({os.path.getsize(out)} bytes)")
    print(f"sha256               : {digest}")
    print(f"iterations           : {done} (batch {batch}, crop {crop})")
    print(f"final train loss     : {final_train:.6f} (mean of last {min(100, len(all_losses))} iterations)")
    print(f"final val loss       : {float(np.mean(last_val)):.6f} (EMA weights, mean over sigmas "
          + ", ".join(f"{s:.1f}: {l:.4f}" for s, l in zip(VAL_SIGMAS, last_val)) + ")")
    print(f"TorchScript vs eager : max abs diff {max_diff:.3g} over H, W in {TEST_SIZES}")
    print(f"training time        : {train_time:.1f} s ({train_time / 60:.1f} min); "
          f"total wall time {time.time() - t_start:.1f} s")
    if args.log:
        print(f"log                  : {args.log}")
    if args.curve:
        print(f"curve                : {args.curve}")
    if not smoke:
        print_evaluation(evaluate(torch.jit.load(out).eval()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None,
                   help="TorchScript output (default models/flow_unet.pt; with --smoke "
                        "a file in the temp dir)")
    p.add_argument("--iterations", type=int, default=None,
                   help=f"training iterations (default {DEFAULT_ITERATIONS}; 3 with --smoke)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--crop", type=int, default=DEFAULT_CROP)
    p.add_argument("--lr", type=float, default=DEFAULT_LR)
    p.add_argument("--max-minutes", type=float, default=42.0,
                   help="safety stop for the training loop (0 = none)")
    p.add_argument("--smoke", action="store_true",
                   help="~3 iterations on 16 px crops, export + verify (< 30 s)")
    p.add_argument("--log", default=None,
                   help="CSV loss log (default models/training_log.csv; none with --smoke)")
    p.add_argument("--curve", default=None,
                   help="training curve PNG (default docs/images/model_training.png; "
                        "none with --smoke)")
    p.add_argument("--evaluate", metavar="MODEL", default=None,
                   help="only evaluate an exported TorchScript model (held-out PSNR after "
                        "Euler steps, receptive field, samples from noise, CPU timing) and exit")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.evaluate:
        model = torch.jit.load(args.evaluate).eval()
        print_evaluation(evaluate(model))
        extra_evaluation(model)
        return 0

    if args.out is None:
        args.out = (os.path.join(tempfile.gettempdir(), "flow_unet_smoke.pt") if args.smoke
                    else os.path.join(REPO_ROOT, "models", "flow_unet.pt"))
    if not args.smoke:
        if args.log is None:
            args.log = os.path.join(REPO_ROOT, "models", "training_log.csv")
        if args.curve is None:
            args.curve = os.path.join(REPO_ROOT, "docs", "images", "model_training.png")
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
