#!/usr/bin/env python3
# make_tiny_flux2.py -- writes a tiny, random-weight FLUX.2 "klein" model set
# (DiT + Qwen3 text encoder + FLUX.2 tiny autoencoder) that stable-diffusion.cpp
# (checked against the engine vendored in stable-diffusion-cpp-python 0.4.7)
# loads and runs txt2img / img2img with, on CPU, in seconds.
#
# The engine detects the set as "Version: Flux.2 klein" (VERSION_FLUX2_KLEIN):
# the DiT file has `double_stream_modulation_img.lin.weight` (=> FLUX.2) and
# no `single_blocks.47.*` (=> klein rather than the full FLUX.2).  It then uses
# a Qwen3 LLM as text encoder (--llm) and the FLUX.2 TAE ("taef2", --taesd):
# 128 latent channels at 1/16 of the image side (32 channels at 1/8, 2x2
# patchified).  The weights are random (plus an exact RGB pass-through in the
# TAE, see below), so this is a plumbing/determinism fixture, not a model:
# the DiT cannot denoise, so any real img2img strength gives colour noise in
# which the input picture is barely visible; the input image, the prompt and
# the seed all change the output (measurably, not dramatically).
#
# Usage:   python3 make_tiny_flux2.py OUT_DIR
# Writes:  OUT_DIR/flux2_tiny_dit.safetensors    (--diffusion-model)
#          OUT_DIR/flux2_tiny_qwen3.safetensors  (--llm)
#          OUT_DIR/flux2_tiny_taesd.safetensors  (--taesd)
# e.g.     sd-cli --diffusion-model OUT/flux2_tiny_dit.safetensors \
#            --llm OUT/flux2_tiny_qwen3.safetensors \
#            --taesd OUT/flux2_tiny_taesd.safetensors \
#            -p "a cat" -i in.png --strength 0.6 --steps 4 -W 256 -H 256 \
#            --cfg-scale 1 --seed 42 -o out.png
#
# Needs numpy only.  Safetensors are written by hand (8-byte little-endian
# header length, JSON header, raw little-endian data).  Fixed seed and the
# legacy RandomState stream: running it twice gives identical bytes.
#
# Shapes (all fixed or implied by the engine for FLUX.2 klein):
#   DiT: hidden 128 = one head of 128 (the engine's FLUX.2 rope axes are
#     {32,32,32,32}, so head_dim is 128), 0 double blocks, 1 single block,
#     gated-SiLU MLP of 3*128 = 384, in/out 128 channels, patch 1, no biases,
#     shared modulation tensors.  context_in_dim (txt_in) = Qwen3 width.
#   Qwen3: 1 layer, width 16, MLP 48, vocabulary 151936 (the klein prompt
#     template needs ids up to 151668).  The engine fixes 32 query heads and
#     8 kv heads of 128, so q/o are 16x4096 and k/v 16x1024.  The klein
#     conditioner asks for hidden layers {9,18,27}; with one layer none exist
#     and the engine falls back to the final-norm output, so the text
#     context width is 16 (not 3 x width as with the real 36-layer model).
#   TAE: the engine's fixed taef2 layout (64 channels, 32 latent channels,
#     GroupNorm "pool" mid blocks), encoder and decoder.
# Weights are F8_E4M3 (the engine widens them to F16/F32 at load).

import json
import os
import struct
import sys

import numpy as np

SEED = 20240607

# ---------------------------------------------------------------- F8_E4M3 --
# All 127 non-negative finite E4M3FN values, indexed by their bit pattern
# (0x00..0x7e; 0x7f is NaN).  Encoding = nearest value, ties to the lower code.
_codes = np.arange(127, dtype=np.int64)
_exp = _codes >> 3
_man = _codes & 7
_F8_VALUES = np.where(_exp == 0,
                      _man / 8.0 * 2.0 ** -6,
                      (1.0 + _man / 8.0) * 2.0 ** (_exp - 7.0))


