"""save(model, path) and load(path, model): one packed file per model (container and grammar:
format.py and grammar.py, tensor encodings: layers.py)."""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn
from torch.utils._pytree import tree_flatten

from pyprune import __version__
from pyprune.capture.export import python_state_kept
from pyprune.capture.segments import flat_inputs
from pyprune.capture.structures import value_leaf
from pyprune.graph.structure import TENSOR, unflatten
from pyprune.kernels import SharedWeights
from pyprune.modes import copy_model, evaluating
from pyprune.nn.compressed import CompressedConv2d, CompressedLinear, Scratch
from pyprune.pack.format import PackError, PackFile, parse_pack, read_pack, serialize, write_atomic
from pyprune.pack.layers import (DEFAULT_BITS, DEFAULT_INDEX_BITS, RAW, SHARED_DENSE, SHARED_SPARSE, Streams,
                                 check_option_keys, decode_tensor, encode_weight, shared_weights, tensor_errors,
                                 weight_kind)
from pyprune.pack.outputs import difference, model_outputs
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
    # The file's graph on pyprune's kernels against the original on the example inputs, when
    # the file holds one (pyprune.runtime runs it without torch); otherwise why it holds none.
    graph_error: OutputError | None = None
    no_graph: str | None = None
    # Set where the graph's outputs are further from the packed model's than pack.captured's
    # GRAPH_TOLERANCE but no further from the model run in float64 than ROUNDING_FACTOR times
    # its own float32 outputs are: how many times (outputs that cancel or select among
    # near-ties, capture.rounding).
    graph_rounding: float | None = None

    @property
    def runs_without_torch(self) -> bool:
        return self.no_graph is None

    def __str__(self) -> str:
        error = self.output_error or "output error not measured (no example inputs)"
        kind = "lossless" if self.lossless else "lossy"
        if self.no_graph is None:
            runs = f"runs without torch (pyprune.runtime), its graph's {self.graph_error}"
            if self.graph_rounding is not None:
                runs += (f" (where they cancel or select among near-ties: {self.graph_rounding:.2g}x the model's "
                         "own float32 rounding, against it run in float64)")
        else:
            runs = f"needs torch and the model's code to run (pack.load): no graph, {self.no_graph}"
        return f"wrote {self.path} ({self.file_bytes:,} bytes, {kind}): {error}\n{runs}"


def _kind(t: torch.Tensor) -> str | None:
    return weight_kind(tuple(t.shape), t.is_floating_point())


def _as_inputs(example_inputs: Any) -> tuple | None:
    """The model's arguments: a tensor, or a tuple of them or of lists, tuples and dicts of
    tensors, numbers, flags and None (None: no example)."""
    if example_inputs is None:
        return None
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    try:  # the leaves a graph's input structure can hold
        leaves = [value_leaf(x) for x in tree_flatten(inputs)[0]]
    except ValueError:
        leaves = []
    if TENSOR not in leaves:
        raise TypeError("example_inputs must be a tensor, or a tuple of the model's arguments: tensors, or lists, "
                        "tuples and dicts of tensors, numbers and flags")
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


def _packed_model(model: nn.Module, packed: PackFile) -> nn.Module:
    """A copy of `model` holding the weights decoded from what was written."""
    copied = copy_model(model)
    _load_state(copied, packed, keep_compressed=False)
    return copied


