#!/usr/bin/env python3
"""Writes models/golden.json: PyTorch's own output of the exported TorchScript model for a fixed input, which
tests/test_libtorch.cpp compares the C++ LibTorch engine with. Run with Debian's Python after exporting:
/usr/bin/python3 models/make_golden.py"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    model = torch.jit.load(os.path.join(HERE, "flow_unet.pt"))
    model.eval()
    shape = [2, 3, 16, 24]  # H, W not multiples of 16: the model pads inside
    count = math.prod(shape)
    values = [0.8 * math.sin(0.37 * i) for i in range(count)]
    x = torch.tensor(values, dtype=torch.float32).reshape(shape)
    sigma = 0.6
    with torch.no_grad():
        v = model(x, torch.full((shape[0],), sigma, dtype=torch.float32))
    golden = {
        "what": "flow velocity of models/flow_unet.pt for `input` at `sigma` (torch.jit.load, torch "
        + torch.__version__ + ")",
        "shape": shape,
        "sigma": sigma,
        "input": [float(f) for f in x.flatten().tolist()],
        "output": [float(f) for f in v.flatten().tolist()],
    }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")
    print("wrote models/golden.json:", shape, "sigma", sigma)


if __name__ == "__main__":
    main()
