"""The demo's table: one row per stage, with ratios against the original model."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Stage", "format_stages"]


@dataclass(frozen=True)
class Stage:
    name: str
    params: int  # non-zero parameters
    macs: int  # multiply-accumulates of the non-zero weights, one image
    file_bytes: int  # torch.save(state_dict) for torch stages, the packed file for pyprune
    accuracy: float  # percent, on the test set
    latency_ms: float  # batch 1, 1 thread, median


def format_stages(stages: list[Stage]) -> str:
    first = stages[0]
    header = (f"{'stage':<18}{'params':>10}{'MMACs':>9}{'file KB':>10}{'smaller':>9}"
              f"{'accuracy':>10}{'latency ms':>12}{'speedup':>9}")
    lines = [header, "-" * len(header)]
    for s in stages:
        lines.append(
            f"{s.name:<18}{s.params:>10,}{s.macs / 1e6:>9.2f}{s.file_bytes / 1024:>10.1f}"
            f"{first.file_bytes / s.file_bytes:>8.1f}x{s.accuracy:>9.2f}%{s.latency_ms:>12.3f}"
            f"{first.latency_ms / s.latency_ms:>8.2f}x"
        )
    return "\n".join(lines)
