"""What a packed file holds, layer by layer, and Deep Compression's size breakdown: original
fp32 -> after pruning -> after weight sharing -> after Huffman coding."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyprune.pack.format import PackFile, read_pack
from pyprune.pack.layers import RAW, TensorSizes, tensor_sizes

__all__ = ["LayerReport", "PackReport", "inspect"]


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
class PackReport:
    layers: list[LayerReport]
    file_bytes: int

    def total(self, stage: str) -> int:
        return sum(getattr(layer.sizes, stage) for layer in self.layers)

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
        width = max([len(layer.name) for layer in self.layers] + [5])
        head = f"{'layer':<{width}}  {'encoding':<21} {'params':>9} {'nonzeros':>9} {'bits':>4} {'index':>5} {'bytes':>9} {'ratio':>7}"
        lines = [head, "-" * len(head)]
        for layer in self.layers:
            s = layer.sizes
            bits = "" if layer.bits is None else str(layer.bits)
            index = "" if layer.index_bits is None else str(layer.index_bits)
            lines.append(f"{layer.name:<{width}}  {layer.encoding:<21} {s.parameters:>9} {s.nonzeros:>9} {bits:>4} "
                         f"{index:>5} {s.coded:>9} {layer.ratio:>6.1f}x")
        original = self.total("original")
        lines.append("")
        lines.append("Deep Compression breakdown (bytes, ratio to fp32):")
        for stage, size in self.stages.items():
            lines.append(f"  {stage:<22} {size:>11}  {original / max(size, 1):6.1f}x")
        return "\n".join(lines)


def report(pack: PackFile) -> PackReport:
    rows = []
    for name, record in pack.metadata["tensors"].items():
        sizes = tensor_sizes(record, pack.tensors, name)
        raw = record["encoding"] == RAW
        rows.append(LayerReport(name, record["encoding"], None if raw else record["bits"],
                                record.get("index_bits"), sizes))
    return PackReport(rows, pack.file_bytes)


def inspect(path: str | os.PathLike) -> PackReport:
    """The per-tensor table and size breakdown of a packed file (PackError if invalid)."""
    return report(read_pack(path))