def _graph(packed_model: nn.Module, inputs: tuple, metadata: dict[str, Any], streams: Streams,
           packed: list[torch.Tensor], *, lossless: bool,
           **encoding: Any) -> tuple[dict, Streams, list, float | None]:
    """(the graph section, its own streams, its outputs on `inputs`, and None or how many times
    the packed model's own float32 rounding they are from it run in float64 where they are
    beyond GRAPH_TOLERANCE) of the packed model (the weights as written, decoded) captured whole
    and written into the file of `metadata` and `streams`, its outputs checked against the
    packed model's (`packed`). Captured on the weights as written, what the graph derives from
    them (a transposed convolution's sub-pixel kernels, branches merged into one kernel, a
    normalised or standardised weight) is what the packed model computes. These constants of the
    graph's own are encoded as the weights are, or bit for bit where sharing them again takes the
    graph too far from the packed model.
    ValueError saying why the graph cannot be stored."""
    from pyprune.capture.rounding import ROUNDING_FACTOR, float64_outputs, times_float32_rounding
    from pyprune.pack.captured import GRAPH_TOLERANCE, captured_graph, file_graph_outputs
    from pyprune.pack.graph_section import graph_section

    arrays = {name: t.numpy() for name, t in packed_model.state_dict().items() if t.dtype == torch.float32}
    with evaluating(packed_model):
        graph = captured_graph(packed_model, inputs)
    in_float64 = functools.cache(lambda: float64_outputs(packed_model, inputs))  # run where needed, once
    for exact in dict.fromkeys((lossless, True)):
        section, own = graph_section(graph, arrays, metadata["tensors"], streams, lossless=exact, **encoding)
        got = file_graph_outputs(parse_pack(serialize({**metadata, "graph": section}, {**streams, **own})), inputs)
        if [tuple(g.shape) for g in got] != [tuple(p.shape) for p in packed]:
            raise ValueError(f"the graph's output shapes {[tuple(g.shape) for g in got]} differ from the model's "
                             f"{[tuple(p.shape) for p in packed]}")
        disagreement = difference(packed, got)
        if disagreement.relative <= GRAPH_TOLERANCE:
            return section, own, got, None
        # Outputs that cancel, or select among values that nearly tie (a detector's top queries in
        # a random-init model), differ by more where the model's own float32 result does too.
        times = None if in_float64() is None else times_float32_rounding(got, packed, in_float64())
        if times is not None and times <= ROUNDING_FACTOR:
            return section, own, got, times
    against = "" if times is None else f", {times:.3g}x the model's own float32 rounding (against it run in float64)"
    raise ValueError(f"the graph's outputs differ from the packed model's by {disagreement.max_abs:.3g} "
                     f"({disagreement.relative:.2%} of their range){against}")


def _no_graph_reason(graph: Any, inputs: tuple | None) -> str | None:
    """Why the file gets no graph before anything is tried (None: try)."""
    if not (graph is True or graph is False or (isinstance(graph, str) and graph == "auto")):
        raise ValueError(f"graph must be True, False or 'auto', got {graph!r}")
    if graph is False:
        return "not asked for (graph=False)"
    if inputs is None:
        if graph is True:
            raise ValueError("graph=True needs example_inputs: the graph is captured by running the model on them")
        return "saved without example inputs, on which the graph is captured"
    return None


