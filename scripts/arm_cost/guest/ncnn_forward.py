"""ncnn, the peer runtime, running the models of a plan (made on the host by
scripts/arm_cost/ncnn_peer.py) at batch 1 on 1 thread:

- one region per whole forward, as an application runs it (a new Extractor, the input in, the
  output out), with ncnn's fp32 options and with its defaults (fp16 storage and arithmetic where
  the CPU has them), after one forward that is not counted;
- with the fp32 options, one region per layer: an Extractor computes a blob and whatever it needs
  that is not computed yet, so extracting every layer's output blob in order on one Extractor
  runs one layer per extract (type 1: the blob as the layer left it, without the conversion to
  plain fp32 layout that the final output gets).

MACs of a layer: its weights times its output pixels for (depthwise) convolutions, its weights
for inner products, none for the others.

    python ncnn_forward.py REGIONS.json PLAN.json
"""

from __future__ import annotations

import json
import sys

import ncnn
import numpy as np
from marks import Regions

FP32 = {"use_fp16_storage": False, "use_fp16_packed": False, "use_fp16_arithmetic": False,
        "use_bf16_storage": False, "use_bf16_packed": False}
OPTIONS = {"ncnn fp32": FP32, "ncnn defaults": {}}
CONVOLUTIONS = ("Convolution", "ConvolutionDepthWise")


def load(model: dict, options: dict) -> ncnn.Net:
    net = ncnn.Net()
    net.opt.num_threads = 1
    for name, value in options.items():
        setattr(net.opt, name, value)
    if net.load_param(model["param"]) != 0 or net.load_model(model["bin"]) != 0:
        raise RuntimeError(f"ncnn cannot load {model['param']}")
    return net


def extract(ex: ncnn.Extractor, blob: str, raw: bool = False) -> ncnn.Mat:
    ret, mat = ex.extract(blob, 1 if raw else 0)
    if ret != 0:
        raise RuntimeError(f"ncnn cannot extract {blob} (error {ret})")
    return mat


def forward(net: ncnn.Net, model: dict, x: ncnn.Mat) -> ncnn.Mat:
    ex = net.create_extractor()
    ex.input(model["input"], x)
    return extract(ex, model["output"])


def shape(mat: ncnn.Mat) -> list[int]:
    """Its (c, h, w), (h, w) or (w,) in elements: elempack values are packed along the first."""
    dims = [mat.c, mat.h, mat.w][3 - mat.dims:]
    dims[0] *= mat.elempack
    return dims


def layer_macs(layer: dict, out: ncnn.Mat) -> int:
    if layer["type"] in CONVOLUTIONS:
        return layer["weights"] * out.w * out.h
    return layer["weights"]


def main(out: str, plan: str) -> None:
    regions = Regions()
    rng = np.random.default_rng(0)
    for model in json.load(open(plan)):
        data = rng.random(model["input_shape"][1:], dtype=np.float32)
        x = ncnn.Mat(data)
        for runtime, options in OPTIONS.items():
            net = load(model, options)
            y = forward(net, model, x)
            with regions.count(model=model["model"], runtime=runtime, macs=model["macs"]):
                y = forward(net, model, x)
            assert shape(y) == model["output_shape"][1:], (shape(y), model["output_shape"])
            if options is not FP32:
                continue
            ex = net.create_extractor()
            ex.input(model["input"], x)
            for layer in model["layers"]:
                with regions.count(model=model["model"], runtime=runtime, layer=layer["layer"],
                                   type=layer["type"]) as what:
                    y = extract(ex, layer["top"], raw=True)
                what["shape"] = shape(y)
                what["macs"] = layer_macs(layer, y)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
