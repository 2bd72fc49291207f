"""save(model, path) and load(path, model): one packed file per model (container and grammar:
format.py and grammar.py, tensor encodings: layers.py)."""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn

from pyprune import __version__
from pyprune.kernels import SharedWeights
from pyprune.nn.compressed import CompressedConv2d, CompressedLinear, Scratch
from pyprune.pack.format import PackError, PackFile, parse_pack, read_pack, serialize, write_atomic
from pyprune.pack.layers import (DEFAULT_BITS, DEFAULT_INDEX_BITS, RAW, SHARED_DENSE, SHARED_SPARSE, decode_tensor,
                                 encode_weight, shared_weights, tensor_errors, weight_kind)
from pyprune.pack.reading import nonzeros, read
from pyprune.pack.report import OutputError

__all__ = ["DEFAULT_BITS", "DEFAULT_INDEX_BITS", "SaveResult", "load", "nonzeros", "read", "save"]

log = logging.getLogger("pyprune.pack")

@dataclass(frozen=True)
class SaveResult:
    """What save wrote: the file, its size, and how far the packed model's outputs are from
    the original's on the example inputs (None when saved without them)."""

    path: Path
    file_bytes: int
    output_error: OutputError | None
    lossless: bool

    def __str__(self) -> str:
        error = self.output_error or "output error not measured (no example inputs)"
        return f"wrote {self.path} ({self.file_bytes:,} bytes, {'lossless' if self.lossless else 'lossy'}): {error}"


def _kind(t: torch.Tensor) -> str | None:
    return weight_kind(tuple(t.shape), t.is_floating_point())


def _as_inputs(example_inputs: Any) -> tuple[torch.Tensor, ...] | None:
    if example_inputs is None:
        return None
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    if not all(isinstance(x, torch.Tensor) for x in inputs):
        raise TypeError("example_inputs must be a tensor or a tuple of tensors")
    return inputs


def _encode(name: str, t: torch.Tensor, bits: Any, index_bits: Any, lossless: bool) -> tuple[dict, dict]:
    # numpy has no bfloat16: such weights are shared or stored exactly from their float32 values
    return encode_weight(name, t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy(), bits, index_bits,
                         lossless)


def _module_versions(state: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The state_dict's _metadata (each module's _version, read by _load_from_state_dict)."""
    metadata = getattr(state, "_metadata", None) or {}
    return {prefix: {"version": m["version"]} if type(m.get("version")) is int and 0 <= m["version"] < 2**31 else {}
            for prefix, m in metadata.items()}


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """The model in eval mode (no BatchNorm statistics updated), its modes restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _leaves(output: Any) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _leaves(item)]
    raise TypeError(f"cannot measure the output error of a model returning {type(output).__name__}")


def _output_error(model: nn.Module, packed: PackFile, inputs: tuple[torch.Tensor, ...]) -> OutputError:
    """The packed model's outputs against the original's on `inputs`: what was written is
    decoded and loaded into a copy of the model, and both are run."""
    copied = copy.deepcopy(model)
    _load_state(copied, packed, keep_compressed=False)
    with torch.inference_mode(), _evaluating(model), _evaluating(copied):
        want, got = _leaves(model(*inputs)), _leaves(copied(*inputs))
    if not want:
        raise TypeError("cannot measure the output error of a model returning no tensor")
    want = torch.cat([w.detach().double().flatten() for w in want])
    got = torch.cat([g.detach().double().flatten() for g in got])
    max_abs = float((got - want).abs().max()) if want.numel() else 0.0
    values = want
    output_range = float(values.max() - values.min()) if values.numel() else 0.0
    if not (math.isfinite(max_abs) and math.isfinite(output_range)):
        raise ValueError("cannot measure the output error: the model's outputs on the example inputs are not finite")
    return OutputError(max_abs, output_range)


