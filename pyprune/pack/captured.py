"""The model's inference graph for its packed file: captured on the operator set (so that
pyprune.runtime runs the file without torch), and run from the file as written, to measure it.
Needs torch."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn
from torch.utils._pytree import tree_map

from pyprune.capture.export import python_state_kept
from pyprune.capture.indices import INTEGER_DTYPES
from pyprune.capture.pipeline import inference_graph
from pyprune.capture.reference import same_upper_padding
from pyprune.capture.segments import flat_inputs
from pyprune.graph.engine import Engine
from pyprune.graph.ir import Node
from pyprune.pack.format import PackFile
from pyprune.pack.outputs import difference, model_outputs
from pyprune.pack.reading import graph as file_graph
from pyprune.runtime import Net

__all__ = ["GRAPH_TOLERANCE", "captured_graph", "file_graph_outputs"]

# The graph runs the packed model's weights on other kernels (batch norms folded, other orders of
# summation): beyond this fraction of the output range it would be computing something else.
GRAPH_TOLERANCE = 1e-3
# A graph made to follow the input's size (_padded_the_same_way, _resized_like,
# _reshaped_like_inputs, _with_grids) computes what the
# model does at other sizes, to rounding, or something else there that averaging may hide (a
# padding off by a row, a map resized twice, under a global pool): it holds only this close.
DERIVED_TOLERANCE = 1e-5


def captured_graph(model: nn.Module, inputs: tuple) -> Any:
    """`model` (in eval mode) captured on `inputs` on the operator set, marked fixed_sizes if it
    does not hold at other sizes. Where it does not, but does derived so as to follow the input's
    size (its strided convolutions padded TensorFlow's "SAME" way wherever they are so padded at
    the example's sizes, timm's tf_ models; its resizes to a fixed size resized to a tensor's
    size, a segmentation head's; its reshapes to sizes read from their input following its
    dims, a channel shuffle's or an attention's; or its pixel grids computed from maps of their
    sizes, a detector's anchors), that graph. ValueError saying why when it cannot be captured
    whole."""
    graph = inference_graph(model, inputs)
    probes = _probes(model, inputs, ("twice", "odd"))
    if _holds(graph, probes, GRAPH_TOLERANCE):
        return graph
    nodes = Net(graph).describe()  # the nodes' shapes at the example, which the derived graphs read
    # A derived graph follows tensors picked by their sizes at the example: where the example is
    # square, so are both probes deep in a network, and only another aspect ratio tells a map's
    # height from its width.
    probes += _probes(model, inputs, ("wide",))
    for candidate in _derived(graph, nodes):
        if _holds(candidate, probes, DERIVED_TOLERANCE):
            return candidate
    graph.fixed_sizes = True
    return graph


def _derived(graph: Any, nodes: list) -> Iterator[Any]:
    """The graphs derived from `graph` to follow the input's size, made as they are asked for:
    its "SAME" paddings, its resizes, then its reshapes following their inputs on the graph and
    on each of the others (a segmentation model's attention views and its logits resized to
    the input's size), then each of those with its pixel grids computed (a detector's anchors,
    whose head also views its maps' pixels). `nodes`: the graph's (Net.describe) at the
    example, where every derived graph has the same shapes (its nodes too, but for the grids'
    own)."""
    bases = [graph]
    for other in itertools.chain(_padded_the_same_way(graph, nodes), _resized_like(graph, nodes)):
        bases.append(other)
        yield other
    reshaped = []
    for base in bases:
        for candidate in _reshaped_like_inputs(base, nodes):
            reshaped.append(candidate)
            yield candidate
    grids = _grids_of(graph, nodes)  # the derived graphs share the graph's constants and shapes
    for candidate in (*bases, *reshaped) if grids else ():
        yield from _with_grids(candidate, nodes, grids)


def _probes(model: nn.Module, inputs: tuple, kinds: tuple[str, ...]) -> list[tuple[tuple, list | None, bool]]:
    """(inputs, the model's outputs on them or None where it refuses them, whether a refusal is
    no disagreement) at which a graph holds where it computes what the model does at sizes
    other than the example's, past dims 0 and 1 (an image's height and width, a signal's
    length), or past dim 0 for inputs of rank 2 (a sequence of token ids, or features). A size
    the model read from its input at capture (F.interpolate to x.shape[-2:], padding to a
    multiple of the stride) is a constant of the graph, which then answers other sizes with the
    example's; a model that takes no other size (a position table of its own, a linear layer's
    features) fixes them too. Probed (`kinds`, _resized) at twice the example's sizes
    (multiples of the model's strides still, which the model must take), at odd sizes one past
    those and at twice the last size alone (which it may refuse: a detector whose upsampled maps
    must meet its strided ones, a model of square inputs). Inputs of rank 1 have no such sizes:
    no probe, nor a wide one where no input has two such dims."""
    tensors = flat_inputs(inputs)
    if all(x.dim() < 2 for x in tensors if isinstance(x, torch.Tensor)):
        return []
    probes = []
    for kind in kinds:
        probe = tree_map(lambda x: _resized(x, kind), inputs)
        if kind == "wide" and all(a is b for a, b in zip(flat_inputs(probe), tensors)):
            continue
        try:
            with python_state_kept(model):  # a detector's grid cached at the probe's sizes is not the user's
                want = model_outputs(model, probe)
        except Exception:  # whatever the model refuses the sizes with
            want = None
        probes.append((probe, want, kind != "twice"))
    return probes


def _resized(x: Any, kind: str) -> Any:
    """`x` of other sizes past dim 0 (past dim 1 from rank 3): twice its sizes ("twice"), plus
    1, 3, 5, ... ("odd"), or its last size twice from two such dims on ("wide"); its own entries
    repeated, so token ids stay ids."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        return x
    first = 1 if x.dim() == 2 else 2
    sizes = x.shape[first:]
    if kind == "wide" and len(sizes) < 2:
        return x
    for k, n in enumerate(sizes):
        if kind == "wide":
            size = 2 * n if k == len(sizes) - 1 else n
        else:
            size = 2 * n + (2 * k + 1 if kind == "odd" else 0)
        x = x.index_select(first + k, torch.arange(size) % n)
    return x


def _holds(graph: Any, probes: list, tolerance: float) -> bool:
    """Whether the graph, compiled once, agrees with the model at every probe (_agrees_at)."""
    if not probes:
        return True
    try:
        engine = Engine(graph)
    except Exception:  # the operators refuse a derived graph: it holds nowhere
        return False
    return all(_agrees_at(engine, *probe, tolerance) for probe in probes)


def _agrees_at(engine: Engine, probe: tuple, want: list | None, refusable: bool, tolerance: float) -> bool:
    """Whether the compiled graph gives the model's outputs `want` on `probe` within `tolerance`
    of their range: a graph that refuses sizes the model takes, or answers otherwise (or not
    finitely), does not; where the model refused the probe (want None), `refusable` says whether
    that is no disagreement."""
    if want is None:
        return refusable
    try:
        got = engine(*[_engine_input(x) for x in flat_inputs(probe)])
        got = [torch.from_numpy(g) for g in (got if isinstance(got, tuple) else (got,))]
        return [g.shape for g in got] == [w.shape for w in want] and difference(want, got).relative <= tolerance
    except Exception:  # the graph refuses sizes the model takes: not one of its sizes
        return False


def _padded_the_same_way(graph: Any, nodes: list) -> Iterator[Any]:
    """Copies of the graph whose strided convolutions padded TensorFlow's "SAME" way at the
    example's sizes pad so at every size (auto_pad "same_upper"): all of them, then only the
    asymmetric ones (an odd size pads the "SAME" way symmetrically, as a padding of PyTorch's
    does: which of those reads its input's size, only the probes can tell). `nodes`: the graph's
    (Net.describe) at the example. Made as they are asked for."""
    same, asymmetric = [], []
    for k, (node, info) in enumerate(zip(graph.nodes, nodes)):
        stride, dilation = node.attrs.get("stride", [1, 1]), node.attrs.get("dilation", [1, 1])
        if node.op != "conv2d" or stride == [1, 1] or "padding" not in node.attrs:
            continue  # at stride 1 "SAME" pads by the kernel's reach alone, whatever the size
        kernel = info.input_shapes[1][2:]
        padding = list(node.attrs["padding"])
        if padding == same_upper_padding(info.input_shapes[0][2:], kernel, stride, dilation):
            same.append(k)
            if padding[:2] != padding[2:]:
                asymmetric.append(k)
    for marked in dict.fromkeys(map(tuple, (same, asymmetric))):
        if marked:
            yield _auto_padded(graph, marked)


def _resized_like(graph: Any, infos: list) -> Iterator[Any]:
    """The graph with its resizes to a fixed size resized to the size of a tensor of that size
    before them (upsample's size_like: F.interpolate(x, size=y.shape[-2:]), a segmentation
    model's logits to its input's size, an FPN's coarse map to the lateral one's): a graph input
    where one has it, else the latest tensor. `infos`: the graph's nodes (Net.describe) at the
    example. Made when asked for; nothing where there is no such resize, or where one has no
    such tensor."""
    shapes = {spec.name: spec.shape for spec in graph.inputs}
    nodes, changed = [], False
    for node, info in zip(graph.nodes, infos):
        if node.op == "upsample" and "size" in node.attrs:
            like = _tensor_of_size(graph, shapes, [tuple(node.attrs["size"])])
            if like is None:
                return  # a resize to a size no tensor has (a map padded to whole patches): it stays fixed
            attrs = {a: v for a, v in node.attrs.items() if a != "size"}
            node = Node(node.op, [node.inputs[0], like], node.outputs, {**attrs, "size_like": 1}, node.name)
            changed = True
        nodes.append(node)
        shapes.update(zip(node.outputs, info.output_shapes))
    if changed:
        yield dataclasses.replace(graph, nodes=nodes)


def _reshaped_like_inputs(graph: Any, infos: list) -> Iterator[Any]:
    """The graph with its reshapes' sizes following their input's dims, where a reshape keeps a
    dim (its size becomes that dim: a channel shuffle's (n, g, c / g, h, w)) or merges several
    into one, the only such entry (inferred, -1: an attention's (n, c, h * w)); where it splits
    one dim into two sizes that are the last two dims of a tensor before it (an attention's
    (n, c, h * w) back to (n, c, h, w)), following that tensor's (like_dims: a graph input where
    one has them, else the latest); other splits keep the example's sizes (space to depth: the
    probes then find the graph fixed). `infos`: the graph's nodes (Net.describe) at the example.
    Made when asked for; nothing where no reshape changes."""
    shapes = {spec.name: tuple(spec.shape) for spec in graph.inputs}
    nodes, changed = [], False
    for node, info in zip(graph.nodes, infos):
        if node.op == "reshape" and "like_dims" not in node.attrs:
            shape, splits = _following(info.input_shapes[0], info.output_shapes[0], node.attrs["shape"])
            attrs, inputs = {**node.attrs, "shape": shape}, node.inputs
            like = _tensor_of_size(graph, shapes, [tuple(info.output_shapes[0][j] for j in split) for split in splits])
            if like is not None:
                attrs["like_dims"] = [-1] * len(shape)
                for split in splits:
                    attrs["like_dims"][split[0]], attrs["like_dims"][split[1]] = len(shapes[like]) - 2, len(shapes[like]) - 1
                inputs = [node.inputs[0], like]
            if attrs != node.attrs:
                node = Node(node.op, inputs, node.outputs, attrs, node.name)
                changed = True
        nodes.append(node)
        shapes.update(zip(node.outputs, map(tuple, info.output_shapes)))
    if changed:
        yield dataclasses.replace(graph, nodes=nodes)


# The ops whose constant operands _grids_of reads as grids (arithmetic on coordinates, their
# copies), the most maps a grid concatenates, the most map sizes it tries (the first of the
# graph's) and the largest grid it reads.
_GRID_USERS = {"add", "sub", "mul", "div", "maximum", "minimum", "expand", "concat"}
_GRID_MAPS = 5
_GRID_SIZES = 16
_GRID_ELEMENTS = 1 << 20


def _grids_of(graph: Any, infos: list) -> dict[str, tuple]:
    """The graph's constants that are pixel grids (_grid_of: their pixel_grid attributes and
    maps' sizes by name): a detector's anchor points, (x + 0.5, y + 0.5) of each map's pixels
    concatenated, and its strides, one per map, which it computes from its maps' sizes at every
    call. A constant is read as a grid where an arithmetic op reads it, or copies it (expand,
    concat). `infos`: the graph's nodes (Net.describe) at the example."""
    shapes = {spec.name: tuple(spec.shape) for spec in graph.inputs}
    for node, info in zip(graph.nodes, infos):
        shapes.update(zip(node.outputs, map(tuple, info.output_shapes)))
    maps = list(dict.fromkeys(s[-2:] for s in shapes.values() if len(s) == 4 and s[-2] * s[-1] > 1))
    by_area = sorted(maps[:_GRID_SIZES], key=lambda m: -m[0] * m[1])
    choices: dict[int, list[tuple]] = {}  # pixels: the sets of map sizes of that many, largest first
    for count in range(1, _GRID_MAPS + 1):
        for chosen in itertools.combinations(by_area, count):
            choices.setdefault(sum(h * w for h, w in chosen), []).append(chosen)
    grids, read = {}, set()
    for node in graph.nodes:
        for name in node.inputs if node.op in _GRID_USERS else ():
            value = graph.constants.get(name)
            if name not in read and isinstance(value, np.ndarray) and name not in graph.outputs:
                read.add(name)
                grid = _grid_of(value, choices)
                if grid is not None:
                    grids[name] = grid
    return grids


def _with_grids(graph: Any, infos: list, grids: dict[str, tuple]) -> Iterator[Any]:
    """The graph with its constants `grids` (_grids_of) computed from maps of their sizes
    (pixel_grid, made before the constant's first reader: a graph input where one has the size,
    else the latest tensor of it before that), every reader reading the grid. `infos`: the
    graph's nodes (Net.describe) at the example. Made when asked for; nothing where no such
    constant has maps of its sizes before its first reader."""
    made, tried, before, nodes = {}, set(), {spec.name: tuple(spec.shape) for spec in graph.inputs}, []
    for node, info in zip(graph.nodes, infos):
        for name in node.inputs:
            if name in grids and name not in tried:  # at its first reader only: the others read the same
                tried.add(name)
                shape, sizes, coefficients = grids[name]
                like = [_tensor_of_size(graph, before, [size]) for size in sizes]
                if None not in like:
                    made[name] = f"{name}.grid"
                    nodes.append(Node("pixel_grid", like, [made[name]], {"shape": shape, "coefficients": coefficients},
                                      node.name))
        nodes.append(Node(node.op, [made.get(t, t) for t in node.inputs], node.outputs, node.attrs, node.name)
                     if any(t in made for t in node.inputs) else node)
        before.update(zip(node.outputs, map(tuple, info.output_shapes)))
    if made:  # every reader of a made grid's constant reads the grid
        constants = {k: v for k, v in graph.constants.items() if k not in made}
        yield dataclasses.replace(graph, nodes=nodes, constants=constants)


def _grid_of(value: np.ndarray, choices: dict[int, list[tuple]]) -> tuple[list, list, list] | None:
    """(shape with -1 for the pixels, or -2 and -3 for one map's height and width, the maps'
    sizes, coefficients: pixel_grid's attributes) where `value` is along one dim the pixels of
    maps of one of the `choices` of sizes for its length (largest or smallest first),
    concatenated, or along two a map of one of them, and along those, for each entry of the
    other dims and each map, a x + b y + c of the pixel (x, y): exactly, to float32's
    rounding. Constant values are no grid (they tell no map from another)."""
    if not 1 < value.size <= _GRID_ELEMENTS or value.dtype != np.float32 or not np.all(np.isfinite(value)) \
            or value.min() == value.max():
        return None
    for axis, pixels in enumerate(value.shape):
        rows = np.moveaxis(value, axis, -1).reshape(-1, pixels).astype(np.float64)
        for chosen in choices.get(pixels, []):
            for sizes in dict.fromkeys((chosen, chosen[::-1])):
                coefficients = _affine_in_pixels(rows, sizes)
                if coefficients is not None:
                    shape = [-1 if d == axis else n for d, n in enumerate(value.shape)]
                    return shape, list(sizes), coefficients
    maps = {chosen[0] for options in choices.values() for chosen in options if len(chosen) == 1}
    for axis, size in enumerate(zip(value.shape, value.shape[1:])):
        if size not in maps:
            continue
        rows = np.moveaxis(value, (axis, axis + 1), (-2, -1)).reshape(-1, size[0] * size[1]).astype(np.float64)
        coefficients = _affine_in_pixels(rows, (size,))
        if coefficients is not None:
            shape = [{axis: -2, axis + 1: -3}.get(d, n) for d, n in enumerate(value.shape)]
            return shape, [size], coefficients
    return None


def _affine_in_pixels(rows: np.ndarray, sizes: tuple) -> list[float] | None:
    """Per row and map, (a, b, c) with the row's values over the map's pixels a x + b y + c,
    flat in row then map order; None where a row is not so on some map."""
    coefficients = np.zeros((rows.shape[0], len(sizes), 3))
    start = 0
    for i, (h, w) in enumerate(sizes):
        segment = rows[:, start:start + h * w]
        p = np.arange(h * w)
        x, y = p % w, p // w
        c = segment[:, 0]
        a = segment[:, 1] - c if w > 1 else np.zeros_like(c)
        b = segment[:, w] - c if h > 1 else np.zeros_like(c)
        fit = a[:, None] * x + b[:, None] * y + c[:, None]
        if np.any(np.abs(fit - segment) > 1e-6 * np.maximum(1.0, np.abs(segment))):
            return None
        coefficients[:, i] = np.stack([a, b, c], 1)
        start += h * w
    return [float(v) for v in coefficients.reshape(-1)]


def _tensor_of_size(graph: Any, shapes: dict, sizes: list[tuple]) -> str | None:
    """A tensor of `shapes` (name: shape, in order) whose last two dims are each of `sizes`
    (pairs): a graph input where one is, else the latest; None where there are no sizes or no
    such tensor."""
    if not sizes or len(set(sizes)) != 1:
        return None
    like = [t for t, shape in shapes.items() if len(shape) >= 3 and tuple(shape[-2:]) == sizes[0]]
    return ([t.name for t in graph.inputs if t.name in like] or like[-1:] or [None])[0]


def _following(dims: list, sizes: list, shape: list) -> tuple[list, list]:
    """The reshape's `shape` entries (a size, -1, or -(2 + i) for the input's dim i) made to
    follow the input's `dims` where the reshape of `dims` to `sizes` keeps a dim (a size, or the
    inferred entry, becomes that dim) or merges dims into one size (inferred, the only one that
    does), and the pairs of sizes that split one dim in two. Dims of 1 carry no size to
    follow and are left out: at the example they are also the batch's, which the entries that
    are dims already follow (the lowering's); those stay. `shape` itself (and no pairs) where
    the dims do not group into the sizes."""
    real_dims = [i for i, d in enumerate(dims) if d != 1]
    real_sizes = [j for j, n in enumerate(sizes) if n != 1]
    groups = _groups([dims[i] for i in real_dims], [sizes[j] for j in real_sizes])
    if groups is None:
        return shape, []
    following, merged, splits = list(shape), [], []
    for kept, made in groups:
        kept, made = [real_dims[k] for k in kept], [real_sizes[m] for m in made]
        if len(kept) == 1 and len(made) == 1 and shape[made[0]] >= -1:
            following[made[0]] = -2 - kept[0]
        elif len(kept) > 1 and len(made) == 1 and shape[made[0]] >= 1:
            merged.append(made[0])
        elif len(kept) == 1 and len(made) == 2 and min(shape[m] for m in made) >= 1:
            splits.append(made)
    if len(merged) == 1:  # inferred, the example's size where another entry was (a split's part)
        following = [sizes[j] if e == -1 else e for j, e in enumerate(following)]
        following[merged[0]] = -1
    return following, splits


def _groups(dims: list, sizes: list) -> list[tuple[list, list]] | None:
    """The reshape of `dims` to `sizes` as (input dims, output dims) groups of equal products,
    in order (a view's: each output dim made of whole consecutive input dims or part of one);
    None where there are none (a dim of 0)."""
    if 0 in dims or 0 in sizes:
        return None
    groups, i, j = [], 0, 0
    while i < len(dims) or j < len(sizes):
        kept, made = [i] if i < len(dims) else [], [j] if j < len(sizes) else []
        have = dims[i] if i < len(dims) else 1
        want = sizes[j] if j < len(sizes) else 1
        i, j = i + len(kept), j + len(made)
        while have != want:
            if have < want:
                if i == len(dims):
                    return None
                have, i = have * dims[i], i + 1
                kept.append(i - 1)
            else:
                if j == len(sizes):
                    return None
                want, j = want * sizes[j], j + 1
                made.append(j - 1)
        groups.append((kept, made))
    return groups


def _auto_padded(graph: Any, marked: tuple[int, ...]) -> Any:
    """The graph with nodes `marked` padded by auto_pad "same_upper" (its constants shared)."""
    nodes = [Node(n.op, n.inputs, n.outputs, {**{a: v for a, v in n.attrs.items() if a != "padding"},
                                             "auto_pad": "same_upper"}, n.name) if k in marked else n
             for k, n in enumerate(graph.nodes)]
    return dataclasses.replace(graph, nodes=nodes)


def file_graph_outputs(written: PackFile, inputs: tuple) -> list[torch.Tensor]:
    """The outputs of the file's graph on the model's arguments `inputs`, run as
    pyprune.runtime runs it (ValueError if the operators refuse the graph)."""
    net = Net(file_graph(written))
    return [torch.from_numpy(y) for y in net.run(*[_engine_input(x) for x in flat_inputs(inputs)])]


def _engine_input(x: torch.Tensor) -> Any:
    """An example input as the graph takes it: integers as they are, other data as float32."""
    x = x.detach().cpu().contiguous()
    return x.numpy() if x.dtype in INTEGER_DTYPES else x.float().numpy()