def to_f8_e4m3(x):
    x = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(x), _F8_VALUES[-1])
    hi = np.clip(np.searchsorted(_F8_VALUES, a), 1, 126)
    lo = hi - 1
    code = np.where(a - _F8_VALUES[lo] <= _F8_VALUES[hi] - a, lo, hi)
    code = code | np.where(np.signbit(x) & (code != 0), 0x80, 0)
    return code.astype(np.uint8)


# ------------------------------------------------------------ safetensors --
def write_safetensors(path, tensors, description):
    """tensors: list of (name, float array in torch layout).  Stored F8_E4M3."""
    header = {"__metadata__": {"format": "pt", "description": description}}
    blobs = []
    offset = 0
    for name, arr in sorted(tensors, key=lambda t: t[0]):
        arr = np.ascontiguousarray(arr)
        data = to_f8_e4m3(arr).tobytes()
        header[name] = {"dtype": "F8_E4M3",
                        "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    return 8 + len(head) + offset


# ------------------------------------------------------------------ init ---
class Init:
    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)

    def normal(self, shape, std):
        return self.rng.standard_normal(size=shape) * std

    def linear(self, out_f, in_f, gain=1.0):
        # torch layout [out, in]
        return self.normal((out_f, in_f), gain / np.sqrt(in_f))

    def conv(self, out_c, in_c, k, gain=np.sqrt(2.0)):
        # torch layout [out, in, kh, kw]; He init for ReLU nets by default
        return self.normal((out_c, in_c, k, k), gain / np.sqrt(in_c * k * k))

    def ones_ish(self, n, std=0.1):
        return 1.0 + self.normal((n,), std)


# ------------------------------------------------------------------- DiT ---
DIT_HIDDEN = 128      # = one rope head of 128
DIT_MLP = 3 * DIT_HIDDEN
DIT_CHANNELS = 128    # FLUX.2 latent channels (32 TAE channels x 2x2 patch)
QWEN_WIDTH = 16
QWEN_MLP = 48
QWEN_VOCAB = 151936
QWEN_Q_HEADS, QWEN_KV_HEADS, QWEN_HEAD_DIM = 32, 8, 128
TAE_CH = 64
TAE_Z = 32
# Gains, tuned so that the (short) prompt visibly steers the result: the
# DiT's image tokens mostly see text through attention (small img_in, big
# attention share in linear2, strong modulation), and the Qwen3 layer is
# dominated by sharp attention over the prompt (big q/k norm scales, big
# o_proj) rather than by the per-token embedding.
TXT_IN_GAIN = 1.0
FINAL_GAIN = 1.0
IMG_IN_GAIN = 0.25
ATTN_OUT_GAIN = 2.0
MLP_OUT_GAIN = 0.5
MOD_GAIN = 2.0
QK_NORM = 4.0
O_GAIN = 8.0


def make_dit(ini):
    h, m = DIT_HIDDEN, DIT_MLP
    t = []
    t.append(("img_in.weight", ini.linear(h, DIT_CHANNELS, gain=IMG_IN_GAIN)))
    t.append(("time_in.in_layer.weight", ini.linear(h, 256)))
    t.append(("time_in.out_layer.weight", ini.linear(h, h)))
    t.append(("txt_in.weight", ini.linear(h, QWEN_WIDTH, gain=TXT_IN_GAIN)))
    t.append(("double_stream_modulation_img.lin.weight", ini.linear(6 * h, h, gain=0.5)))
    t.append(("double_stream_modulation_txt.lin.weight", ini.linear(6 * h, h, gain=0.5)))
    t.append(("single_stream_modulation.lin.weight", ini.linear(3 * h, h, gain=MOD_GAIN)))
    p = "single_blocks.0."
    # linear1 = [q | k | v | gate (m) | up (m)]
    t.append((p + "linear1.weight", ini.linear(3 * h + 2 * m, h)))
    # linear2 = [attention out (h) | gated MLP out (m)] -> h
    t.append((p + "linear2.weight",
              np.concatenate([ini.linear(h, h, gain=ATTN_OUT_GAIN),
                              ini.linear(h, m, gain=MLP_OUT_GAIN)], axis=1)))
    t.append((p + "norm.query_norm.scale", ini.ones_ish(h)))
    t.append((p + "norm.key_norm.scale", ini.ones_ish(h)))
    t.append(("final_layer.adaLN_modulation.1.weight", ini.linear(2 * h, h, gain=0.5)))
    t.append(("final_layer.linear.weight", ini.linear(DIT_CHANNELS, h, gain=FINAL_GAIN)))
    return t


