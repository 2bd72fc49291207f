"""save(model, path) and load(path, model): one packed file per model (format: format.py,
tensor encodings: layers.py)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from pyprune import __version__
from pyprune.kernels import SharedWeights
from pyprune.nn.compressed import CompressedConv2d, CompressedLinear, Scratch
from pyprune.pack.format import PackError, PackFile, read_pack, write_pack
from pyprune.pack.layers import RAW, decode_nonzeros, decode_tensor, encode_tensor, shared_weights, tensor_shape


__all__ = ["DEFAULT_BITS", "DEFAULT_INDEX_BITS", "load", "nonzeros", "read", "save"]

# Deep Compression's choices: 8-bit shared weights in convolutions, 5-bit in fully connected
# layers; relative indices 8 bits wide in convolutions, 5 in fully connected layers.
DEFAULT_BITS = {"conv": 8, "linear": 5}
DEFAULT_INDEX_BITS = {"conv": 8, "linear": 5}
# Tensors smaller than this stay raw: their codebook and code tables would cost more.
MIN_SHARED_ELEMENTS = 256


def _kind(t: torch.Tensor) -> str | None:
    """'conv' or 'linear' for the weights that are shared, None for the rest."""
    if not t.is_floating_point() or t.numel() < MIN_SHARED_ELEMENTS:
        return None
    return {4: "conv", 2: "linear"}.get(t.dim())


def _choice(option: Any, name: str, kind: str, defaults: dict[str, int], what: str) -> int | None:
    if isinstance(option, Mapping):
        for key in (name, name.rsplit(".", 1)[0], kind):
            if key in option:
                return option[key]
        return defaults[kind]
    if option is None:
        return defaults[kind]
    if isinstance(option, bool) or not isinstance(option, int):
        raise TypeError(f"{what} must be an int, a mapping or None, got {type(option).__name__}")
    return option


def _input_shapes(example_inputs: Any) -> list[list[int]] | None:
    if example_inputs is None:
        return None
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    if not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("example_inputs must be a tensor or a tuple of tensors")
    return [list(x.shape) for x in inputs]


def save(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    bits: int | Mapping[str, int | None] | None = None,
    index_bits: int | Mapping[str, int] | None = None,
    example_inputs: Any = None,
    channel_plan: dict | None = None,
) -> int:
    """Packs `model`'s state_dict into one file at `path` (written atomically); returns its
    size in bytes.

    Convolution (4-D) and linear (2-D) weights of at least 256 elements are weight-shared and
    Huffman-coded, stored sparse (relative gaps) when that is smaller; everything else is
    stored raw. bits: index width of the shared weights, an int for all, or a mapping from
    parameter name ('features.0.weight'), module name ('features.0') or kind ('conv',
    'linear') to bits (None keeps that tensor raw); default 8 for convolutions, 5 for linear
    layers. index_bits: width of the relative positions of sparse weights, likewise (default
    8 and 5). example_inputs: tensors whose shapes load(fast=True) converts with.
    channel_plan: pyprune.prune.channel_plan(model) of a structurally pruned model, applied
    to the fresh model at load.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    records, streams = {}, {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        kind = _kind(t)
        b = None if kind is None else _choice(bits, name, kind, DEFAULT_BITS, "bits")
        ib = None if kind is None else _choice(index_bits, name, kind, DEFAULT_INDEX_BITS, "index_bits")
        array = t.float().numpy() if b is not None else t.numpy()
        records[name], s = encode_tensor(name, array, b, ib)
        streams.update(s)
    metadata = {
        "tensors": records,
        "example_inputs": _input_shapes(example_inputs),
        "channel_plan": channel_plan,
        "model": type(model).__name__,
        "pyprune_version": __version__,
    }
    return write_pack(path, metadata, streams)


def read(path: str | os.PathLike) -> PackFile:
    """A packed file's validated metadata and streams (PackError if it is not valid)."""
    return read_pack(path)


def _records(pack: PackFile) -> dict[str, Any]:
    records = pack.metadata.get("tensors")
    if not isinstance(records, dict):
        raise PackError("metadata has no tensors table")
    return records


def nonzeros(pack: PackFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse-stored weight's non-zeros: int32 flat positions (ascending, over the weight
    flattened row-major, e.g. [Cout, Cin * k * k]) and their float32 values."""
    records = _records(pack)
    if name not in records:
        raise KeyError(f"no tensor {name!r} in the file")
    return decode_nonzeros(records[name], pack.tensors, name)


def _fresh_model(model: Any, pack: PackFile) -> nn.Module:
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(f"model must be an nn.Module or a function making one, got {type(model).__name__}")
        model = model()
        if not isinstance(model, nn.Module):
            raise TypeError(f"the model factory returned {type(model).__name__}, not an nn.Module")
    plan = pack.metadata.get("channel_plan")
    if plan is not None:
        from pyprune.prune import apply_channel_plan

        try:
            model = apply_channel_plan(model, plan)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:  # a hostile plan
            raise PackError(f"the file's channel plan does not fit the model: {e}") from None
    return model


def _example_inputs(pack: PackFile, example_inputs: Any) -> tuple:
    if example_inputs is not None:
        return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    shapes = pack.metadata.get("example_inputs")
    if shapes is None:
        raise ValueError("load(fast=True) needs example inputs: save(..., example_inputs=...) or load(..., example_inputs=...)")
    if not isinstance(shapes, list) or not all(
            isinstance(s, list) and all(type(d) is int and 0 < d <= 1 << 16 for d in s) and math.prod(s) <= 1 << 28
            for s in shapes):
        raise PackError(f"metadata example_inputs must be a list of shapes, got {shapes!r}")
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(s, generator=generator) for s in shapes)


def _compress_layers(model: nn.Module, coded: dict[str, SharedWeights], fast: bool) -> None:
    scratch = Scratch()
    modules = dict(model.named_modules())
    for module_name, args in coded.items():
        parent_name, _, child = module_name.rpartition(".")
        module = modules[module_name]
        cls = CompressedConv2d if isinstance(module, nn.Conv2d) else CompressedLinear
        setattr(modules[parent_name] if parent_name else model, child, cls(module, args, scratch, fast))


def load(
    path: str | os.PathLike,
    model: nn.Module | Callable[[], nn.Module],
    *,
    fast: bool = True,
    keep_compressed: bool = False,
    example_inputs: Any = None,
) -> nn.Module:
    """The model of a packed file, in eval mode.

    model: the architecture, as a module or a function building one (its weights are
    replaced). If the file has a channel plan, pyprune.prune.apply_channel_plan shapes it first.
    fast=True returns pyprune.convert(model, example_inputs) (pyprune's kernels; example input
    shapes come from the file unless given); fast=False plain torch modules.
    keep_compressed=True keeps each Conv2d/Linear weight Huffman-coded in memory and decodes it
    into a shared scratch buffer just before the layer runs (CompressedConv2d/CompressedLinear;
    with fast=True they run on pyprune's kernels, BatchNorm unfolded).
    PackError if the file is invalid or does not fit the model.
    """
    pack = read_pack(path)
    model = _fresh_model(model, pack)
    records = _records(pack)
    state = model.state_dict()
    if set(records) != set(state):
        extra, missing = sorted(set(records) - set(state)), sorted(set(state) - set(records))
        raise PackError(f"file and model disagree: tensors only in the file {extra[:5]}, only in the model {missing[:5]}")
    modules = dict(model.named_modules())
    loaded, coded = {}, {}
    for name, record in records.items():
        shape = tensor_shape(record, name)
        if shape != tuple(state[name].shape):
            raise PackError(f"tensor {name!r}: file shape {list(shape)} differs from the model's {list(state[name].shape)}")
        module_name, _, attr = name.rpartition(".")
        if keep_compressed and record["encoding"] != RAW and attr == "weight" \
                and type(modules.get(module_name)) in (nn.Conv2d, nn.Linear):
            coded[module_name] = shared_weights(record, pack.tensors, name, math.prod(shape))
            continue
        loaded[name] = torch.from_numpy(decode_tensor(record, pack.tensors, name)).to(state[name].dtype)
    model.load_state_dict(loaded, strict=not coded)
    model.eval()
    if keep_compressed:
        _compress_layers(model, coded, fast)
        return model
    if fast:
        from pyprune.nn.convert import convert

        return convert(model, _example_inputs(pack, example_inputs))
    return model
