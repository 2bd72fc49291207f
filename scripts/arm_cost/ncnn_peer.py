"""The peer runtime, ncnn: its aarch64 wheel unpacked for the guest, and the report's networks
(whole_models.py, common_layers.py) exported to ncnn's format on the host with pnnx (torch.jit.trace, then pnnx's
converter)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from arm_cost import whole_models
from arm_cost.counter import CACHE, compile_bytecode

# Pinned, so that counts stay comparable between machines and over time.
NCNN = "ncnn==1.0.20261020"
PNNX = "pnnx==20261020"
# Where the weights of a layer type are in ncnn's .param (the weight_data_size key).
WEIGHT_KEYS = {"Convolution": "6", "ConvolutionDepthWise": "6", "InnerProduct": "2"}


class PeerError(RuntimeError):
    pass


def guest_site() -> Path:
    """ncnn's manylinux aarch64 CPython 3.11 wheel, unpacked and compiled to bytecode."""
    site = CACHE / NCNN.replace("==", "-")
    if not (site / "ncnn").is_dir():
        site.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=site.parent) as tmp:
            _pip("download", "--only-binary=:all:", "--no-deps", "--platform", "manylinux2014_aarch64",
                 "--platform", "manylinux_2_28_aarch64", "--python-version", "3.11", "--implementation", "cp",
                 "-d", tmp, NCNN)
            unpacked = Path(tmp) / "site"
            for wheel in Path(tmp).glob("*.whl"):
                zipfile.ZipFile(wheel).extractall(unpacked)
            compile_bytecode(unpacked)
            unpacked.rename(site)
    return site


def pnnx_binary() -> Path:
    """pnnx's converter (an x86-64 program in its PyPI wheel), installed without dependencies so
    that it cannot change the pinned torch."""
    target = CACHE / PNNX.replace("==", "-")
    binary = target / "pnnx" / "pnnx"
    if not binary.is_file():
        _pip("install", "--no-deps", "--target", str(target), PNNX)
    return binary


def export(work: Path, models: list[whole_models.Model] | None = None, plan_name: str = "ncnn-plan.json") -> Path:
    """Exports the models (by default the whole ones) into work/ and writes the guest's plan
    (guest/ncnn_forward.py) there."""
    models = whole_models.build() if models is None else models
    import torch

    pnnx = pnnx_binary()
    plan = []
    for model in models:
        stem = whole_models.slug(model.name)
        pt, param, weights = (work / f"{stem}{suffix}" for suffix in (".pt", ".ncnn.param", ".ncnn.bin"))
        with torch.no_grad():
            torch.jit.trace(model.module, model.example).save(str(pt))
        shape = "[" + ",".join(map(str, model.example.shape)) + "]f32"
        # fp16=0: fp32 weights in the .bin (ncnn still converts them when its options ask for fp16).
        run = subprocess.run([str(pnnx), str(pt), f"inputshape={shape}", "fp16=0", f"ncnnparam={param}",
                              f"ncnnbin={weights}"], cwd=work, capture_output=True, text=True)
        if run.returncode != 0 or not param.is_file():
            raise PeerError(f"pnnx failed on {model.name} (exit {run.returncode}):\n{run.stdout}{run.stderr}")
        plan.append({"model": model.name, "param": str(param), "bin": str(weights),
                     "macs": model.macs, **whole_models.shapes(model), **ncnn_graph(param.read_text())})
    path = work / plan_name
    path.write_text(json.dumps(plan))
    return path


def ncnn_graph(param: str) -> dict[str, Any]:
    """From an ncnn .param text: the input and output blob names and the layers in order (name,
    type, first output blob, weights), the Input layer left out."""
    lines = [line.split() for line in param.splitlines() if line.strip()]
    if not lines or lines[0] != ["7767517"]:
        raise PeerError("not an ncnn .param file (magic 7767517)")
    layers, inputs = [], []
    for tokens in lines[2:]:
        kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        tops = tokens[4 + n_in:4 + n_in + n_out]
        params = dict(t.split("=", 1) for t in tokens[4 + n_in + n_out:])
        if kind == "Input":
            inputs += tops
            continue
        key = WEIGHT_KEYS.get(kind)
        layers.append({"layer": name, "type": kind, "top": tops[0], "weights": int(params[key]) if key else 0})
    if len(inputs) != 1 or not layers:
        raise PeerError(f"expected one Input layer and others, got inputs {inputs} and {len(layers)} layers")
    return {"input": inputs[0], "output": layers[-1]["top"], "layers": layers}


def _pip(*args: str) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise PeerError(f"pip {args[0]} failed:\n{run.stderr}")