# ----------------------------------------------------------------- Qwen3 ---
def make_qwen3(ini):
    w, f = QWEN_WIDTH, QWEN_MLP
    qd, kvd = QWEN_Q_HEADS * QWEN_HEAD_DIM, QWEN_KV_HEADS * QWEN_HEAD_DIM
    t = []
    t.append(("model.embed_tokens.weight", ini.normal((QWEN_VOCAB, w), 1.0)))
    p = "model.layers.0."
    t.append((p + "input_layernorm.weight", ini.ones_ish(w)))
    t.append((p + "self_attn.q_proj.weight", ini.linear(qd, w)))
    t.append((p + "self_attn.k_proj.weight", ini.linear(kvd, w)))
    t.append((p + "self_attn.v_proj.weight", ini.linear(kvd, w)))
    t.append((p + "self_attn.q_norm.weight", QK_NORM * ini.ones_ish(QWEN_HEAD_DIM)))
    t.append((p + "self_attn.k_norm.weight", QK_NORM * ini.ones_ish(QWEN_HEAD_DIM)))
    t.append((p + "self_attn.o_proj.weight", ini.linear(w, qd, gain=O_GAIN)))
    t.append((p + "post_attention_layernorm.weight", ini.ones_ish(w)))
    t.append((p + "mlp.gate_proj.weight", ini.linear(f, w)))
    t.append((p + "mlp.up_proj.weight", ini.linear(f, w)))
    t.append((p + "mlp.down_proj.weight", ini.linear(w, f)))
    t.append(("model.norm.weight", ini.ones_ish(w)))
    return t


# ------------------------------------------------------------------- TAE ---
# Random convolutions, plus a deterministic "carrier" path so that pictures
# survive the round trip: channels 0..2 carry R, G, B through every layer.
# Their rows are identity taps (the residual branches write zero into them,
# and values stay >= 0, so the ReLUs pass them), the stride-2 convs average
# 2x2, the decoder's up-convs copy, and the latent holds them as 4*x - 2 in
# latent channels 0..2 (the other 29 latent channels are random features).
# The decoder maps them back as 0.5 + 0.25 * 3*tanh(z/3), so a pure N(0,1)
# latent decodes to mid-grey noise of std ~0.25 rather than to saturation.
# Decoding a latent therefore gives a blocky (8x8) copy of the picture plus
# random texture, and what the DiT does to the latent shows as colour noise.
# All carrier weights (1, 0.25, 4, -2, 3, -0.25) are exact in F8_E4M3.
RES_GAIN = 0.25      # scale of each residual branch's last conv
TEXTURE_GAIN = 0.1   # random channels' share in the RGB head
CARRY = 3            # R, G, B


def _carry_rows(w, taps):
    """Zero the carrier output rows of conv weight w [out,in,kh,kw], then set
    w[c, c] = taps (a kh x kw array, or None for all-zero rows)."""
    w[:CARRY] = 0.0
    if taps is not None:
        for c in range(CARRY):
            w[c, c] = taps
    return w


