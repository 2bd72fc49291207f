"""Lowering an exported program (torch.export, ATen ops) to the operator set (pyprune.graph.ir).

One table maps each ATen op to a builder emitting operator-set nodes. A node no builder takes
stays in the graph as an opaque node (its op is the ATen op's name, e.g.
"aten.grid_sampler_2d.default") that runs as a torch call (``Lowered.calls``); the reason is in
``Lowered.unsupported``. Parameters, buffers and whatever is computed from them alone become
constants; aliases (clone, contiguous, dropout, getitem, ...) vanish; sizes computed from the
batch become reshape entries "dim i of the input".
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import sympy
import torch
import torch.fx as fx
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from pyprune.capture import composites, indices, recurrent, spectral
from pyprune.capture.export import quiet
from pyprune.capture.values import (FILLED, INT64_MAX, MISSING, Broadcast, Comparison, Condition, Junction,
                                    PoolArgmax, Ref, Unsupported, conv_padding, functional, int_pair, norm_axis,
                                    op_name, resize_attrs, without_axes)
from pyprune.graph import ir

__all__ = ["Lowered", "Origin", "Ref", "TorchCall", "bind_schema", "lower"]

aten = torch.ops.aten
FLOAT_MAX = float(np.finfo(np.float32).max)  # an open clamp bound (attributes are finite)


@dataclass(frozen=True)
class Origin:
    """What a node was: the module it ran in and the ATen op."""

    module: str
    aten: str


@dataclass(frozen=True)
class Input:
    """Marks where a TorchCall's k-th input goes."""

    index: int


@dataclass
class TorchCall:
    """A node kept as a torch call: target(*args, **kwargs) with the node's inputs where the
    Input markers stand (constants are held in the arguments themselves)."""

    target: Callable
    args: tuple
    kwargs: dict
    why: str = ""  # why it is torch's (empty for a size computation)

    def __call__(self, inputs: Sequence[Any]) -> Any:
        def fill(a: Any) -> Any:
            if isinstance(a, Input):
                return inputs[a.index]
            if isinstance(a, (list, tuple)):
                return type(a)(fill(x) for x in a)
            return a

        return self.target(*fill(self.args), **{k: fill(v) for k, v in self.kwargs.items()})


@dataclass
class Lowered:
    """The lowered graph; side tables are keyed by a node's first output."""

    graph: ir.Graph
    unsupported: list[tuple[fx.Node, str]]  # ATen nodes left to torch, and why
    calls: dict[str, TorchCall]  # how each opaque node runs
    origins: dict[str, list[Origin]]  # what each node was (several once fused)
    out_spec: Any = None  # the model's output structure (a pytree spec of graph.outputs)
    values: dict[str, Any] = field(default_factory=dict)  # name -> example value (fake tensor or size)


# Ops whose only effect is a check at trace time.
_CHECKS = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size", "_assert_async",
           "sym_constrain_range"}
# Ops returning their input's values unchanged (in inference).
_ALIASES = {"alias", "clone", "contiguous", "detach", "lift_fresh_copy", "lift_fresh"}
_DROPOUTS = {"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"}
_ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid", "silu": "silu",
                "sigmoid": "sigmoid", "tanh": "tanh", "mish": "mish"}
# ATen op -> unary kind (aliases such as torch.arctan are their ops already: capture/aliases.py)
_UNARY = {**{kind: kind for kind in ("sqrt", "rsqrt", "exp", "log", "abs", "neg", "reciprocal", "erf", "sin", "cos",
                                     "tan", "atan", "floor", "ceil", "round", "trunc", "sign", "expm1", "log1p",
                                     "exp2", "log2", "log10", "sinh", "cosh", "asin", "acos", "asinh", "acosh",
                                     "atanh", "erfc", "erfinv")},
          "sgn": "sign"}
_BINARY = {"add", "sub", "mul", "div", "maximum", "minimum", "atan2", "fmod", "hypot"}
_REDUCE = {"mean": "mean", "sum": "sum", "amax": "max", "amin": "min", "prod": "prod"}
_COMPARISONS = {"gt", "ge", "lt", "le", "eq", "ne"}
_NOTS = {"logical_not", "bitwise_not"}  # ~mask is bitwise_not
_CASTS = {"to", "_to_copy"}
# Constants made "like" a tensor: of its dtype, of sizes of their own (a mask built in the forward).
_NEW_CONSTANTS = {"new_zeros", "new_ones", "new_full"}
_JUNCTIONS = {"logical_and": "and", "bitwise_and": "and", "__and__": "and",  # mask & mask is __and__
              "logical_or": "or", "bitwise_or": "or", "__or__": "or"}
_XORS = {"logical_xor", "bitwise_xor", "__xor__"}
# Products and sums of masks are masks: and, or (ultralytics' crop_mask multiplies its comparisons).
_MASK_ARITHMETIC = {"mul": "and", "add": "or"}
# Tests of a number's class, as comparisons (NaN is unequal to itself and to every bound).
_CLASSES = {"isnan", "isinf", "isposinf", "isneginf", "isfinite"}
# Ops that move or copy a tensor's entries: of a condition, its mask moved is a condition.
_CONDITION_MOVES = {"view", "reshape", "_unsafe_view", "flatten", "unflatten", "unsqueeze", "squeeze", "permute",
                    "transpose", "t", "expand", "repeat", "slice", "select", "narrow", "clone", "contiguous", "alias"}
# Reductions of a condition, as its mask's: any holds where the largest entry is 1.0, all the smallest.
_CONDITION_REDUCTIONS = {"any": "max", "all": "min"}


def _negated(c: Condition) -> Condition:
    return dataclasses.replace(c, negated=not c.negated)


def _gated(node: fx.Node) -> tuple[fx.Node, str] | None:
    """(x, activation) where `node` multiplies x by a function of x whose product with it is an
    activation, spelled out as models written before torch had it do: x * sigmoid(x) (SiLU,
    Swish), x * tanh(softplus(x)) (Mish, as YOLOv4's code writes it; softplus with torch's
    defaults, beta 1 and threshold 20: below that threshold its linear part changes the product)."""
    if len(node.args) != 2 or not all(isinstance(v, fx.Node) for v in node.args):
        return None
    for x, gate in (node.args, node.args[::-1]):
        name = op_name(functional(gate.target))
        if name == "sigmoid" and gate.args[0] is x:
            return x, "silu"
        inner = gate.args[0] if name == "tanh" else None
        if isinstance(inner, fx.Node) and op_name(inner.target) == "softplus" and inner.args[0] is x \
                and _defaults(inner, (1, "beta", 1), (2, "threshold", 20)):
            return x, "mish"
    return None


def _defaults(node: fx.Node, *params: tuple[int, str, float]) -> bool:
    """Whether each (position, name, default) argument of `node` is absent or its default."""
    return all((node.args[i] if len(node.args) > i else node.kwargs.get(name, default)) == default
               for i, name, default in params)


def _label(target: Any) -> str:
    """How reports and opaque nodes name an op: "aten.conv2d.default", "getitem"."""
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    return getattr(target, "__name__", str(target))


def _is_view(node: fx.Node) -> bool:
    t = node.target
    if t is operator.getitem:
        return True
    if not isinstance(t, torch._ops.OpOverload) or not t._schema.returns:
        return False
    alias = t._schema.returns[0].alias_info
    return alias is not None and not alias.is_write


def _needs_functionalization(graph: fx.Graph) -> bool:
    """True when an in-place op mutates a tensor (or an alias of it) read again later: reading
    the in-place ops as their out-of-place twins would then change the result."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    parent: dict[fx.Node, fx.Node] = {}

    def root(n: fx.Node) -> fx.Node:
        while n in parent:
            n = parent[n]
        return n

    for n in graph.nodes:
        if n.op == "call_function" and _is_view(n) and n.args and isinstance(n.args[0], fx.Node):
            a, b = root(n), root(n.args[0])
            if a is not b:
                parent[a] = b
    classes: dict[fx.Node, list[fx.Node]] = {}
    for n in graph.nodes:
        classes.setdefault(root(n), []).append(n)
    for n in graph.nodes:
        t = n.target
        if n.op != "call_function" or not isinstance(t, torch._ops.OpOverload) or not t._schema.is_mutable:
            continue
        mutated = [a for a, arg in zip(n.args, t._schema.arguments)
                   if isinstance(a, fx.Node) and arg.alias_info is not None and arg.alias_info.is_write]
        for a in mutated:
            for alias in classes[root(a)]:
                if any(u is not n and order[u] > order[n] for u in alias.users):
                    return True
    return False


def bind_schema(target: torch._ops.OpOverload, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Arguments by schema name, defaults filled in."""
    bound = {}
    for i, a in enumerate(target._schema.arguments):
        if i < len(args):
            bound[a.name] = args[i]
        elif a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        else:
            bound[a.name] = a.default_value if a.has_default_value() else None
    return bound


def _module_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    # export's placeholder for nodes it could not place in a module
    return path if isinstance(path, str) and not path.startswith("_empty_nn_module_stack") else ""


