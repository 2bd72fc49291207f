"""Pruning schedules: the total sparsity to reach after each prune -> fine-tune step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from pyprune.prune.errors import PruningError

__all__ = ["GradualCubic", "Iterative", "OneShot", "Schedule"]


class Schedule(ABC):
    """Maps a final target (a fraction in [0, 1)) to the target after each step."""

    @abstractmethod
    def targets(self, final: float) -> list[float]:
        """Total fraction pruned after step 1, 2, ... (the last is `final`)."""


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise PruningError(f"steps must be a positive integer, got {steps!r}")


@dataclass(frozen=True)
class OneShot(Schedule):
    """Everything at once, then fine-tune."""

    def targets(self, final: float) -> list[float]:
        return [final]


@dataclass(frozen=True)
class Iterative(Schedule):
    """`steps` rounds, each removing the same fraction of what is left:
    s_k = 1 - (1 - final)^(k / steps)."""

    steps: int = 5

    def __post_init__(self) -> None:
        _check_steps(self.steps)

    def targets(self, final: float) -> list[float]:
        return [1 - (1 - final) ** (k / self.steps) for k in range(1, self.steps + 1)]


@dataclass(frozen=True)
class GradualCubic(Schedule):
    """Zhu & Gupta 2017: s_t = s_f + (s_i - s_f) (1 - t / n)^3 for t = 1..n; fast at first,
    slow near the end, when the network has fewer redundant weights left."""

    steps: int = 10
    initial: float = 0.0

    def __post_init__(self) -> None:
        _check_steps(self.steps)
        if not 0 <= self.initial < 1:
            raise PruningError(f"initial must be in [0, 1), got {self.initial!r}")

    def targets(self, final: float) -> list[float]:
        n = self.steps
        return [final + (self.initial - final) * (1 - t / n) ** 3 for t in range(1, n + 1)]