def _center(k, v=1.0):
    t = np.zeros((k, k))
    t[k // 2, k // 2] = v
    return t


def tae_block(ini, p, gn):
    c = TAE_CH
    t = []
    if gn:  # x += pool.3(relu(groupnorm(pool.0(x))))
        t.append((p + "pool.0.weight", ini.conv(4 * c, c, 1, gain=1.0)))
        t.append((p + "pool.1.weight", ini.ones_ish(4 * c)))
        t.append((p + "pool.1.bias", np.zeros(4 * c)))
        t.append((p + "pool.3.weight", _carry_rows(ini.conv(c, 4 * c, 1, gain=RES_GAIN), None)))
    # relu(conv.4(relu(conv.2(relu(conv.0(x))))) + x)
    t.append((p + "conv.0.weight", ini.conv(c, c, 3)))
    t.append((p + "conv.0.bias", np.zeros(c)))
    t.append((p + "conv.2.weight", ini.conv(c, c, 3)))
    t.append((p + "conv.2.bias", np.zeros(c)))
    t.append((p + "conv.4.weight", _carry_rows(ini.conv(c, c, 3, gain=RES_GAIN), None)))
    t.append((p + "conv.4.bias", np.zeros(c)))
    return t


def make_tae(ini):
    c, z = TAE_CH, TAE_Z
    box = np.zeros((3, 3))
    box[1:, 1:] = 0.25          # stride 2, pad 1: taps 1,2 = pixels 2i, 2i+1
    t = []
    # encoder: conv, block, 3 x (stride-2 conv, 3 blocks), conv -> 32 ch, 1/8
    e = "encoder.layers."
    t.append((e + "0.weight", _carry_rows(ini.conv(c, 3, 3), _center(3))))
    t.append((e + "0.bias", np.zeros(c)))
    t += tae_block(ini, e + "1.", False)
    i = 2
    for stage in range(3):
        t.append((e + "%d.weight" % i, _carry_rows(ini.conv(c, c, 3, gain=1.0), box)))
        i += 1
        for _ in range(3):
            t += tae_block(ini, e + "%d." % i, stage == 2)
            i += 1
    t.append((e + "%d.weight" % i, _carry_rows(ini.conv(z, c, 3, gain=0.5), _center(3, 4.0))))
    t.append((e + "%d.bias" % i, np.concatenate([np.full(CARRY, -2.0), np.zeros(z - CARRY)])))
    # decoder: 3*tanh(z/3), conv 32 -> 64, relu, 3 blocks (GN),
    # 3 x (nearest up x2, conv, blocks), conv -> RGB
    d = "decoder.layers."
    t.append((d + "0.weight", _carry_rows(ini.conv(c, z, 3), _center(3))))
    t.append((d + "0.bias", np.concatenate([np.full(CARRY, 3.0), np.zeros(c - CARRY)])))
    for i in (2, 3, 4):
        t += tae_block(ini, d + "%d." % i, True)
    for conv_i, blocks in ((6, (7, 8, 9)), (11, (12, 13, 14)), (16, (17,))):
        t.append((d + "%d.weight" % conv_i, _carry_rows(ini.conv(c, c, 3, gain=1.0), _center(3))))
        for i in blocks:
            t += tae_block(ini, d + "%d." % i, False)
    # RGB head: (carrier - 3) / 4 + 0.5 = carrier / 4 - 0.25, plus random texture
    w = ini.conv(3, c, 3, gain=TEXTURE_GAIN)
    w[:, :CARRY] = 0.0
    for ch in range(CARRY):
        w[ch, ch] = _center(3, 0.25)
    t.append((d + "18.weight", w))
    t.append((d + "18.bias", np.full(3, -0.25)))
    return t


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % argv[0])
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    ini = Init(SEED)
    parts = [
        ("flux2_tiny_dit.safetensors", make_dit(ini),
         "tiny random FLUX.2 klein DiT (stable-diffusion.cpp --diffusion-model)"),
        ("flux2_tiny_qwen3.safetensors", make_qwen3(ini),
         "tiny random Qwen3 text encoder for FLUX.2 klein (stable-diffusion.cpp --llm)"),
        ("flux2_tiny_taesd.safetensors", make_tae(ini),
         "tiny random FLUX.2 TAE, taef2 layout (stable-diffusion.cpp --taesd)"),
    ]
    total = 0
    for name, tensors, desc in parts:
        path = os.path.join(out, name)
        size = write_safetensors(path, tensors, desc)
        total += size
        print("%s  %d tensors  %d bytes" % (path, len(tensors), size))
    print("total %d bytes" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