def save(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    bits: int | Mapping[str, int | None] | None = None,
    index_bits: int | Mapping[str, int] | None = None,
    example_inputs: Any = None,
    channel_plan: dict | None = None,
    lossless: bool = False,
) -> SaveResult:
    """Packs `model`'s state_dict into one file at `path` (written atomically, mode as the
    umask says) and says what packing did to the outputs.

    Convolution (4-D) and linear (2-D) weights of at least 256 elements are weight-shared and
    Huffman-coded, stored sparse (relative gaps) when that is smaller; everything else is
    stored raw. bits: index width of the shared weights, an int for all, or a mapping from
    parameter name ('features.0.weight'), module name ('features.0') or kind ('conv',
    'linear') to bits (None keeps that tensor raw); default 8 for convolutions, 5 for linear
    layers. Weight sharing changes the weights: the outputs change with them.
    lossless=True shares no weight: every weight is stored bit for bit (sparse ones as
    non-zeros and gaps, their bytes Huffman-coded; already-shared ones as their codebook).
    index_bits: width of the relative positions of sparse weights, likewise (default 8 and 5).
    example_inputs: tensors on which the packed model's outputs are compared with the
    original's (the figure is returned and stored in the file), and whose shapes
    load(fast=True) converts with.
    channel_plan: pyprune.prune.channel_plan(model) of a structurally pruned model, applied
    to the fresh model at load.
    OSError naming the folder if it cannot be written (a missing folder, no permission).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if lossless and bits is not None:
        raise ValueError("lossless=True shares no weights: leave bits unset")
    inputs = _as_inputs(example_inputs)
    state = model.state_dict()
    records, streams = {}, {}
    for name, t in state.items():
        records[name], s = _encode(name, t.detach().cpu(), bits, index_bits, lossless)
        streams.update(s)
    metadata = {
        "tensors": records,
        "example_inputs": None if inputs is None else [list(x.shape) for x in inputs],
        "channel_plan": channel_plan,
        "model": type(model).__name__,
        "pyprune_version": __version__,
        "output_error": None,
        "state_dict_metadata": _module_versions(state),
        "graph": None,
    }
    data = serialize(metadata, streams)
    written = parse_pack(data)  # what is written must pass the reader's grammar
    error = None
    if inputs is not None:
        error = _output_error(model, written, inputs)
        metadata["output_error"] = error.to_metadata()
        data = serialize(metadata, streams)
    write_atomic(path, data)
    result = SaveResult(Path(path), len(data), error, lossless)
    log.info("%s", result)
    return result


def _fresh_model(model: Any, pack: PackFile) -> nn.Module:
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(f"model must be an nn.Module or a function making one, got {type(model).__name__}")
        model = model()
        if not isinstance(model, nn.Module):
            raise TypeError(f"the model factory returned {type(model).__name__}, not an nn.Module")
    plan = pack.metadata["channel_plan"]
    if plan is not None:
        from pyprune.prune import apply_channel_plan

        try:
            model = apply_channel_plan(model, plan)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:  # a plan for another model
            raise PackError(f"the file's channel plan does not fit the model: {e}") from None
    return model


def _file_inputs(pack: PackFile, model: nn.Module) -> tuple[torch.Tensor, ...]:
    """Random inputs of the shapes the file names (capped by the grammar), once they are
    known to fit the model: it runs first on shape-only (meta) tensors, allocating nothing."""
    shapes = pack.metadata["example_inputs"]
    if shapes is None:
        raise ValueError("load(fast=True) needs example inputs: save(..., example_inputs=...) or load(..., example_inputs=...)")
    meta = {k: torch.empty_like(v, device="meta") for k, v in itertools.chain(model.named_parameters(), model.named_buffers())}
    try:
        with torch.no_grad():
            torch.func.functional_call(model, meta, tuple(torch.empty(s, device="meta") for s in shapes))
    except NotImplementedError:
        pass  # an operation without a shape-only kernel: convert checks the shapes when it runs
    except Exception as e:  # the model's own code decides what fits: any refusal counts
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise PackError(f"the file's example input shapes {shapes} do not fit the model: {type(e).__name__}: {first}") from None
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(s, generator=generator) for s in shapes)


def _compress_layers(model: nn.Module, coded: dict[str, SharedWeights], fast: bool) -> None:
    scratch = Scratch()
    modules = dict(model.named_modules())
    for module_name, weights in coded.items():
        parent_name, _, child = module_name.rpartition(".")
        module = modules[module_name]
        cls = CompressedConv2d if isinstance(module, nn.Conv2d) else CompressedLinear
        setattr(modules[parent_name] if parent_name else model, child, cls(module, weights, scratch, fast))


def _load_state(model: nn.Module, pack: PackFile, keep_compressed: bool) -> dict[str, SharedWeights]:
    """Loads the file's tensors into `model` (with the state_dict's module versions); returns
    the SharedWeights of the Conv2d/Linear weights kept coded (keep_compressed), whose
    streams are decoded once all the same, to check them."""
    records = pack.metadata["tensors"]
    state = model.state_dict()
    if set(records) != set(state):
        extra, missing = sorted(set(records) - set(state)), sorted(set(state) - set(records))
        raise PackError(f"file and model disagree: tensors only in the file {extra[:5]}, only in the model {missing[:5]}")
    modules = dict(model.named_modules())
    loaded, coded = OrderedDict(), {}
    scratch = np.empty(0, np.float32)
    for name, record in records.items():
        want = state[name]
        if tuple(record["shape"]) != tuple(want.shape):
            raise PackError(f"tensor {name!r}: file shape {record['shape']} differs from the model's {list(want.shape)}")
        # Raw tensors load as stored; coded ones are float32, converted to a floating model's type.
        converts = record["encoding"] != RAW and want.is_floating_point()
        if record["dtype"] != str(want.dtype).removeprefix("torch.") and not converts:
            raise PackError(f"tensor {name!r}: file dtype {record['dtype']} differs from the model's {want.dtype}")
        module_name, _, attr = name.rpartition(".")
        if keep_compressed and record["encoding"] in (SHARED_DENSE, SHARED_SPARSE) and attr == "weight" \
                and type(modules.get(module_name)) in (nn.Conv2d, nn.Linear):
            weights = shared_weights(record, pack.tensors, name)
            scratch = scratch if scratch.size >= weights.size else np.empty(weights.size, np.float32)
            with tensor_errors(name):  # decoded once to check every stream
                weights.decode(scratch[: weights.size])
            coded[module_name] = weights
            continue
        loaded[name] = torch.from_numpy(decode_tensor(record, pack.tensors, name)).to(want.dtype)
    if "state_dict_metadata" in pack.metadata:  # version 1 files have none
        loaded._metadata = OrderedDict(pack.metadata["state_dict_metadata"])
    model.load_state_dict(loaded, strict=not coded)
    return coded


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
    shapes come from the file unless given, and must fit the model); fast=False plain torch
    modules.
    keep_compressed=True keeps each weight-shared Conv2d/Linear weight Huffman-coded in memory
    and decodes it into a shared scratch buffer just before the layer runs
    (CompressedConv2d/CompressedLinear; with fast=True they run on pyprune's kernels, BatchNorm
    unfolded). Every stream is decoded once at load to check it, whatever the mode.
    PackError if the file is invalid or does not fit the model.
    """
    pack = read_pack(path)
    model = _fresh_model(model, pack)
    coded = _load_state(model, pack, keep_compressed)
    model.eval()
    if keep_compressed:
        _compress_layers(model, coded, fast)
        return model
    if fast:
        inputs = _as_inputs(example_inputs) or _file_inputs(pack, model)
        from pyprune.nn.convert import convert

        return convert(model, inputs)
    return model
