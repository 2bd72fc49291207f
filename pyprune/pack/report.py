"""What a packed file holds, layer by layer, and Deep Compression's size breakdown: original
fp32 -> after pruning -> after weight sharing -> after Huffman coding; and how far the packed
model's outputs were from the original's when it was saved. Torch-free."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pyprune.pack.format import PackFile
from pyprune.pack.layers import RAW, TensorSizes, tensor_sizes
from pyprune.pack.reading import read

__all__ = ["GraphReport", "LayerReport", "OutputError", "PackReport", "inspect"]


@dataclass(frozen=True)
class OutputError:
    """How far the packed model's outputs were from the original's on the example inputs,
    measured when the file was saved: the largest absolute difference over every output
    element, and the range (max - min) of the original's outputs (their largest magnitude where
    they are one value throughout)."""

    max_abs: float
    output_range: float

    @property
    def relative(self) -> float:
        """max_abs as a fraction of the output range."""
        if self.output_range > 0:
            return self.max_abs / self.output_range
        return 0.0 if self.max_abs == 0 else float("inf")

    @classmethod
    def from_metadata(cls, value: dict[str, Any] | None) -> OutputError | None:
        return None if value is None else cls(value["max_abs"], value["output_range"])

    def to_metadata(self) -> dict[str, float]:
        return {"max_abs": self.max_abs, "output_range": self.output_range}

    def __str__(self) -> str:
        if self.max_abs == 0:
            return "outputs identical to the original's on the example inputs"
        return (f"outputs differ from the original's by at most {self.max_abs:.3g} "
                f"({self.relative:.2%} of their range) on the example inputs")


@dataclass(frozen=True)
class LayerReport:
    name: str
    encoding: str
    bits: int | None        # bits per shared weight index
    index_bits: int | None  # bits per relative position (sparse only)
    sizes: TensorSizes

    @property
    def ratio(self) -> float:
        return self.sizes.original / max(self.sizes.coded, 1)


@dataclass(frozen=True)
class GraphReport:
    """The file's inference graph: its nodes, the constants it holds besides the state_dict's,
    and how far its outputs on pyprune's kernels were from the original model's."""

    nodes: int
    tensors: list[LayerReport]
    output_error: OutputError | None

    def __str__(self) -> str:
        own = sum(t.sizes.coded for t in self.tensors)
        error = self.output_error or "not measured"
        return (f"graph: {self.nodes} nodes, {len(self.tensors)} constants of its own ({own} bytes); "
                f"output error on pyprune's kernels: {error}")


@dataclass(frozen=True)
class PackReport:
    layers: list[LayerReport]
    file_bytes: int
    output_error: OutputError | None = None
    graph: GraphReport | None = None  # None: saved without a graph

    def total(self, stage: str) -> int:
        """Bytes of every tensor of the file (the graph's own too) at a stage."""
        own = self.graph.tensors if self.graph else []
        return sum(getattr(layer.sizes, stage) for layer in self.layers + own)

    @property
    def stages(self) -> dict[str, int]:
        """Bytes of the whole model at each Deep Compression stage, and the file."""
        return {
            "original fp32": self.total("original"),
            "after pruning": self.total("pruned"),
            "after weight sharing": self.total("shared"),
            "after Huffman coding": self.total("coded"),
            "file": self.file_bytes,
        }

    def __str__(self) -> str:
        own = self.graph.tensors if self.graph else []
        width = max([len(layer.name) for layer in self.layers + own] + [5])
        head = f"{'layer':<{width}}  {'encoding':<21} {'params':>9} {'nonzeros':>9} {'bits':>4} {'index':>5} {'bytes':>9} {'ratio':>7}"
        lines = [head, "-" * len(head)] + [_row(layer, width) for layer in self.layers]
        if own:
            lines += ["the graph's own constants:"] + [_row(layer, width) for layer in own]
        original = self.total("original")
        lines.append("")
        lines.append("Deep Compression breakdown (bytes, ratio to fp32):")
        for stage, size in self.stages.items():
            lines.append(f"  {stage:<22} {size:>11}  {original / max(size, 1):6.1f}x")
        lines.append("")
        lines.append(f"output error: {self.output_error}" if self.output_error else
                     "output error: not measured (saved without example inputs)")
        lines.append(str(self.graph) if self.graph else "graph: none (pyprune.runtime cannot run this file)")
        return "\n".join(lines)


def _row(layer: LayerReport, width: int) -> str:
    s = layer.sizes
    bits = "" if layer.bits is None else str(layer.bits)
    index = "" if layer.index_bits is None else str(layer.index_bits)
    return (f"{layer.name:<{width}}  {layer.encoding:<21} {s.parameters:>9} {s.nonzeros:>9} {bits:>4} "
            f"{index:>5} {s.coded:>9} {layer.ratio:>6.1f}x")


def _layers(pack: PackFile, records: dict[str, dict[str, Any]]) -> list[LayerReport]:
    return [LayerReport(name, record["encoding"], None if record["encoding"] == RAW else record.get("bits"),
                        record.get("index_bits"), tensor_sizes(record, pack.tensors, name))
            for name, record in records.items()]


def report(pack: PackFile) -> PackReport:
    section = pack.metadata.get("graph")
    graph = None if section is None else GraphReport(len(section["ir"]["nodes"]), _layers(pack, section["tensors"]),
                                                     OutputError.from_metadata(section["output_error"]))
    return PackReport(_layers(pack, pack.metadata["tensors"]), pack.file_bytes,
                      OutputError.from_metadata(pack.metadata.get("output_error")), graph)


def inspect(path: str | os.PathLike) -> PackReport:
    """The per-tensor table, size breakdown and output error of a packed file (PackError if
    invalid: every stream is checked)."""
    return report(read(path))
