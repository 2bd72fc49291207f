"""What prune_filters did and could not do: channels per layer before and after, the groups
left whole (or partly whole) and which node blocked them, and how much of the request was
reached. prune_filters attaches it to the model it returns (pruning_report(model))."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from torch import nn

__all__ = ["BlockedGroup", "LayerChange", "PruningReport", "PruningWarning", "pruning_report"]

# Where a pruned model keeps its report: an ordinary attribute, so it survives deepcopy.
_ATTRIBUTE = "_pyprune_pruning_report"


class PruningWarning(UserWarning):
    """prune_filters could not reach what was asked; the message says how much it reached."""


@dataclass
class LayerChange:
    name: str
    kind: str
    out_before: int
    out_after: int
    in_before: int
    in_after: int


@dataclass
class BlockedGroup:
    """Units of a group of coupled layers that could not go, and why (the first reason met
    for each blocked unit, with how many units it blocks)."""

    layers: list[str]
    units: int
    blocked: int
    reasons: dict[str, int]


@dataclass
class PruningReport:
    """requested: the amount (a fraction, or per layer) or the target asked for; reached: the
    fraction of the prunable layers' output channels removed, and for a target the fraction
    of the MACs, parameters or latency kept."""

    requested: str
    reached: float
    layers: list[LayerChange] = field(default_factory=list)
    blocked: list[BlockedGroup] = field(default_factory=list)
    target_kept: float | None = None
    warning: str | None = None

    def __str__(self) -> str:
        lines = [f"requested {self.requested}; removed {self.reached:.1%} of the output channels"
                 + (f", kept {self.target_kept:.1%} of the target's measure" if self.target_kept is not None else "")]
        if self.warning:
            lines.append(f"warning: {self.warning}")
        changed = [c for c in self.layers if (c.out_before, c.in_before) != (c.out_after, c.in_after)]
        if changed:
            width = max(len(c.name) for c in changed)
            kind = max([len(c.kind) for c in changed] + [12])
            lines.append(f"{'layer':<{width}}  {'type':<{kind}} {'out channels':>14} {'in channels':>14}")
            lines += [f"{c.name:<{width}}  {c.kind:<{kind}} {f'{c.out_before} -> {c.out_after}':>14} "
                      f"{f'{c.in_before} -> {c.in_after}':>14}" for c in changed]
        for group in self.blocked:
            shown = ", ".join(group.layers[:4]) + (f" and {len(group.layers) - 4} more" if len(group.layers) > 4 else "")
            whole = "left whole" if group.blocked == group.units else f"{group.blocked} of {group.units} units kept"
            lines.append(f"group {shown}: {whole}")
            lines += [f"  {count} unit{'s' * (count > 1)}: {reason}" for reason, count in group.reasons.items()]
        return "\n".join(lines)


def attach(model: nn.Module, report: PruningReport) -> None:
    """Attach the report to the pruned model, warning when the request was not reached."""
    setattr(model, _ATTRIBUTE, report)
    if report.warning:
        warnings.warn(report.warning, PruningWarning, stacklevel=3)


def pruning_report(model: nn.Module) -> PruningReport | None:
    """The report prune_filters attached to the model it returned (None for other models)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return getattr(model, _ATTRIBUTE, None)