def save(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    bits: int | Mapping[str, int | None] | None = None,
    index_bits: int | Mapping[str, int] | None = None,
    example_inputs: Any = None,
    channel_plan: dict | None = None,
    lossless: bool = False,
    graph: bool | str = "auto",
) -> SaveResult:
    """Packs `model`'s state_dict into one file at `path` (written atomically, mode as the
    umask says) and says what packing did to the outputs.

    Convolution (4-D) and linear (2-D) weights of at least 256 elements are weight-shared and
    Huffman-coded, stored sparse (relative gaps) when that is smaller; everything else is
    stored raw. bits: index width of the shared weights, an int for all, or a mapping from
    parameter name ('features.0.weight'), module name ('features.0') or kind ('conv',
    'linear') to bits (None keeps that tensor raw; a key naming none of them is a ValueError);
    default 8 for convolutions, 5 for linear layers. Weight sharing changes the weights: the
    outputs change with them.
    lossless=True shares no weight: every weight is stored bit for bit (sparse ones as
    non-zeros and gaps, their bytes Huffman-coded; already-shared ones as their codebook).
    index_bits: width of the relative positions of sparse weights, likewise (default 8 and 5).
    example_inputs: the model's arguments (a tensor, or a tuple of tensors or of lists, tuples
    and dicts of them, numbers and flags) on which the packed model's outputs are compared with
    the original's (the figure is returned and stored in the file), and whose shapes
    load(fast=True) converts with.
    channel_plan: pyprune.prune.channel_plan(model) of a structurally pruned model, applied
    to the fresh model at load.
    graph: whether the file also holds the model's inference graph, captured on the example
    inputs (torch.export, the operator set, optimised; its constants share the state_dict's
    tensors), with which pyprune.runtime runs the file without torch or the model's code. "auto":
    when the model can be captured whole (else the result's no_graph says why); True: a
    ValueError saying why if it cannot; False: no graph. The graph's outputs on pyprune's
    kernels are checked against the packed model's and measured against the original's
    (the result's graph_error, stored in the file); where they cancel or select among values
    that nearly tie, against it run in float64 too (the result's graph_rounding).
    OSError naming the folder if it cannot be written (a missing folder, no permission).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if lossless and bits is not None:
        raise ValueError("lossless=True shares no weights: leave bits unset")
    inputs = _as_inputs(example_inputs)
    no_graph = _no_graph_reason(graph, inputs)
    state = model.state_dict()
    check_option_keys(bits, state, "bits")
    check_option_keys(index_bits, state, "index_bits")
    records, streams = {}, {}
    for name, t in state.items():
        records[name], s = _encode(name, t.detach().cpu(), bits, index_bits, lossless)
        streams.update(s)
    metadata = {
        "tensors": records,
        "example_inputs": None if inputs is None else [list(x.shape) for x in flat_inputs(inputs)],
        "channel_plan": channel_plan,
        "model": type(model).__name__,
        "pyprune_version": __version__,
        "output_error": None,
        "state_dict_metadata": _module_versions(state),
        "graph": None,
    }
    written = parse_pack(serialize(metadata, streams))  # what is written must pass the reader's grammar
    error = graph_error = graph_rounding = None
    if inputs is not None:
        want = model_outputs(model, inputs)
        packed_model = _packed_model(model, written)
        packed = model_outputs(packed_model, inputs)
        error = difference(want, packed)
        metadata["output_error"] = error.to_metadata()
        if no_graph is None:
            try:
                section, own, got, graph_rounding = _graph(packed_model, inputs, metadata, streams, packed,
                                                           bits=bits, index_bits=index_bits, lossless=lossless)
            except (ValueError, TypeError, NotImplementedError, RuntimeError) as e:  # capture's or kernels' refusal
                why = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
                if graph is True:
                    raise ValueError(f"the model's graph cannot be stored: {why}") from e
                no_graph = why
            else:
                graph_error = difference(want, got)
                metadata["graph"] = {**section, "output_error": graph_error.to_metadata()}
                streams = {**streams, **own}
    data = serialize(metadata, streams)
    parse_pack(data)
    write_atomic(path, data)
    result = SaveResult(Path(path), len(data), error, lossless, graph_error, no_graph, graph_rounding)
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


def _file_inputs(pack: PackFile, model: nn.Module) -> tuple:
    """Random inputs of the shapes the file names (capped by the grammar), once they are
    known to fit the model: it runs first on shape-only (meta) tensors, allocating nothing (on
    the inputs themselves where shape-only tensors, not the shapes, fail it).
    An input its graph says the model takes as integers (input_dtypes) is zeros of that dtype,
    an index any table has; arguments its graph says are nested (input_structure) are given so."""
    shapes = pack.metadata["example_inputs"]
    if shapes is None:
        raise ValueError("load(fast=True) needs example inputs: save(..., example_inputs=...) or load(..., example_inputs=...)")
    graph = (pack.metadata.get("graph") or {}).get("ir", {})
    dtypes = [getattr(torch, d) for d in graph.get("input_dtypes") or ["float32"] * len(shapes)]
    nested = graph.get("input_structure")

    def arguments(tensors: list[torch.Tensor]) -> tuple:
        return tuple(tensors) if nested is None else unflatten(nested, tensors)

    # torch.func refuses a DataParallel wrapper: its module computes the same
    model = model.module if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else model
    meta = {k: torch.empty_like(v, device="meta") for k, v in itertools.chain(model.named_parameters(), model.named_buffers())}
    generator = torch.Generator().manual_seed(0)

    def real_inputs() -> tuple:
        return arguments([torch.randn(s, generator=generator) if d == torch.float32 else torch.zeros(s, dtype=d)
                          for s, d in zip(shapes, dtypes)])

    try:
        # Tensors the model makes itself (a detection head's grid of torch.arange) are shape-only too,
        # and what it caches of them (YOLO's anchors) is dropped after.
        with torch.no_grad(), torch.device("meta"), python_state_kept(model):
            torch.func.functional_call(model, meta, arguments([torch.empty(s, dtype=d, device="meta")
                                                               for s, d in zip(shapes, dtypes)]))
    except NotImplementedError:
        pass  # an operation without a shape-only kernel: convert checks the shapes when it runs
    except Exception as e:  # the model's own code decides what fits: any refusal counts
        refusal = e
        if "meta" in str(e):  # no refusal of the shapes: a plain tensor attribute (YOLO's strides) met
            inputs = real_inputs()  # shape-only ones, or .item() of one: the inputs themselves decide
            try:
                with python_state_kept(model):
                    model_outputs(model, inputs)
                return inputs
            except Exception as real:
                refusal = real
        first = (str(refusal).strip().splitlines() or [""])[0][:200]
        raise PackError(f"the file's example input shapes {shapes} do not fit the model: {type(refusal).__name__}: "
                        f"{first}") from None
    return real_inputs()


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
        # Raw tensors load as stored, but a bfloat16 model's, stored as their float32 values (numpy has
        # no bfloat16, _encode); coded ones are float32, converted to a floating model's type.
        bfloat16 = want.dtype == torch.bfloat16 and record["dtype"] == "float32"
        converts = (record["encoding"] != RAW or bfloat16) and want.is_floating_point()
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
