"""ATen's aliases as the ops they name. torch.multiply, torch.subtract, torch.concatenate,
torch.swapaxes (a Paddle port's squeeze-excitation: `return torch.multiply(x, w)`) are ops of their
own in a graph torch.export captures; the lowering and the channel rules know each op by its
canonical name, so an alias ran in torch, its file had no graph and its channels were blocked.
`use_canonical_ops` rewrites them in place before anything reads the graph."""

from __future__ import annotations

import torch
from torch.export import ExportedProgram

__all__ = ["use_canonical_ops"]

# alias -> the op it names; every overload of an alias has the canonical op's overload of the same
# name and arguments, but swapaxes' and swapdims' (transpose.int).
_ALIASES = {
    "multiply": "mul", "subtract": "sub", "divide": "div", "true_divide": "div", "greater": "gt",
    "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne", "absolute": "abs",
    "negative": "neg", "concatenate": "cat", "concat": "cat", "swapaxes": "transpose", "swapdims": "transpose",
    "moveaxis": "movedim", "clip": "clamp", "arccos": "acos", "arcsin": "asin", "arctan": "atan",
    "arctan2": "atan2", "arccosh": "acosh", "arcsinh": "asinh", "arctanh": "atanh", "fix": "trunc",
    "special_expit": "sigmoid", "special_exp2": "exp2", "special_expm1": "expm1", "special_log1p": "log1p",
    "special_erf": "erf", "special_erfc": "erfc", "ger": "outer",
}
_OVERLOADS = {"swapaxes": "int", "swapdims": "int"}


def _canonical(op: object) -> object:
    if not isinstance(op, torch._ops.OpOverload) or op.namespace != "aten":
        return op
    name = op._schema.name.partition("::")[2]
    if name not in _ALIASES:
        return op
    packet = getattr(torch.ops.aten, _ALIASES[name])
    return getattr(packet, _OVERLOADS.get(name, op._overloadname))


def use_canonical_ops(program: ExportedProgram) -> ExportedProgram:
    """`program` with every call of an ATen alias made a call of the op it names (arguments as
    they are: an alias's are the op's, by position; a node passing one by a name the op does not
    have stays)."""
    changed = False
    for node in program.graph.nodes:
        target = _canonical(node.target) if node.op == "call_function" else node.target
        if target is not node.target and set(node.kwargs) <= {a.name for a in target._schema.arguments}:
            node.target = target
            changed = True
    if changed:
        program.graph_module.recompile()
    return program