class _Lowering:
    def __init__(self, program: ExportedProgram, example_inputs: Sequence[Any] | None) -> None:
        self.program = program
        self.example_inputs = example_inputs
        self.env: dict[fx.Node, Any] = {}
        self.nodes: list[ir.Node] = []
        self.constants: dict[str, np.ndarray] = {}
        self.constant_names: dict[int, tuple[torch.Tensor, str]] = {}  # id -> (tensor kept alive, name)
        self.parameter_names: dict[int, str] = {}  # id of a parameter or buffer -> its state_dict name
        self.scalars: dict[float, torch.Tensor] = {}
        self.pending: dict[str, ir.Node] = {}  # size computations no torch call has read yet
        self.used: set[str] = set()
        self.values: dict[str, Any] = {}
        self.calls: dict[str, TorchCall] = {}
        self.origins: dict[str, list[Origin]] = {}
        self.unsupported: list[tuple[fx.Node, str]] = []
        self.node: fx.Node | None = None  # the node being lowered
        # id of a Condition -> (the condition kept alive, its Ref) as a float mask / in torch
        self.masks: dict[int, tuple[Condition, Ref]] = {}
        self.in_torch: dict[int, tuple[Condition, Ref]] = {}
        self.folded_norms: set[fx.Node] = set()  # batch norms a composite folded into its weights
        # Integer tensors the engine holds as float32 (indices.py): name -> a bound on their
        # magnitude, the names of those that may be negative; and each of them cast back to its
        # dtype for torch calls and outputs.
        self.integers: dict[str, float] = {}
        self.signed: set[str] = set()
        self.cast_back: dict[str, Ref] = {}
        self.broadcasts: dict[int, tuple[Broadcast, Ref]] = {}  # each Broadcast's expand, made once
        self.batch_symbols: set[Any] = set()  # the inputs' run-time batches, which the capture takes as one
        self.complex_calls: dict[int, tuple[Any, Ref]] = {}  # each Complex's torch.complex, made once

    # ---- names, values, emission ----------------------------------------------------------

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}.{k}", k + 1
        self.used.add(name)
        return name

    def emit(self, op: str, inputs: list[str], attrs: dict[str, Any] | None = None, outputs: int = 1) -> list[str]:
        """Appends an operator-set node for the node being lowered; returns its output names."""
        node = self.node
        names = [self.fresh(node.name if outputs == 1 else f"{node.name}:{i}") for i in range(outputs)]
        self.nodes.append(ir.Node(op, list(inputs), names, dict(attrs or {}), _module_path(node)))
        self.origins[names[0]] = [Origin(_module_path(node), _label(node.target))]
        return names

    def emit_one(self, op: str, inputs: list[str], attrs: dict[str, Any] | None = None) -> Ref:
        return Ref(self.emit(op, inputs, attrs)[0])

    def value(self, arg: Any) -> Any:
        if isinstance(arg, fx.Node):
            return self.env[arg]
        if isinstance(arg, (list, tuple)):
            return [self.value(a) for a in arg]
        return arg

    def example(self, v: Any) -> Any:
        """The example value behind a Ref (a fake tensor or a size), a condition (its boolean
        tensor's) or a constant."""
        if isinstance(v, Condition) and v.call:
            return v.call[0].meta["val"]
        if isinstance(v, Broadcast):
            return v.example
        return self.values[v.name] if isinstance(v, Ref) else v

    def tensor(self, v: Any, what: str = "input") -> str:
        """The name of a float32 tensor input; constants become graph constants, conditions and
        boolean constants 1.0 where they hold and 0.0 elsewhere, integer tensors float32 holding
        their integers."""
        if isinstance(v, Condition):
            return self.mask(v).name
        if isinstance(v, Broadcast):
            return self.expanded(v).name
        if isinstance(v, torch.Tensor):
            exact = v.dtype in indices.INTEGER_DTYPES | {torch.bool} and indices.bound(self, v) <= indices.MAX_EXACT
            if v.dtype != torch.float32 and not exact:
                raise Unsupported(f"{what} is a {v.dtype} constant")
            return self.constant_name(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if float(v) not in self.scalars:
                self.scalars[float(v)] = torch.tensor(float(v), dtype=torch.float32)
            return self.constant_name(self.scalars[float(v)])
        if not isinstance(v, Ref) or v.size is not None:
            raise Unsupported(f"{what} is not a tensor")
        if v.name not in self.values:  # a node a builder emitted on the way to its result: float32
            return v.name
        t = self.values[v.name]
        if not isinstance(t, torch.Tensor) or (t.dtype != torch.float32 and v.name not in self.integers):
            raise Unsupported(f"{what} has dtype {getattr(t, 'dtype', type(t).__name__)}, not float32")
        return v.name

    def for_torch(self, v: Ref) -> Ref:
        """A tensor of the graph as a torch call or the caller reads it: an integer tensor (held
        as float32) cast back to its dtype, by a torch call."""
        if v.name not in self.integers:
            return v
        if v.name not in self.cast_back:
            val = self.values[v.name]
            name = self.fresh(f"{v.name}.{str(val.dtype).removeprefix('torch.')}")
            why = "an integer tensor leaves the engine, which holds it as float32"
            self.calls[name] = TorchCall(torch.Tensor.to, (Input(0), val.dtype), {}, why)
            self.values[name] = val
            self.origins[name] = [Origin(_module_path(self.node), "to")]
            self.nodes.append(ir.Node("to", [v.name], [name], {}, _module_path(self.node)))
            self.unsupported.append((self.node, why))
            self.cast_back[v.name] = Ref(name)
        return self.cast_back[v.name]

    def condition(self, node: fx.Node, target: Any, args: Any, kwargs: dict) -> Condition:
        """A comparison, the logical not of a condition or two joined by and / or, kept for the op
        that reads it; a comparison's operands are checked there (tensor()): of other than float32
        tensors or numbers, it is computed in torch."""
        a = bind_schema(target, tuple(args), kwargs)
        call = (node, target, args, kwargs)
        name = op_name(target)
        if name in _NOTS:
            c = self.as_condition(a["self"])
            return dataclasses.replace(c, negated=not c.negated, call=call)
        if name in _JUNCTIONS or name in _MASK_ARITHMETIC:
            kind = _JUNCTIONS.get(name) or _MASK_ARITHMETIC[name]
            return Junction(False, call, kind, self.as_condition(a["self"]), self.as_condition(a["other"]))
        if name in _XORS:  # (a and not b) or (not a and b)
            left, right = self.as_condition(a["self"]), self.as_condition(a["other"])
            return Junction(False, call, "or", Junction(False, call, "and", left, _negated(right)),
                            Junction(False, call, "and", _negated(left), right))
        if name in _CLASSES:
            x = a["self"]
            if name == "isnan":
                return Comparison(False, call, x, x, "ne")
            if name in ("isposinf", "isneginf"):
                return Comparison(False, call, x, math.inf if name == "isposinf" else -math.inf, "eq")
            if name == "isfinite":  # -inf < x < inf
                return Junction(False, call, "and", Comparison(False, call, x, -math.inf, "gt"),
                                Comparison(False, call, x, math.inf, "lt"))
            return Junction(False, call, "or", Comparison(False, call, x, math.inf, "eq"),
                            Comparison(False, call, x, -math.inf, "eq"))
        return Comparison(False, call, a["self"], a["other"], name)

    @staticmethod
    def as_condition(v: Any) -> Condition:
        """A condition, or a constant boolean mask as one."""
        if isinstance(v, torch.Tensor) and v.dtype == torch.bool:
            return Comparison(False, (), v.float(), 0.5, "gt")
        if isinstance(v, Broadcast) and v.value.dtype == torch.bool:
            return Comparison(False, (), dataclasses.replace(v, value=v.value.float()), 0.5, "gt")
        if not isinstance(v, Condition):
            raise Unsupported("the condition is no comparison of float32 tensors")
        return v

    def select(self, condition: Any, x: Any, z: Any) -> Ref:
        """where(condition, x, z): a where node per comparison tested."""
        condition = self.as_condition(condition)
        if condition.negated:
            x, z = z, x
        if isinstance(condition, Junction):
            if condition.kind == "and":  # left ? (right ? x : z) : z
                return self.select(condition.left, self.select(condition.right, x, z), z)
            return self.select(condition.left, x, self.select(condition.right, x, z))
        inputs = [self.tensor(condition.a, "a compared operand"), self.tensor(condition.b, "a compared operand"),
                  self.tensor(x, "the first choice"), self.tensor(z, "the second choice")]
        return self.emit_one("where", inputs, {"compare": condition.compare})

    def mask(self, condition: Condition) -> Ref:
        """The condition as 1.0 where it holds and 0.0 elsewhere (computed once)."""
        if id(condition) not in self.masks:
            self.masks[id(condition)] = (condition, self.select(condition, 1.0, 0.0))
        return self.masks[id(condition)][1]

    def moved_condition(self, node: fx.Node, target: Any, args: Any, kwargs: dict) -> Condition:
        """A condition reshaped, permuted, expanded or sliced (DETR's mask.flatten(1) for a key
        padding mask), or reduced by any or all: its mask moved or reduced, tested again."""
        if not args[0].call:
            raise Unsupported("a condition of no op moved")
        source = self.mask(args[0])
        self.values.setdefault(source.name, _as_float(self.example(args[0])))
        a = bind_schema(target, tuple(args), kwargs)
        name = op_name(target)
        if name in _CONDITION_REDUCTIONS:
            moved = self.emit_one("reduce", [source.name], {"kind": _CONDITION_REDUCTIONS[name],
                                                            "axes": self.axes(source, a.get("dim")),
                                                            "keepdim": int(bool(a.get("keepdim", False)))})
        else:
            moved = _BUILDERS[name](self, node, {**a, "self": source})
        self.values.setdefault(moved.name, _as_float(node.meta["val"]))
        return Comparison(False, (node, target, args, kwargs), moved, 0.5, "gt")

    def computed_in_torch(self, condition: Condition) -> Ref:
        """The condition as the boolean tensor of a torch call, for a torch call reading it."""
        if id(condition) not in self.in_torch:
            node, target, args, kwargs = condition.call
            ref = self.opaque(node, target, args, kwargs, "a condition read by a torch call")
            self.in_torch[id(condition)] = (condition, ref)
        return self.in_torch[id(condition)][1]

    def constant_name(self, t: torch.Tensor, name: str | None = None) -> str:
        """A constant's name in the graph, added on first use (parameters keep their state_dict
        names)."""
        known = self.constant_names.get(id(t))
        if known is not None:
            return known[1]
        name = self.fresh(self.parameter_names.get(id(t)) or name or f"{self.node.name}.constant")
        self.constants[name] = np.require(t.detach().cpu().numpy(), np.float32, "C")  # keeps rank 0
        self.constant_names[id(t)] = (t, name)
        return name

    def constant(self, v: Any, what: str) -> torch.Tensor:
        if not isinstance(v, torch.Tensor):
            raise Unsupported(f"{what} is computed at run time")
        return v

    def shape(self, v: Any) -> list[Any]:
        """Dims of a tensor value: ints, or symbolic expressions for sizes known at run time."""
        t = self.example(v)
        return [d.node.expr if isinstance(d, torch.SymInt) else int(d) for d in t.shape]

    def rank(self, v: Any) -> int:
        return len(self.example(v).shape)

    def static_dim(self, v: Any, axis: int, what: str) -> int:
        d = self.shape(v)[axis]
        if not isinstance(d, int):
            raise Unsupported(f"{what}: dim {axis} is only known at run time")
        return d

    def integer(self, v: Any, what: str) -> int:
        if isinstance(v, Ref) and v.size is not None:
            static = _static(v.size)
            if static is None:
                raise Unsupported(f"{what} is computed at run time")
            return static
        if not isinstance(v, int) or isinstance(v, bool):
            raise Unsupported(f"{what} is not an integer: {v!r}")
        return v

    def size_entry(self, v: Any, input_shape: list[Any]) -> int | None:
        """A reshape entry: the int, -(2 + i) for a size equal to the input's dim i, or None."""
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, Ref) and v.size is not None:
            if _static(v.size) is not None:
                return _static(v.size)
            for i, d in enumerate(input_shape):
                if not isinstance(d, int) and d == v.size:
                    return -(2 + i)
        return None

    # ---- the walk -------------------------------------------------------------------------

    def run(self) -> Lowered:
        program = self.program
        graph = program.graph_module.graph
        signature = program.graph_signature
        kinds = {spec.arg.name: spec for spec in signature.input_specs if hasattr(spec.arg, "name")}
        inputs: list[ir.TensorSpec] = []
        user_inputs = iter(self.example_inputs) if self.example_inputs is not None else None
        for node in graph.nodes:
            self.node = node
            if node.op == "placeholder":
                spec = kinds.get(node.name)
                if spec is not None and spec.kind in (InputKind.PARAMETER, InputKind.BUFFER,
                                                      InputKind.CONSTANT_TENSOR):
                    value = program.state_dict.get(spec.target)
                    if value is None:
                        value = program.constants[spec.target]
                    self.env[node] = value.detach()
                    self.parameter_names[id(self.env[node])] = spec.target
                    continue
                if spec is not None and spec.kind != InputKind.USER_INPUT:
                    raise Unsupported(f"input {node.name} of kind {spec.kind.name}")
                val = node.meta.get("val")
                if not isinstance(val, torch.Tensor):  # a number or flag among the arguments: the capture's
                    self.env[node] = val
                    continue
                name = self.fresh(node.name)
                self.values[name] = val
                if getattr(val, "ndim", 0) and isinstance(val.shape[0], torch.SymInt):
                    self.batch_symbols.add(val.shape[0].node.expr)
                self.env[node] = Ref(name)
                if getattr(val, "dtype", None) in indices.INTEGER_DTYPES:  # held as float32 (engine.float_inputs)
                    self.integers[name] = indices.input_bound(val.dtype)
                    if val.dtype != torch.uint8:
                        self.signed.add(name)
                elif getattr(val, "dtype", None) == torch.bool:
                    # a mask (a key padding mask): held as 1.0 and 0.0, the condition that it holds
                    # 1.0 (torch computes it from the mask cast back to bool)
                    self.integers[name] = 2
                    self.env[node] = Comparison(False, (node, torch.ops.aten.gt.Scalar, (Ref(name), 0.5), {}),
                                                Ref(name), 0.5, "gt")
                example = next(user_inputs, None) if user_inputs is not None else None
                shape = tuple(example.shape) if isinstance(example, torch.Tensor) else tuple(
                    int(d.node.hint) if isinstance(d, torch.SymInt) else int(d) for d in getattr(val, "shape", ()))
                inputs.append(ir.TensorSpec(name, shape))
            elif node.op == "call_function":
                self.call(node)
            elif node.op == "get_attr":
                self.env[node] = getattr(program.graph_module, node.target)
            elif node.op == "output":
                outputs = self.outputs(node, signature)
        for name in self.pending:  # size computations nothing read
            del self.calls[name], self.origins[name]
        dynamic = any(isinstance(d, torch.SymInt) for spec in inputs for d in self.values[spec.name].shape)
        g = ir.Graph(inputs, outputs, self.nodes, self.constants, dynamic)
        dtypes = [str(self.values[spec.name].dtype).removeprefix("torch.") for spec in inputs]
        g.input_dtypes = None if all(d == "float32" for d in dtypes) else dtypes
        return Lowered(g, self.unsupported, self.calls, self.origins, program.call_spec.out_spec, self.values)

    def outputs(self, node: fx.Node, signature: Any) -> list[str]:
        names = []
        for spec, arg in zip(signature.output_specs, node.args[0]):
            if spec.kind != OutputKind.USER_OUTPUT:
                continue  # buffer mutations: an inference copy keeps its buffers
            v = self.value(arg)
            if isinstance(v, Condition):
                v = self.computed_in_torch(v)
            if isinstance(v, Broadcast):
                v = self.expanded(v)
            if isinstance(v, spectral.Complex):
                v = self.complex_for_torch(v)
            if isinstance(v, Ref):
                self.materialize(v.name)
                names.append(self.for_torch(v).name)
            elif isinstance(v, torch.Tensor) and v.dtype == torch.float32:
                names.append(self.constant_name(v))
            else:
                names.append(self.opaque_literal(v))
        return names

    def partwise(self, node: fx.Node, name: str, a: dict) -> Any:
        """An op that moves or picks entries (spectral.PARTWISE) of a complex tensor: the op's own
        builder on the real part, then on the imaginary part, the node's value at capture each
        part's while it runs."""
        if spectral.mixes_real_tensors(a):
            raise Unsupported(f"{name} of complex and real tensors")
        val = node.meta["val"]
        several = isinstance(val, (list, tuple))
        count = len(self.nodes)
        parts = []
        try:
            for part in ("re", "im"):
                node.meta["val"] = [spectral.part_example(v, part) for v in val] if several \
                    else spectral.part_example(val, part)
                result = _BUILDERS[name](self, node, spectral.part_of(a, part))
                results = result if isinstance(result, list) else [result]
                if not all(isinstance(r, Ref) for r in results):
                    raise Unsupported(f"{name} of a complex tensor")
                for r, v in zip(results, node.meta["val"] if several else [node.meta["val"]]):
                    self.values.setdefault(r.name, v)
                parts.append(results)
        except Unsupported:
            del self.nodes[count:]
            raise
        finally:
            node.meta["val"] = val
        made = [spectral.Complex(re.name, im.name, v) for re, im, v in zip(*parts, val if several else [val])]
        return made if several else made[0]

    def complex_for_torch(self, v: spectral.Complex) -> Ref:
        """A complex tensor of the graph, held as its two parts, as the complex tensor of a
        torch call for the torch call or the caller that reads it."""
        if id(v) not in self.complex_calls:
            name = self.fresh(f"{v.re}.complex")
            why = "a complex tensor leaves the engine, which holds its real and imaginary parts"
            self.calls[name] = TorchCall(torch.complex, (Input(0), Input(1)), {}, why)
            self.values[name] = v.example
            self.origins[name] = [Origin(_module_path(self.node), "complex")]
            self.nodes.append(ir.Node("complex", [v.re, v.im], [name], {}, _module_path(self.node)))
            self.unsupported.append((self.node, why))
            self.complex_calls[id(v)] = (v, Ref(name))
        return self.complex_calls[id(v)][1]

    def opaque_literal(self, v: Any) -> str:
        """A node returning a value fixed at capture (an output that is no tensor)."""
        name = self.fresh(f"{self.node.name}.literal")
        self.nodes.append(ir.Node("literal", [], [name], {}, ""))
        self.calls[name] = TorchCall(_identity, (v,), {})
        self.values[name] = v
        self.origins[name] = [Origin("", "literal")]
        return name

    def call(self, node: fx.Node) -> None:
        target = functional(node.target)
        name = op_name(target)
        if name in _CHECKS or not node.users:  # checks, and results nothing reads (export keeps them)
            self.env[node] = None
            return
        args = self.value(node.args)
        kwargs = {k: self.value(v) for k, v in node.kwargs.items()}
        if target is torch.ops.higher_order.wrap_with_autocast and not args[2]:
            # `with torch.autocast(..., enabled=False)`: a region of plain float32 ops
            self.env[node] = self.inline(args[4], args[5:])
            return
        if self.foldable(target, args, kwargs):
            self.env[node] = self.fold(target, args, kwargs)
            return
        folded = self.fold_broadcast(node, target, args, kwargs)
        if folded is not None:
            self.env[node] = folded
            return
        if name in _NEW_CONSTANTS and self.foldable(target, args[1:], kwargs):  # x.new_zeros(8, 8): x's dtype only
            self.env[node] = self.fold(target, (torch.empty(0, dtype=self.example(args[0]).dtype), *args[1:]), kwargs)
            return
        val = node.meta.get("val")
        if isinstance(val, (torch.SymInt, torch.SymFloat, torch.SymBool, int, float, bool)):
            size = val.node.expr if isinstance(val, (torch.SymInt, torch.SymFloat, torch.SymBool)) else val
            self.env[node] = self.opaque(node, target, args, kwargs, None, size=size)
            return
        if name in _CASTS and isinstance(val, torch.Tensor) and val.dtype == torch.bool:
            # x.bool(): the condition x != 0; a condition cast to bool stays itself
            x = args[0]
            self.env[node] = x if isinstance(x, Condition) else Comparison(False, (node, target, args, kwargs),
                                                                            x, 0.0, "ne")
            return
        mask = isinstance(val, torch.Tensor) and val.dtype == torch.bool
        if name in _COMPARISONS or name in _NOTS or name in _JUNCTIONS or name in _XORS or name in _CLASSES \
                or (mask and name in _MASK_ARITHMETIC):
            try:
                self.env[node] = self.condition(node, target, args, kwargs)
            except Unsupported as e:
                self.env[node] = self.opaque(node, target, args, kwargs, str(e))
            return
        if mask and (name in _CONDITION_MOVES or name in _CONDITION_REDUCTIONS) and args \
                and isinstance(args[0], Condition):
            try:
                self.env[node] = self.moved_condition(node, target, args, kwargs)
            except Unsupported as e:
                self.env[node] = self.opaque(node, target, args, kwargs, str(e))
            return
        try:
            if target is operator.getitem:
                self.env[node] = self.getitem(args[0], args[1])
                return
            if not isinstance(target, torch._ops.OpOverload):
                raise Unsupported(f"{_label(target)} is not an ATen op")
            bound_args = bind_schema(target, tuple(args), kwargs)
            complex_values = spectral.involves_complex(val, bound_args)
            if complex_values and name in spectral.PARTWISE:
                self.env[node] = self.partwise(node, name, bound_args)
                return
            builder = (spectral.BUILDERS if complex_values else _BUILDERS).get(name)
            if builder is None:
                raise Unsupported(f"{_label(target)}{' of complex tensors' if complex_values else ''} "
                                  "is not in the operator set")
            bound, signed = None, False
            several = isinstance(val, (list, tuple))
            if any(_is_integer(v) for v in (val if several else [val])):
                dtype = None if several else val.dtype
                bound = indices.result_bound(self, name, bound_args, several, dtype)
                signed = indices.result_signed(self, name, bound_args, dtype)
            elif isinstance(val, torch.Tensor) and val.dtype != torch.float32 and not complex_values \
                    and name not in FILLED:  # a mask or integers of the batch's items: a Broadcast
                raise Unsupported(f"its result has dtype {val.dtype}, not float32")  # complex: its two parts
            count = len(self.nodes)
            try:
                result = builder(self, node, bound_args)
            except Unsupported:
                del self.nodes[count:]  # a builder may fail after emitting part of its nodes
                if self.masks:  # forget the masks whose nodes went with them
                    emitted = {name for n in self.nodes for name in n.outputs}
                    self.masks = {k: v for k, v in self.masks.items() if v[1].name in emitted}
                raise
            results, vals = (result, val) if isinstance(result, list) else ([result], [val])
            for r, v in zip(results, vals):
                if isinstance(r, Ref) and r.name not in self.values:
                    self.values[r.name] = v
                if isinstance(r, spectral.Complex):
                    self.values.setdefault(r.re, spectral.part_example(v, "re"))
                    self.values.setdefault(r.im, spectral.part_example(v, "im"))
                if bound is not None and isinstance(r, Ref) and _is_integer(v):
                    self.integers.setdefault(r.name, bound)
                    if signed:
                        self.signed.add(r.name)
            self.env[node] = result
        except Unsupported as e:
            self.env[node] = self.opaque(node, target, args, kwargs, str(e))

    def inline(self, module: fx.GraphModule, operands: list[Any]) -> list[Any]:
        """The outputs of a higher-order op's subgraph, walked in place of the op: its
        placeholders are the op's operands."""
        operands = iter(operands)
        for node in module.graph.nodes:
            if node.op == "placeholder":
                self.env[node] = next(operands)
            elif node.op == "call_function":
                self.call(node)
            elif node.op == "get_attr":
                self.env[node] = getattr(module, node.target)
            elif node.op == "output":
                return list(self.value(node.args[0]))
        raise Unsupported("a subgraph without an output")

    def foldable(self, target: Any, args: Any, kwargs: dict) -> bool:
        """Nothing computed at run time goes in, nothing random comes out."""
        def static(v: Any) -> bool:
            if isinstance(v, (Ref, Condition, Broadcast, spectral.Complex)) or v is MISSING:
                return False
            if isinstance(v, (list, tuple)):
                return all(static(x) for x in v)
            return True

        if isinstance(target, torch._ops.OpOverload) and torch.Tag.nondeterministic_seeded in target.tags:
            return False
        return static(args) and static(list(kwargs.values()))

    def fold(self, target: Any, args: Any, kwargs: dict) -> Any:
        with torch.no_grad():
            out = target(*args, **kwargs)
        # torch.empty's values are any: zeros, not whatever the memory held, go in the file
        return out.zero_() if op_name(target).startswith(("empty", "new_empty")) else out

    def fold_broadcast(self, node: fx.Node, target: Any, args: Any, kwargs: dict) -> Any:
        """The op folded on the constants that Broadcasts stand for, where it reads Broadcasts and
        constants only and computes item by item: its `dim` is not dim 0, and each result has
        the same run-time dim 0 (a Broadcast too; a permute, flip or roll of dim 0 would not
        change identical items). None otherwise."""
        leaves = [v for v in _leaves((args, kwargs)) if isinstance(v, Broadcast)]
        if not leaves or not self.foldable(target, _represented(args), _represented(kwargs)) \
                or len({str(b.batch) for b in leaves}) != 1 or not isinstance(target, torch._ops.OpOverload):
            return None
        rank, dims = leaves[0].example.dim(), bind_schema(target, tuple(args), kwargs).get("dim")
        if any(isinstance(d, int) and d in (0, -rank) for d in (dims if isinstance(dims, (list, tuple)) else [dims])):
            return None  # along the batch: a running sum, a softmax, a reduction over it
        try:
            out = self.fold(target, _represented(args), _represented(kwargs))
        except Exception:  # torch refuses the representatives (sizes written for the batch)
            return None
        results, examples = _leaves(out), _leaves(node.meta.get("val"))
        batch = leaves[0].batch
        if len(results) != len(examples) or not all(
                isinstance(r, torch.Tensor) and isinstance(e, torch.Tensor) and r.dim() == e.dim() >= 1 and r.shape[0] == 1
                and isinstance(e.shape[0], torch.SymInt) and e.shape[0].node.expr == batch
                and list(r.shape[1:]) == list(e.shape[1:]) for r, e in zip(results, examples)):
            return None
        if isinstance(out, torch.Tensor):
            return Broadcast(out, node.meta["val"], batch)
        return [Broadcast(r, e, batch) for r, e in zip(out, node.meta["val"])]

    def batch_broadcast(self, x: torch.Tensor, sizes: list[Any]) -> Broadcast | None:
        """Constant x expanded to `sizes`, the first a run-time size and the rest known: a
        Broadcast (torch.zeros(B, H, W) and the like)."""
        first, rest = sizes[0] if sizes else None, sizes[1:]
        if not (isinstance(first, Ref) and first.size is not None) or not all(type(s) is int for s in rest) \
                or x.dim() > len(sizes) or (x.dim() == len(sizes) and x.shape[0] != 1):
            return None
        return Broadcast(x.expand(1, *rest).clone(), self.node.meta["val"], first.size)

    def expanded(self, b: Broadcast) -> Ref:
        """A Broadcast as a tensor of the graph: its constant expanded to the batch."""
        if id(b) not in self.broadcasts:
            size = [Ref("", b.batch)] + list(b.value.shape[1:])
            self.broadcasts[id(b)] = (b, self.expand_to(b.value, size))
        return self.broadcasts[id(b)][1]

    def opaque(self, node: fx.Node, target: Any, args: Any, kwargs: dict, reason: str | None,
               size: Any = None) -> Ref:
        """Keeps the node as a torch call. A size computation (`reason` None, not reported) enters
        the graph only when a torch call reads it: reshape entries express the others."""
        inputs: list[str] = []

        def template(v: Any) -> Any:
            if isinstance(v, Condition):
                v = self.computed_in_torch(v)
            if isinstance(v, spectral.Complex):
                v = self.complex_for_torch(v)
            if isinstance(v, Broadcast):
                v = self.expanded(v)
            if isinstance(v, Ref):
                self.materialize(v.name)
                v = self.for_torch(v)
                if v.name not in inputs:
                    inputs.append(v.name)
                return Input(inputs.index(v.name))
            if v is MISSING:
                raise AssertionError("a lowered op's unused output is used")  # builders check first
            if isinstance(v, list):
                return [template(x) for x in v]
            return v

        name = self.fresh(node.name)
        self.calls[name] = TorchCall(target, tuple(template(a) for a in args), {k: template(v) for k, v in kwargs.items()},
                                     reason or "")
        self.values[name] = node.meta.get("val")
        self.origins[name] = [Origin(_module_path(node), _label(target))]
        graph_node = ir.Node(_label(target), inputs, [name], {}, _module_path(node))
        if reason is None:
            self.pending[name] = graph_node
        else:
            self.nodes.append(graph_node)
            self.unsupported.append((node, reason))
        return Ref(name, size)

    def materialize(self, name: str) -> None:
        """Appends a deferred size computation (and those it reads) to the graph."""
        node = self.pending.pop(name, None)
        if node is not None:
            for t in node.inputs:
                self.materialize(t)
            self.nodes.append(node)

    def getitem(self, container: Any, index: Any) -> Any:
        if isinstance(container, (list, tuple)):
            item = container[index]
            if item is MISSING:
                raise Unsupported("it uses an output the lowering dropped")
            return item
        raise Unsupported("its container is computed in torch")

    # ---- builders (one per ATen op name; `a` holds the arguments by schema name) --------------

    def b_alias(self, node: fx.Node, a: dict) -> Any:
        return a["self"]

    def b_dropout(self, node: fx.Node, a: dict) -> Any:
        if a.get("train"):
            raise Unsupported("dropout in training mode")
        return a["input"]

    def b_to(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        name = self.tensor(x)  # float32 in (or a condition, or an integer tensor held as float32)
        if isinstance(x, Condition):
            return Ref(name)
        if isinstance(x, Ref) and name in self.integers and self.values[name].dtype != node.meta["val"].dtype:
            # the same float32 values, named apart: a torch call reads them in the new dtype
            return self.emit_one("reshape", [name], {"shape": self.static(x, [-(2 + i) for i in range(self.rank(x))])})
        if indices.cast_from_float(self, op_name(node.target), a, node.meta["val"].dtype):
            return self.emit_one("unary", [name], {"kind": "trunc"})  # toward zero, as torch casts
        return x

    def b_where(self, node: fx.Node, a: dict) -> Ref:
        return self.select(a["condition"], a["self"], a["other"])

    def b_masked_fill(self, node: fx.Node, a: dict) -> Ref:
        return self.select(a["mask"], a["value"], a["self"])

    def b_activation(self, node: fx.Node, a: dict) -> Ref:
        kind = _ACTIVATIONS[op_name(functional(node.target))]
        return self.emit_one("activation", [self.tensor(a["self"])], {"activation": kind})

    def activation_attrs(self, low: float | None, high: float | None) -> dict[str, Any]:
        low = -FLOAT_MAX if low is None else float(low)
        high = FLOAT_MAX if high is None else float(high)
        if low == 0.0 and high == FLOAT_MAX:
            return {"activation": "relu"}
        if low == 0.0 and high == 6.0:
            return {"activation": "relu6"}
        return {"activation": "clamp", "activation_min": low, "activation_max": high}

    def b_hardtanh(self, node: fx.Node, a: dict) -> Ref:
        return self.emit_one("activation", [self.tensor(a["self"])], self.activation_attrs(a["min_val"], a["max_val"]))

    def b_clamp(self, node: fx.Node, a: dict) -> Ref:
        low, high = a.get("min"), a.get("max")
        if not any(isinstance(bound, (torch.Tensor, Ref)) for bound in (low, high)):
            return self.emit_one("activation", [self.tensor(a["self"])], self.activation_attrs(low, high))
        # Tensor bounds: max(x, low), then min(that, high), broadcast together as torch does.
        y = self.tensor(a["self"])
        if low is not None:
            y = self.emit_one("maximum", [y, self.tensor(low, "the lower bound")]).name
        if high is not None:
            y = self.emit_one("minimum", [y, self.tensor(high, "the upper bound")]).name
        return Ref(y)

    def b_clamp_min(self, node: fx.Node, a: dict) -> Ref:
        return self.b_clamp(node, {"self": a["self"], "min": a["min"], "max": None})

    def b_clamp_max(self, node: fx.Node, a: dict) -> Ref:
        return self.b_clamp(node, {"self": a["self"], "min": None, "max": a["max"]})

    def b_leaky_relu(self, node: fx.Node, a: dict) -> Ref:
        return self.emit_one("activation", [self.tensor(a["self"])],
                             {"activation": "leaky_relu", "activation_alpha": float(a["negative_slope"])})

    def b_gelu(self, node: fx.Node, a: dict) -> Ref:
        kind = {"none": "gelu", "tanh": "gelu_tanh"}[a["approximate"]]
        return self.emit_one("activation", [self.tensor(a["self"])], {"activation": kind})

    def b_binary(self, node: fx.Node, a: dict) -> Ref:
        op = op_name(functional(node.target))
        gated = _gated(node) if op == "mul" else None
        if gated is not None:  # the factor's own nodes are left to dead-node elimination
            return self.emit_one("activation", [self.tensor(self.env[gated[0]])], {"activation": gated[1]})
        x, y = a["self"], a["other"]
        if op == "rsub":
            op, x, y = "sub", y, x
        alpha = a.get("alpha", 1)
        if alpha is not None and alpha != 1:
            if not isinstance(y, (int, float, torch.Tensor)):
                raise Unsupported(f"{op} with alpha={alpha} of a tensor computed at run time")
            y = y * alpha
        if a.get("rounding_mode") == "floor":
            op = "floor_divide"
        elif a.get("rounding_mode") not in (None, "trunc"):
            raise Unsupported(f"division rounding mode {a['rounding_mode']!r}")
        out = self.emit_one(op, [self.tensor(x, "first operand"), self.tensor(y, "second operand")])
        if a.get("rounding_mode") == "trunc":  # exact for integers: both below 2^24, see indices.py
            out = self.emit_one("unary", [out.name], {"kind": "trunc"})
        return out

    def b_unary(self, node: fx.Node, a: dict) -> Ref:
        kind, decimals = _UNARY[op_name(functional(node.target))], a.get("decimals")
        if decimals:  # torch's: round(x * 10^d) / 10^d (for d < 0, round(x / 10^-d) * 10^-d)
            scale = float(10.0 ** abs(decimals))
            scaled = self.emit_one("mul" if decimals > 0 else "div", [self.tensor(a["self"]), self.tensor(scale)])
            rounded = self.emit_one("unary", [scaled.name], {"kind": kind})
            return self.emit_one("div" if decimals > 0 else "mul", [rounded.name, self.tensor(scale)])
        return self.emit_one("unary", [self.tensor(a["self"])], {"kind": kind})

    def b_pow(self, node: fx.Node, a: dict) -> Ref:
        """A constant exponent is unary's pow; a tensor one (or a number raised to a tensor) the
        binary pow."""
        base, exponent = a["self"], a["exponent"]
        number = (int, float)
        if isinstance(exponent, torch.Tensor) and exponent.numel() == 1 and not isinstance(base, number) \
                and exponent.dim() <= self.rank(base):  # a number, unless it broadcasts the base to a higher rank
            exponent = exponent.item()
        if isinstance(exponent, number) and not isinstance(exponent, bool):
            return self.emit_one("unary", [self.tensor(base)], {"kind": "pow", "exponent": float(exponent)})
        return self.emit_one("pow", [self.tensor(base, "the base"), self.tensor(exponent, "the exponent")])

    def conv_attrs(self, x: Any, weight: torch.Tensor, stride: Any, padding: Any, dilation: Any,
                   groups: int) -> dict[str, Any]:
        if self.rank(x) != 4 or weight.dim() != 4:
            raise Unsupported(f"only 2-d convolutions (input of rank 4) are in the operator set, got rank {self.rank(x)}")
        stride, dilation = int_pair(stride, "stride"), int_pair(dilation, "dilation")
        padding = conv_padding(padding, [(k - 1) * d + 1 for k, d in zip(weight.shape[2:], dilation)])
        return {"stride": stride, "padding": padding, "dilation": dilation, "groups": int(groups)}

    def b_conv2d(self, node: fx.Node, a: dict) -> Ref:
        if a.get("transposed"):
            return composites.b_conv_transpose(self, node, a)
        if not isinstance(a["weight"], torch.Tensor):
            return composites.b_conv2d_computed_weight(self, node, a)
        if a["weight"].dim() == 5:
            return composites.b_conv3d(self, node, a)
        weight = self.constant(a["weight"], "the weight")
        attrs = self.conv_attrs(a["input"], weight, a["stride"], a["padding"], a["dilation"], a["groups"])
        inputs = [self.tensor(a["input"]), self.tensor(weight, "the weight")]
        if a.get("bias") is not None:
            inputs.append(self.tensor(self.constant(a["bias"], "the bias"), "the bias"))
        return self.emit_one("conv2d", inputs, attrs)

    def b_linear(self, node: fx.Node, a: dict) -> Ref:
        x, weight, bias = a["input"], self.constant(a["weight"], "the weight"), a.get("bias")
        if weight.dim() != 1:
            inputs = [self.tensor(x), self.tensor(weight, "the weight")]
            return self.emit_one("linear", inputs + ([self.tensor(bias, "the bias")] if bias is not None else []))
        # A weight vector is a dot product over the last dim, which drops: one output feature.
        inputs = [self.tensor(x), self.tensor(weight.reshape(1, -1), "the weight")]
        if bias is not None:
            inputs.append(self.tensor(self.constant(bias, "the bias").reshape(1), "the bias"))
        dot = self.emit_one("linear", inputs)
        return self.emit_one("reshape", [dot.name], {"shape": self.static(x, [-(2 + i) for i in range(self.rank(x) - 1)])})

    def b_addmm(self, node: fx.Node, a: dict) -> Ref:
        """bias + mat1 @ mat2: a linear layer of its bias where mat2 is a constant and the bias one
        value per column; else the product, plus the bias as it broadcasts."""
        if a.get("beta", 1) != 1 or a.get("alpha", 1) != 1:
            raise Unsupported("addmm with beta or alpha")
        mat2, bias = a["mat2"], a["self"]
        if isinstance(mat2, torch.Tensor) and isinstance(bias, torch.Tensor) and bias.dim() in (1, 2) \
                and bias.shape[-1] == mat2.shape[1] and bias.numel() == mat2.shape[1]:
            weight = self.constant(mat2, "the second matrix").t().contiguous()
            return self.emit_one("linear", [self.tensor(a["mat1"]), self.tensor(weight), self.tensor(bias.reshape(-1))])
        product = self.b_matmul(node, {"self": a["mat1"], "other": mat2})
        return self.emit_one("add", [product.name, self.tensor(bias, "the bias")])

    def b_matmul(self, node: fx.Node, a: dict) -> Ref:
        x, y = a["self"], a.get("other", a.get("mat2"))
        if isinstance(y, torch.Tensor) and y.dim() == 2:
            return self.emit_one("linear", [self.tensor(x), self.tensor(y.t().contiguous())])
        if self.rank(x) < 2 or self.rank(y) < 2:
            raise Unsupported("matmul of a vector")
        return self.emit_one("matmul", [self.tensor(x), self.tensor(y)])

    def norm_affine(self, a: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference batch norm's (scale, shift) per channel, in double."""
        if a.get("training"):
            raise Unsupported("batch norm with batch statistics (no running statistics)")
        mean = self.constant(a["running_mean"], "the running mean")
        var = self.constant(a["running_var"], "the running variance")
        scale = torch.rsqrt(var.double() + a["eps"])
        if a.get("weight") is not None:
            scale = scale * self.constant(a["weight"], "the weight").double()
        shift = -mean.double() * scale
        if a.get("bias") is not None:
            shift = shift + self.constant(a["bias"], "the bias").double()
        return scale, shift

    def following_norm(self, node: fx.Node) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The (scale, shift) of the inference batch norm that alone reads `node`'s output, which
        then counts as folded into `node` (b_batch_norm passes its input on); None if there is none."""
        users = list(node.users)
        if len(users) != 1 or users[0].op != "call_function":
            return None
        norm = users[0]
        target = functional(norm.target)
        if _BUILDERS.get(op_name(target)) is not _Lowering.b_batch_norm or not isinstance(target, torch._ops.OpOverload):
            return None
        try:
            if op_name(target) != "batch_norm":
                self.only_first_output_used(norm)
            args = [None if arg is node else self.value(arg) for arg in norm.args]  # node: not lowered yet
            affine = self.norm_affine(bind_schema(target, tuple(args), {k: self.value(v) for k, v in norm.kwargs.items()}))
        except Unsupported:
            return None
        self.folded_norms.add(norm)
        return affine

    def b_batch_norm(self, node: fx.Node, a: dict) -> Any:
        if node in self.folded_norms:
            out = a["input"]
        elif a.get("training"):  # no running statistics
            out = composites.batch_statistics_norm(self, a["input"], a.get("weight"), a.get("bias"), a["eps"])
        else:
            if self.rank(a["input"]) < 2:
                raise Unsupported("batch norm of a vector")
            scale, shift = self.norm_affine(a)
            out = self.emit_one("batch_norm", [self.tensor(a["input"]),
                                               self.constant_name(scale.float(), f"{node.name}.scale"),
                                               self.constant_name(shift.float(), f"{node.name}.shift")])
        if op_name(node.target) == "batch_norm":
            return out
        self.only_first_output_used(node)
        return [out, MISSING, MISSING]

    def only_first_output_used(self, node: fx.Node) -> None:
        for user in node.users:
            if user.target is not operator.getitem or (user.args[1] != 0 and user.users):
                raise Unsupported("it uses more than the op's first output")

    def b_concat(self, node: fx.Node, a: dict) -> Ref:
        tensors = a["tensors"]
        rank = self.rank(tensors[0])
        return self.emit_one("concat", [self.tensor(t) for t in tensors], {"axis": norm_axis(a["dim"], rank)})

    def b_stack(self, node: fx.Node, a: dict) -> Ref:
        tensors = a["tensors"]
        rank = self.rank(tensors[0]) + 1
        axis = norm_axis(a["dim"], rank)
        parts = []
        for t in tensors:
            entries = [-(2 + i) for i in range(rank - 1)]
            parts.append(self.emit("reshape", [self.tensor(t)], {"shape": entries[:axis] + [1] + entries[axis:]})[0])
        return self.emit_one("concat", parts, {"axis": axis})

    def split(self, x: Any, sizes: list[int], axis: int) -> list[Ref]:
        return [Ref(n) for n in self.emit("split", [self.tensor(x)], {"axis": axis, "sizes": sizes}, len(sizes))]

    def b_split(self, node: fx.Node, a: dict) -> list[Ref]:
        x = a["self"]
        axis = norm_axis(a["dim"], self.rank(x))
        if not isinstance(self.shape(x)[axis], int):
            return self.split_evenly(x, node, axis)
        size = self.static_dim(x, axis, "split")
        name = op_name(functional(node.target))
        if name == "chunk":
            chunks = self.integer(a["chunks"], "chunks")
            step = -(-size // chunks)
            sizes = [step] * (size // step) + ([size % step] if size % step else []) if step else [0] * chunks
        elif name == "split_with_sizes" or isinstance(a.get("split_size"), (list, tuple)):
            sizes = [self.integer(s, "split size") for s in (a.get("split_sizes") or a.get("split_size"))]
        else:
            step = self.integer(a["split_size"], "split size")
            sizes = [step] * (size // step) + ([size % step] if size % step else [])
        return self.split(x, sizes, axis)

    def split_evenly(self, x: Any, node: fx.Node, axis: int) -> list[Ref]:
        """A dim known only at run time split into n parts of one size, the inputs' batches taken
        as one (two images' batches concatenated for one encoder, then split back): that dim
        viewed as (n, -1), split into its n parts, each viewed back. Any other split of such a dim
        is Unsupported."""
        one = {s: next(iter(self.batch_symbols)) for s in self.batch_symbols}

        def size(d: Any) -> Any:  # in one batch symbol
            return sympy.sympify(d.node.expr if isinstance(d, torch.SymInt) else d).subs(one)

        parts = [size(p.shape[axis]) for p in node.meta["val"]]
        if any(sympy.simplify(p - parts[0]) != 0 for p in parts) or \
                sympy.simplify(len(parts) * parts[0] - size(self.shape(x)[axis])) != 0:
            raise Unsupported(f"split: dim {axis} is only known at run time and the parts differ in size")
        rank, n = self.rank(x), len(parts)
        kept = [-(2 + d) for d in range(axis)]
        blocks = self.emit_one("reshape", [self.tensor(x)],
                               {"shape": kept + [n, -1] + [-(2 + d) for d in range(axis + 1, rank)]})
        back = {"shape": kept + [-(3 + axis)] + [-(3 + d) for d in range(axis + 1, rank)]}
        return [self.emit_one("reshape", [r.name], back) for r in self.split(blocks, [1] * n, axis)]

    def b_tensor_split(self, node: fx.Node, a: dict) -> list[Ref]:
        """torch.tensor_split and hsplit / vsplit / dsplit: n sections (the first size % n one
        longer), or the parts between indices as Python slices take them (empty or overlapping
        where the indices go back)."""
        x = a["self"]
        rank = self.rank(x)
        name = op_name(functional(node.target))
        axis = {"hsplit": 1 if rank > 1 else 0, "vsplit": 0, "dsplit": 2}.get(name)
        axis = norm_axis(a.get("dim", 0), rank) if axis is None else axis
        size = self.static_dim(x, axis, name)
        how = next(a[k] for k in ("sections", "indices", "tensor_indices_or_sections") if k in a)
        if isinstance(how, torch.Tensor):
            if how.dtype not in (torch.int64, torch.int32) or how.dim() > 1:
                raise Unsupported(f"{name} by a {how.dtype} tensor of {how.dim()} dims")
            how = how.tolist()
        if not isinstance(how, (list, tuple)):
            sections = self.integer(how, f"{name} sections")
            if sections < 1:
                raise Unsupported(f"{name} into {sections} sections")
            step, longer = divmod(size, sections)
            return self.split(x, [step + 1] * longer + [step] * (sections - longer), axis)
        bounds = [None, *(self.integer(i, f"{name} index") for i in how), None]
        parts = [slice(start, end).indices(size)[:2] for start, end in zip(bounds, bounds[1:])]
        return [self.slice_node(x, axis, start, max(start, end), 1) for start, end in parts]

    def b_unbind(self, node: fx.Node, a: dict) -> list[Ref]:
        x = a["self"]
        rank = self.rank(x)
        axis = norm_axis(a["dim"], rank)
        size = self.static_dim(x, axis, "unbind")
        entries = without_axes(rank, [axis])
        return [self.emit_one("reshape", [part.name], {"shape": entries}) for part in self.split(x, [1] * size, axis)]

    def slice_node(self, x: Any, axis: int, start: int, end: int, step: int) -> Ref:
        return self.emit_one("slice", [self.tensor(x)], {"axis": axis, "start": start, "end": end, "step": step})

    def b_narrow(self, node: fx.Node, a: dict) -> Any:
        start, length = self.integer(a["start"], "narrow start"), self.integer(a["length"], "narrow length")
        return self.b_slice(node, {"self": a["self"], "dim": a["dim"], "start": start, "end": start + length, "step": 1})

    def b_slice(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        axis = norm_axis(a["dim"], self.rank(x))
        start = 0 if a["start"] is None else self.integer(a["start"], "slice start")
        end = INT64_MAX if a["end"] is None else self.integer(a["end"], "slice end")
        step = self.integer(a["step"], "slice step")
        if step < 1:
            raise Unsupported(f"slice step {step}")
        size = self.shape(x)[axis]
        if isinstance(size, int):
            to_the_end = end == INT64_MAX  # x[..., 1::2]: at any size, as written
            start, end, step = slice(start, end, step).indices(size)
            end = max(end, start)
            if (start, end, step) == (0, size, 1):
                return x
            if to_the_end and end == size:
                end = INT64_MAX
        else:
            if start < 0 or end < 0:
                raise Unsupported("slice from the end of a dim known only at run time")
            if start == 0 and end == INT64_MAX and step == 1:
                return x
        return self.slice_node(x, axis, start, end, step)

    def b_select(self, node: fx.Node, a: dict) -> Ref:
        x = a["self"]
        rank = self.rank(x)
        axis = norm_axis(a["dim"], rank)
        size = self.shape(x)[axis]
        index = self.integer(a["index"], "index")
        if isinstance(size, int):
            if not -size <= index < size:
                raise Unsupported(f"index {index} out of range")
            index %= size
        elif index < 0:
            raise Unsupported("select from the end of a dim known only at run time")
        part = self.slice_node(x, axis, index, index + 1, 1)
        return self.emit_one("reshape", [part.name], {"shape": without_axes(rank, [axis])})

    def reshape(self, x: Any, entries: list[Any]) -> Ref:
        shape = self.shape(x)
        resolved = [self.size_entry(e, shape) for e in entries]
        if None in resolved and -1 in resolved:
            resolved[resolved.index(-1)] = _inferred_entry(shape, entries, resolved)
        if resolved.count(None) == 1 and -1 not in resolved:
            resolved[resolved.index(None)] = -1
        if None in resolved:
            raise Unsupported("a target size is computed from run-time sizes in a way a reshape cannot express")
        if any(e == 0 or e < -(1 + len(shape)) for e in resolved) or resolved.count(-1) > 1:
            raise Unsupported(f"reshape to {resolved}")
        if all(isinstance(d, int) for d in shape):  # static: plain sizes read best
            resolved = [shape[-e - 2] if e <= -2 else e for e in resolved]
        return self.emit_one("reshape", [self.tensor(x)], {"shape": resolved})

    def b_view(self, node: fx.Node, a: dict) -> Ref:
        return self.reshape(a["self"], a.get("size", a.get("shape")))

    def b_flatten(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        rank = self.rank(x)
        if rank == 0:
            return self.reshape(x, [1])
        start, end = norm_axis(a["start_dim"], rank), norm_axis(a["end_dim"], rank)
        if start == end:
            return x
        entries = [-(2 + i) for i in range(start)] + [-1] + [-(2 + i) for i in range(end + 1, rank)]
        return self.emit_one("reshape", [self.tensor(x)], {"shape": self.static(x, entries)})

    def static(self, x: Any, entries: list[int]) -> list[int]:
        """Entries "dim i of the input" as plain sizes where the input's dims are all static."""
        shape = self.shape(x)
        if all(isinstance(d, int) for d in shape):
            return [shape[-e - 2] if e <= -2 else e for e in entries]
        return entries

    def b_unflatten(self, node: fx.Node, a: dict) -> Ref:
        x = a["self"]
        rank = self.rank(x)
        axis = norm_axis(a["dim"], rank)
        if any(isinstance(e, int) and e < -1 for e in a["sizes"]):
            raise Unsupported(f"unflatten to sizes {a['sizes']}")
        keep = [-(2 + i) for i in range(rank)]
        return self.reshape(x, keep[:axis] + list(a["sizes"]) + keep[axis + 1:])

    def b_unsqueeze(self, node: fx.Node, a: dict) -> Ref:
        x = a["self"]
        rank = self.rank(x)
        axis = norm_axis(a["dim"], rank + 1)
        entries = [-(2 + i) for i in range(rank)]
        return self.emit_one("reshape", [self.tensor(x)], {"shape": self.static(x, entries[:axis] + [1] + entries[axis:])})

    def b_squeeze(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        shape = self.shape(x)
        dims = a.get("dim", a.get("dims"))
        dims = range(len(shape)) if dims is None else [dims] if isinstance(dims, int) else dims
        dims = {norm_axis(d, len(shape)) for d in dims} if shape else set()
        keep = [i for i in range(len(shape)) if not (i in dims and shape[i] == 1)]
        if len(keep) != len(node.meta["val"].shape):  # a run-time size torch took for 1
            raise Unsupported("squeeze of a dim known only at run time")
        if len(keep) == len(shape):
            return x
        return self.emit_one("reshape", [self.tensor(x)], {"shape": self.static(x, [-(2 + i) for i in keep])})

    def b_permute(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        rank = self.rank(x)
        dims = [norm_axis(d, rank) for d in a["dims"]]
        if dims == list(range(rank)):
            return x
        return self.emit_one("permute", [self.tensor(x)], {"dims": dims})

    def b_transpose(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        rank = self.rank(x)
        dims = list(range(rank))
        if op_name(functional(node.target)) in ("t", "numpy_T"):
            dims.reverse()
        else:
            i, j = norm_axis(a["dim0"], rank), norm_axis(a["dim1"], rank)
            dims[i], dims[j] = dims[j], dims[i]
        return self.b_permute(node, {"self": x, "dims": dims})

    def b_expand(self, node: fx.Node, a: dict) -> Any:
        x, sizes = a["self"], a["size"]
        broadcast = self.batch_broadcast(x, list(sizes)) if isinstance(x, torch.Tensor) else None
        return self.expand_to(x, sizes) if broadcast is None else broadcast

    def expand_to(self, x: Any, sizes: Any) -> Any:
        shape = self.shape(x)
        offset = len(sizes) - len(shape)
        if offset < 0:
            raise Unsupported("expand to fewer dims")
        entries, like = [], None
        for i, s in enumerate(sizes):
            j = i - offset
            entry = self.size_entry(s, shape)
            if j >= 0 and (entry == -1 or entry == -(2 + j) or (isinstance(entry, int) and entry == shape[j])):
                entries.append(-1)
            elif entry is not None and entry >= 1:
                entries.append(entry)
            else:  # a size known at run time: a dim of x, or of another tensor (the second input)
                source = (self.tensor(x), -entry - 2) if entry is not None and entry <= -2 else self.size_source(s)
                if source is None or like not in (None, source[0]):
                    raise Unsupported(f"expand to size {s}")
                like = source[0]
                entries.append(-(2 + source[1]))
        if offset == 0 and all(e == -1 for e in entries):
            return x
        return self.emit_one("expand", [self.tensor(x)] + ([like] if like else []), {"shape": entries})

    def size_source(self, v: Any) -> tuple[str, int] | None:
        """A tensor of the graph with a dim equal to the run-time size `v`, and that dim (the
        graph inputs come first)."""
        if not isinstance(v, Ref) or v.size is None:
            return None
        for name, value in self.values.items():
            for j, d in enumerate(getattr(value, "shape", ())):
                if isinstance(d, torch.SymInt) and d.node.expr == v.size:
                    return name, j
        return None

    def b_expand_as(self, node: fx.Node, a: dict) -> Any:
        """expand to the other tensor's shape: its dims equal to x's stay -1 (batch included);
        a dim known only at run time is read from the other tensor when it runs."""
        x, other = a["self"], a["other"]
        shape, target = self.shape(x), self.shape(other)
        offset = len(target) - len(shape)
        if offset < 0:
            raise Unsupported("expand_as to fewer dims")
        entries = [-1 if i >= offset and shape[i - offset] == d else d if isinstance(d, int) else -(2 + i)
                   for i, d in enumerate(target)]
        if offset == 0 and all(e == -1 for e in entries):
            return x
        like = [self.tensor(other)] if any(e <= -2 for e in entries) else []
        return self.emit_one("expand", [self.tensor(x)] + like, {"shape": entries})

    def pool_attrs(self, a: dict, dilation: bool) -> dict[str, Any]:
        kernel = int_pair(a["kernel_size"], "kernel size")
        stride = int_pair(a["stride"], "stride") if a["stride"] else kernel
        ph, pw = int_pair(a["padding"], "padding")
        attrs = {"kernel": kernel, "stride": stride, "padding": [ph, pw, ph, pw], "ceil_mode": int(bool(a["ceil_mode"]))}
        if dilation:
            attrs["dilation"] = int_pair(a["dilation"], "dilation")
        return attrs

    def image(self, x: Any, what: str = "2-d pooling") -> str:
        if self.rank(x) != 4:
            raise Unsupported(f"{what} of a rank-{self.rank(x)} tensor")
        return self.tensor(x)

    def b_max_pool2d(self, node: fx.Node, a: dict) -> Any:
        attrs = self.pool_attrs(a, True)
        out = self.emit_one("max_pool2d", [self.image(a["self"])], attrs)
        if op_name(node.target) == "max_pool2d":
            return out
        k, (height, width) = attrs["kernel"][0], self.shape(a["self"])[2:]
        readers = [u for g in node.users if g.target is operator.getitem and g.args[1] == 1 for u in g.users]
        windows = attrs["kernel"] == [k, k] and attrs["stride"] == [k, k] and attrs["dilation"] == [1, 1] and \
            attrs["padding"] == [0] * 4 and not attrs["ceil_mode"]
        if windows and readers and all(op_name(u.target) == "max_unpool2d" and
                                       not composites.unpool_rejects(height, width, k, u.args[2]) for u in readers):
            return [out, PoolArgmax(Ref(self.tensor(a["self"])), out, k)]
        self.only_first_output_used(node)
        return [out, MISSING]

    def b_avg_pool2d(self, node: fx.Node, a: dict) -> Ref:
        attrs = self.pool_attrs(a, False)
        attrs["count_include_pad"] = int(bool(a["count_include_pad"]))
        attrs["divisor"] = int(a["divisor_override"] or 0)
        return self.emit_one("avg_pool2d", [self.image(a["self"])], attrs)

    def b_adaptive_avg_pool2d(self, node: fx.Node, a: dict) -> Ref:
        size = int_pair([self.integer(s, "output size") for s in a["output_size"]], "output size")
        return self.emit_one("adaptive_avg_pool2d", [self.image(a["self"])], {"output_size": size})

    def b_adaptive_max_pool2d(self, node: fx.Node, a: dict) -> list[Any]:
        self.only_first_output_used(node)
        size = int_pair([self.integer(s, "output size") for s in a["output_size"]], "output size")
        return [self.emit_one("adaptive_max_pool2d", [self.image(a["self"])], {"output_size": size}), MISSING]

    def axes(self, x: Any, dims: Any) -> list[int]:
        rank = self.rank(x)
        if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
            return list(range(rank))
        dims = [dims] if isinstance(dims, int) else dims
        return sorted({norm_axis(d, rank) for d in dims})

    def b_reduce(self, node: fx.Node, a: dict) -> Any:
        name = op_name(functional(node.target))
        if a.get("dtype") not in (None, torch.float32):
            raise Unsupported("reduction with a dtype")
        x = a["self"]
        if "other" in a:
            raise Unsupported(f"elementwise {name} is not in the operator set")
        kind = _REDUCE.get(name) or {"max": "max", "min": "min"}[name]
        with_indices = name in ("max", "min") and a.get("dim") is not None
        if with_indices and any(user.target is not operator.getitem or (user.args[1] == 1 and user.users)
                                 for user in node.users):
            return indices.arg_reduce(self, node, a, largest=name == "max")
        axes = self.axes(x, a.get("dim"))
        keepdim = int(bool(a.get("keepdim", False)))
        out = self.emit_one("reduce", [self.tensor(x)], {"kind": kind, "axes": axes, "keepdim": keepdim})
        if with_indices:
            self.only_first_output_used(node)
            return [out, MISSING]
        return out

    def b_upsample(self, node: fx.Node, a: dict) -> Ref:
        attrs = resize_attrs(node.target, a)
        scales = a.get("scale_factors")
        if scales is None and a.get("scales_h") is not None:
            scales = [a["scales_h"], a["scales_w"]]
        if scales is not None:
            attrs["scale"] = [float(s) for s in _pair_floats(scales)]
        else:
            attrs["size"] = int_pair([self.integer(s, "output size") for s in a["output_size"]], "output size")
        x = self.image(a["input"] if "input" in a else a["self"], "2-d interpolation")
        return self.emit_one("upsample", [x], attrs)

    def b_grid_sample(self, node: fx.Node, a: dict) -> Ref:
        modes, paddings = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")
        mode, padding = a["interpolation_mode"], a["padding_mode"]
        if mode not in range(len(modes)) or padding not in range(len(paddings)):
            raise Unsupported(f"grid_sampler mode {mode}, padding {padding}")
        if self.rank(a["input"]) == 5:  # torch samples volumes bilinearly (trilinear) or nearest only
            return composites.grid_sample_3d(self, a["input"], a["grid"], modes[mode], paddings[padding],
                                             bool(a["align_corners"]))
        x, grid = self.image(a["input"], "grid sampling"), a["grid"]
        if self.rank(grid) != 4:
            raise Unsupported(f"grid sampling with a rank-{self.rank(grid)} grid")
        attrs = {"mode": modes[mode], "padding": paddings[padding], "align_corners": int(bool(a["align_corners"]))}
        return self.emit_one("grid_sample", [x, self.tensor(grid, "grid")], attrs)

    def b_pad(self, node: fx.Node, a: dict) -> Any:
        x = a["self"]
        rank = self.rank(x)
        pad = [self.integer(p, "padding") for p in a["pad"]]
        mode = a.get("mode", "constant")
        if mode not in ("constant", "reflect", "replicate", "circular"):
            raise Unsupported(f"{mode} padding is not in the operator set")
        if len(pad) % 2 or len(pad) > 2 * rank:
            raise Unsupported(f"padding {pad} for rank {rank}")
        if mode != "constant" and any(p < 0 for p in pad):
            raise Unsupported(f"negative {mode} padding")
        if not any(pad):
            return x
        if mode == "circular":  # each dim's end before it, its start after it
            y = Ref(self.tensor(x))
            for i in range(len(pad) // 2):
                d, (before, after) = rank - 1 - i, pad[2 * i:2 * i + 2]
                size = self.static_dim(x, d, "circular padding")
                if before > size or after > size:
                    raise Unsupported(f"circular padding of {max(before, after)} around a dim of {size}")
                parts = [self.slice_node(y, d, size - before, size, 1).name] if before else []
                parts += [y.name] + ([self.slice_node(y, d, 0, after, 1).name] if after else [])
                y = self.emit_one("concat", parts, {"axis": d})
            return y
        pads = [0] * (2 * rank)
        for i in range(len(pad) // 2):  # torch: the last dim's (begin, end) first
            d = rank - 1 - i
            pads[2 * d], pads[2 * d + 1] = pad[2 * i], pad[2 * i + 1]
        attrs: dict[str, Any] = {"pads": pads, "mode": mode}
        if mode == "constant":  # the engine refuses a value beside the other modes
            attrs["value"] = float(a.get("value") or 0.0)
        return self.emit_one("pad", [self.tensor(x)], attrs)

    def b_softmax(self, node: fx.Node, a: dict) -> Ref:
        if a.get("dtype") is not None or a.get("half_to_float"):
            raise Unsupported("softmax with a dtype")
        x = a["self"]
        log = int("log" in op_name(node.target))
        return self.emit_one("softmax", [self.tensor(x)], {"axis": norm_axis(a["dim"], self.rank(x)), "log": log})

    def b_scan(self, node: fx.Node, a: dict) -> Ref:
        x = a["self"]
        if self.rank(x) == 0:  # a scalar's running sum or product is itself
            return Ref(self.tensor(x))
        return self.emit_one(op_name(functional(node.target)), [self.tensor(x)],
                             {"axis": norm_axis(a["dim"], self.rank(x))})

    def b_layer_norm(self, node: fx.Node, a: dict) -> Any:
        x = a["input"]
        count = len(a["normalized_shape"])
        weight, bias = a.get("weight"), a.get("bias")
        inputs = [self.tensor(x)]
        if weight is not None or bias is not None:
            if weight is None:
                weight = torch.ones(list(a["normalized_shape"]))
            inputs.append(self.tensor(weight, "the weight"))
        if bias is not None:
            inputs.append(self.tensor(bias, "the bias"))
        out = self.emit_one("layer_norm", inputs, {"axes": count, "eps": float(a["eps"])})
        if op_name(node.target) == "layer_norm":
            return out
        self.only_first_output_used(node)
        return [out, MISSING, MISSING]


def _inferred_entry(shape: list[Any], entries: list[Any], resolved: list[int | None]) -> int:
    """The -1 of a reshape whose other entries include run-time sizes that are not input dims,
    when it is a constant all the same: the input's size over the other entries' product, with the
    run-time sizes cancelled (MobileViT's x.reshape(B * P, N, -1): the -1 is C whatever B is).
    Else -1, which leaves the reshape unresolved."""
    numel = math.prod(shape)
    product = 1
    for entry, r in zip(entries, resolved):
        if r == -1:
            continue
        size = entry.size if isinstance(entry, Ref) else entry  # an input dim's entry has its size
        if size is None or (isinstance(size, int) and size < 0):
            return -1
        product *= size
    if _static(product) == 0:
        return -1
    value = _static(sympy.cancel(sympy.sympify(numel) / sympy.sympify(product)))
    return value if value is not None and value > 0 else -1


def _leaves(v: Any) -> list[Any]:
    """The values in nested lists, tuples and dicts."""
    if isinstance(v, dict):
        return [x for e in v.values() for x in _leaves(e)]
    if isinstance(v, (list, tuple)):
        return [x for e in v for x in _leaves(e)]
    return [v]


def _represented(v: Any) -> Any:
    """v with each Broadcast replaced by the constant it stands for."""
    if isinstance(v, Broadcast):
        return v.value
    if isinstance(v, dict):
        return {k: _represented(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_represented(e) for e in v)
    return v


def _is_integer(v: Any) -> bool:
    return isinstance(v, torch.Tensor) and v.dtype in indices.INTEGER_DTYPES


def _as_float(example: Any) -> Any:
    """A boolean tensor's value at capture as the float32 mask the engine holds of it."""
    with example.fake_mode if hasattr(example, "fake_mode") else contextlib.nullcontext():
        return example.to(torch.float32)


def _static(size: Any) -> int | None:
    """A size expression's value when it is a constant."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    return int(size) if getattr(size, "is_Integer", False) else None


def _pair_floats(v: Any) -> list[float]:
    v = list(v)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2:
        raise Unsupported(f"scales {v} are not two numbers")
    return [float(s) for s in v]


def _identity(v: Any) -> Any:
    return v


_BUILDERS: dict[str, Callable[[_Lowering, fx.Node, dict], Any]] = {
    **{name: _Lowering.b_alias for name in _ALIASES},
    **{name: _Lowering.b_dropout for name in _DROPOUTS},
    **{name: _Lowering.b_activation for name in _ACTIVATIONS},
    **{name: _Lowering.b_binary for name in (*_BINARY, "rsub")},
    **{name: _Lowering.b_unary for name in _UNARY},
    **{name: _Lowering.b_reduce for name in (*_REDUCE, "max", "min")},
    "to": _Lowering.b_to, "_to_copy": _Lowering.b_to, "type_as": _Lowering.b_to,
    "where": _Lowering.b_where, "masked_fill": _Lowering.b_masked_fill,
    "hardtanh": _Lowering.b_hardtanh, "clamp": _Lowering.b_clamp, "clip": _Lowering.b_clamp,
    "clamp_min": _Lowering.b_clamp_min, "clamp_max": _Lowering.b_clamp_max,
    "leaky_relu": _Lowering.b_leaky_relu, "gelu": _Lowering.b_gelu, "pow": _Lowering.b_pow,
    "conv2d": _Lowering.b_conv2d, "convolution": _Lowering.b_conv2d, "_convolution": _Lowering.b_conv2d,
    "linear": _Lowering.b_linear, "addmm": _Lowering.b_addmm, "mm": _Lowering.b_matmul,
    "matmul": _Lowering.b_matmul, "bmm": _Lowering.b_matmul,
    "batch_norm": _Lowering.b_batch_norm, "_native_batch_norm_legit_no_training": _Lowering.b_batch_norm,
    "cat": _Lowering.b_concat, "concat": _Lowering.b_concat, "stack": _Lowering.b_stack,
    "split": _Lowering.b_split, "split_with_sizes": _Lowering.b_split, "chunk": _Lowering.b_split,
    "tensor_split": _Lowering.b_tensor_split, "hsplit": _Lowering.b_tensor_split, "vsplit": _Lowering.b_tensor_split,
    "dsplit": _Lowering.b_tensor_split,
    "unbind": _Lowering.b_unbind, "slice": _Lowering.b_slice, "select": _Lowering.b_select,
    "view": _Lowering.b_view, "reshape": _Lowering.b_view, "_unsafe_view": _Lowering.b_view,
    "flatten": _Lowering.b_flatten, "unflatten": _Lowering.b_unflatten, "unsqueeze": _Lowering.b_unsqueeze,
    "squeeze": _Lowering.b_squeeze,
    "permute": _Lowering.b_permute, "transpose": _Lowering.b_transpose, "t": _Lowering.b_transpose,
    "numpy_T": _Lowering.b_transpose, "expand": _Lowering.b_expand, "expand_as": _Lowering.b_expand_as,
    "narrow": _Lowering.b_narrow,
    "max_pool2d": _Lowering.b_max_pool2d, "max_pool2d_with_indices": _Lowering.b_max_pool2d,
    "avg_pool2d": _Lowering.b_avg_pool2d, "adaptive_avg_pool2d": _Lowering.b_adaptive_avg_pool2d,
    "_adaptive_avg_pool2d": _Lowering.b_adaptive_avg_pool2d,
    "adaptive_max_pool2d": _Lowering.b_adaptive_max_pool2d,
    "upsample_nearest2d": _Lowering.b_upsample, "upsample_bilinear2d": _Lowering.b_upsample,
    "_upsample_nearest_exact2d": _Lowering.b_upsample, "upsample_bicubic2d": _Lowering.b_upsample,
    "grid_sampler": _Lowering.b_grid_sample, "grid_sampler_2d": _Lowering.b_grid_sample,
    "pad": _Lowering.b_pad, "constant_pad_nd": _Lowering.b_pad,
    "softmax": _Lowering.b_softmax, "_softmax": _Lowering.b_softmax, "log_softmax": _Lowering.b_softmax,
    "_log_softmax": _Lowering.b_softmax, "cumsum": _Lowering.b_scan, "cumprod": _Lowering.b_scan,
    "logcumsumexp": _Lowering.b_scan,
    "layer_norm": _Lowering.b_layer_norm, "native_layer_norm": _Lowering.b_layer_norm,
    **composites.BUILDERS,
    **indices.BUILDERS,
    **recurrent.BUILDERS,
}


def lower(program: ExportedProgram, example_inputs: Sequence[Any] | None = None) -> Lowered:
    """The operator-set graph of an exported program, the nodes left to torch and why.

    Graph inputs take the shapes of `example_inputs` when given (else the capture's). An
    in-place op is read as its out-of-place twin unless the tensor it mutates is read again
    afterwards; then the program is functionalised first (slow, so only then)."""
    if _needs_functionalization(program.graph_module.graph):
        with quiet():
            program = program.run_decompositions({})
    return _Lowering(program, example_inputs).run()
