"""Compression figures: Huffman decode throughput against other decoders, Deep Compression of
a LeNet-5-style network trained on scikit-learn's digits, size breakdowns of the reference
models, load times, and the memory of compressed-in-memory layers.

    python -m pyprune.bench.compression

Minutes of work: progress goes to stderr, the figures to stdout.
"""

from __future__ import annotations

import argparse
import io
import math
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyprune import kernels
from pyprune.compress.huffman import HuffmanCode, decode, encode
from pyprune.progress import progress_bar
from pyprune.timing import median_seconds

__all__ = ["DecodePeer", "decode_peers", "decode_throughput", "index_stream", "lenet_digits", "main"]


def _seconds(fn: Callable[[], object], rounds: int) -> float:
    return median_seconds({"fn": fn}, rounds=rounds)["fn"]


def index_stream(n: int, entropy: float = 3.5, seed: int = 0) -> np.ndarray:
    """n 5-bit cluster indices whose distribution (geometric, as shared weights' indices are
    roughly) has the given entropy in bits."""
    def probabilities(t: float) -> np.ndarray:
        p = np.exp(-np.arange(32) / t)
        return p / p.sum()

    lo, hi = 0.05, 1e3  # entropy grows with t: bisect
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        p = probabilities(mid)
        lo, hi = (mid, hi) if -(p * np.log2(p)).sum() < entropy else (lo, mid)
    return np.random.default_rng(seed).choice(32, n, p=probabilities(lo)).astype(np.uint8)


@dataclass
class DecodePeer:
    """prepare(symbols) -> coded data; decode(coded) -> something comparable to symbols."""

    name: str
    prepare: Callable[[np.ndarray], object]
    decode: Callable[[object], object]
    check: Callable[[object, np.ndarray], bool]


def _pyprune_peer(ukernel: str | None, label: str) -> DecodePeer:
    def prepare(symbols):
        code = HuffmanCode.for_symbols(symbols)
        return np.frombuffer(encode(symbols, code), np.uint8), len(symbols), code

    return DecodePeer(label, prepare, lambda c: decode(c[0], c[1], c[2], ukernel),
                      lambda out, symbols: np.array_equal(out, symbols))


def _zlib_peer() -> DecodePeer:
    def prepare(symbols):
        c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
        return c.compress(symbols.tobytes()) + c.flush()

    return DecodePeer("zlib Huffman-only inflate", prepare, lambda c: zlib.decompress(c, -15),
                      lambda out, symbols: out == symbols.tobytes())


def decode_peers() -> list[DecodePeer]:
    """pyprune's decoders and the peers installed here (bitarray, dahuffman are optional)."""
    peers = [_pyprune_peer(None, "pyprune (dispatched)")]
    peers += [_pyprune_peer(u["name"], u["name"]) for u in kernels.testing.huffdec_ukernels()
              if u["isa"] in kernels.available_isas()]
    peers.append(_zlib_peer())
    try:
        from bitarray import bitarray, decodetree
        from bitarray.util import huffman_code

        def prepare_bitarray(symbols):
            code = huffman_code(dict(zip(*np.unique(symbols, return_counts=True))))
            bits = bitarray()
            bits.encode(code, symbols.tolist())
            return bits, decodetree(code)

        peers.append(DecodePeer("bitarray", prepare_bitarray, lambda c: list(c[0].decode(c[1])),
                                lambda out, symbols: out == symbols.tolist()))
    except ImportError:
        pass
    try:
        from dahuffman import HuffmanCodec

        def prepare_dahuffman(symbols):
            codec = HuffmanCodec.from_data(symbols.tolist())
            return codec, codec.encode(symbols.tolist())

        peers.append(DecodePeer("dahuffman", prepare_dahuffman, lambda c: c[0].decode(c[1]),
                                lambda out, symbols: list(out) == symbols.tolist()))
    except ImportError:
        pass
    return peers


def decode_throughput(n: int = 2_000_000, rounds: int = 7, progress: bool = False) -> list[tuple[str, int, float]]:
    """(decoder, symbols, M symbols/s), 1 thread, on `n` 5-bit indices of 3.5 bits entropy
    (the pure-Python peers get a slice of them: they would take minutes)."""
    before = kernels.get_num_threads()
    kernels.set_num_threads(1)
    peers = decode_peers()
    try:
        rows = []
        with progress_bar(len(peers), "Huffman decoders", "decoder", progress) as bar:
            for peer in peers:
                bar.set_postfix_str(peer.name)
                pure_python = {"bitarray": 200_000, "dahuffman": 20_000}.get(peer.name)  # slices they finish
                count = min(n, pure_python) if pure_python else n
                symbols = index_stream(count)
                coded = peer.prepare(symbols)
                if not peer.check(peer.decode(coded), symbols):
                    raise AssertionError(f"{peer.name} decoded wrongly")
                seconds = _seconds(lambda: peer.decode(coded), rounds=rounds)
                rows.append((peer.name, count, count / seconds / 1e6))
                bar.update()
        return rows
    finally:
        kernels.set_num_threads(before)


def format_throughput(rows: list[tuple[str, int, float]]) -> str:
    zlib_rate = next((r for name, _, r in rows if name.startswith("zlib")), float("nan"))
    lines = ["Huffman decode, 5-bit indices, 3.5 bits entropy, 1 thread",
             f"{'decoder':<44} {'symbols':>9} {'M symbols/s':>12} {'vs zlib':>8}"]
    lines += [f"{name:<44} {count:>9} {rate:>12.1f} {rate / zlib_rate:>7.2f}x" for name, count, rate in rows]
    return "\n".join(lines)


# ---- LeNet-5 on digits ----------------------------------------------------------------------------


def _lenet():
    from torch import nn

    # The LeNet-5 of Deep Compression's experiments (Caffe's: 20 and 50 5x5 filters, 800 -> 500
    # -> 10 fully connected, 431K parameters) for 8x8 inputs: padded convolutions, one pooling.
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(50 * 4 * 4, 500), nn.ReLU(), nn.Linear(500, 10),
    )


# Fraction of weights kept per layer (Deep Compression's LeNet-5: 66 %, 12 %, 8 %, 19 %).
LENET_KEEP = {"0.weight": 0.66, "3.weight": 0.12, "6.weight": 0.08, "8.weight": 0.19}
LENET_BITS = {"0.weight": 8, "3.weight": 8, "6.weight": 5, "8.weight": 5}


def prune_layers(model, keep: dict[str, float]) -> None:
    """Masks the smallest-magnitude weights of each named weight, keeping the fraction
    keep[name]; the masks persist through training (pyprune.prune.prune_magnitude)."""
    from pyprune import prune

    layers = [name.rsplit(".", 1)[0] for name in keep]
    for name, fraction in keep.items():
        layer = name.rsplit(".", 1)[0]
        prune.prune_magnitude(model, 1 - fraction, ignore=[other for other in layers if other != layer])


def _train(model, x, y, epochs, params=None, lr=1e-2, seed=0, progress=False, desc="train"):
    import torch

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr)
    model.train()
    with progress_bar(epochs * -(-len(x) // 64), desc, "batch", progress) as bar:
        for _ in range(epochs):
            for batch in torch.randperm(len(x), generator=generator).split(64):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
                bar.update()
    model.eval()


def _accuracy(model, x, y) -> float:
    import torch

    with torch.inference_mode():
        return float((model(x).argmax(1) == y).float().mean()) * 100


@dataclass
class LenetResult:
    state_dict_bytes: int
    packed_bytes: int
    accuracy: float          # trained, fp32
    packed_accuracy: float   # pruned, shared, fine-tuned, loaded back from the file
    report: object

    @property
    def ratio(self) -> float:
        return self.state_dict_bytes / self.packed_bytes


def lenet_digits(epochs: int = 40, retrain_epochs: int = 30, progress: bool = False) -> LenetResult:
    """Trains the LeNet-5-style network on digits, prunes it (per-layer rates as Deep
    Compression's LeNet-5) and retrains, ties the weights to k-means codebooks and fine-tunes
    the centroids, then packs it; accuracy is measured on the held-out quarter. `progress`:
    a bar per training, moving with every batch."""
    import torch
    from sklearn.datasets import load_digits

    from pyprune import pack

    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[: 3 * len(x) // 4], order[3 * len(x) // 4 :]
    model = _lenet()
    _train(model, x[train], y[train], epochs, progress=progress, desc="LeNet: train")
    accuracy = _accuracy(model, x[test], y[test])
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)

    from pyprune import prune

    prune_layers(model, LENET_KEEP)
    _train(model, x[train], y[train], retrain_epochs, lr=3e-3, progress=progress, desc="LeNet: retrain pruned")
    prune.make_permanent(model)
    modules = pack.tie_shared_weights(model, {k.rsplit(".", 1)[0]: b for k, b in LENET_BITS.items()})
    assert len(modules) == 4
    codebooks = [p for n, p in model.named_parameters() if n.endswith("codebook")]
    _train(model, x[train], y[train], retrain_epochs // 2, params=codebooks, lr=1e-3, progress=progress,
           desc="LeNet: fine-tune centroids")
    pack.bake_shared_weights(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lenet.pyprune"
        size = pack.save(model, path, bits=LENET_BITS, example_inputs=x[:1]).file_bytes
        loaded = pack.load(path, _lenet, fast=False)
        report = pack.inspect(path)
    return LenetResult(buffer.getbuffer().nbytes, size, accuracy, _accuracy(loaded, x[test], y[test]), report)


# ---- reference models ------------------------------------------------------------------------------


def model_breakdowns(progress: bool = False) -> dict[str, object]:
    """PackReport of each reference model (random-init weights: sizes only)."""
    import torch

    from pyprune import pack
    from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1

    factories = {"MobileNetV1": MobileNetV1, "MobileNetV2": MobileNetV2, "ShuffleNetV1": ShuffleNetV1}
    reports = {}
    with tempfile.TemporaryDirectory() as tmp, progress_bar(len(factories), "pack", "model", progress) as bar:
        for name, factory in factories.items():
            bar.set_postfix_str(name)
            torch.manual_seed(0)
            path = Path(tmp) / f"{name}.pyprune"
            pack.save(factory().eval(), path)
            reports[name] = pack.inspect(path)
            bar.update()
    return reports


def load_times(rounds: int = 5, progress: bool = False) -> dict[str, float]:
    """Seconds to load MobileNetV1: packed (to torch modules, and converted to pyprune's) and
    torch.load of its state_dict + load_state_dict."""
    import torch

    from pyprune import pack
    from pyprune.models import MobileNetV1

    torch.manual_seed(0)
    model = MobileNetV1().eval()
    x = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        packed, saved = Path(tmp) / "m.pyprune", Path(tmp) / "m.pt"
        pack.save(model, packed, example_inputs=x)
        torch.save(model.state_dict(), saved)

        def torch_load():
            MobileNetV1().load_state_dict(torch.load(saved, weights_only=True))

        timed = {
            "torch.load + load_state_dict": (torch_load, rounds),
            "pyprune.pack.load(fast=False)": (lambda: pack.load(packed, MobileNetV1, fast=False), rounds),
            "pyprune.pack.load(fast=True)": (lambda: pack.load(packed, MobileNetV1), max(1, rounds // 2)),
            "  of which MobileNetV1() construction": (MobileNetV1, rounds),
        }
        seconds = {}
        with progress_bar(len(timed), "load times", "loader", progress) as bar:
            for what, (fn, n) in timed.items():
                seconds[what] = _seconds(fn, rounds=n)
                bar.update()
        return seconds


def compressed_memory(sparsity: float = 0.9, rounds: int = 5, progress: bool = False) -> dict[str, float]:
    """MobileNetV1 magnitude-pruned to `sparsity` in its convolutions and linear layer: weight
    memory resident after load, normal against keep_compressed (coded streams + the shared
    scratch buffer), and 224x224 forward time of each (torch layers in both, 1 thread)."""
    import torch

    from pyprune import pack
    from pyprune.models import MobileNetV1

    torch.manual_seed(0)
    model = MobileNetV1().eval()
    from pyprune import prune

    prune.prune_magnitude(model, sparsity)
    prune.make_permanent(model)
    x = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.pyprune"
        pack.save(model, path)
        normal = pack.load(path, MobileNetV1, fast=False)
        compressed = pack.load(path, MobileNetV1, fast=False, keep_compressed=True)
    layers = [m for m in compressed.modules() if isinstance(m, (pack.CompressedConv2d, pack.CompressedLinear))]
    tensors = lambda m: sum(t.nbytes for t in [*m.parameters(), *m.buffers()])  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode(), progress_bar(2 * rounds, "forward times", "round", progress) as bar:
            t = median_seconds({"normal": lambda: normal(x), "compressed": lambda: compressed(x)}, rounds,
                               progress=bar.update)
    finally:
        torch.set_num_threads(threads)
    return {
        "normal: weights in memory (MB)": tensors(normal) / 1e6,
        "keep_compressed: coded weights + other tensors + scratch (MB)":
            (tensors(compressed) + sum(m.coded_bytes for m in layers) + layers[0].scratch.nbytes) / 1e6,
        "  of which the shared scratch buffer (MB)": layers[0].scratch.nbytes / 1e6,
        "normal: forward 224x224 (ms)": t["normal"] * 1e3,
        "keep_compressed: forward 224x224 (ms)": t["compressed"] * 1e3,
        "overhead (%)": (t["compressed"] / t["normal"] - 1) * 100,
    }


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m pyprune.bench.compression", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    print(format_throughput(decode_throughput(progress=True)), end="\n\n", flush=True)
    result = lenet_digits(progress=True)
    print("LeNet-5-style CNN on scikit-learn digits: pruned, weight-shared (fine-tuned), Huffman-coded")
    print(result.report)
    print(f"torch.save(state_dict) {result.state_dict_bytes} bytes -> packed file {result.packed_bytes} bytes: "
          f"{result.ratio:.1f}x smaller; accuracy {result.accuracy:.2f} % -> {result.packed_accuracy:.2f} %\n", flush=True)
    for name, report in model_breakdowns(progress=True).items():
        print(f"{name} (random-init weights: sizes only), dense")
        for stage, size in report.stages.items():
            print(f"  {stage:<22} {size:>11}  {report.stages['original fp32'] / size:6.1f}x")
    print()
    for what, seconds in load_times(progress=True).items():
        print(f"load MobileNetV1: {what:<40} {seconds * 1e3:8.1f} ms")
    print()
    for what, value in compressed_memory(progress=True).items():
        print(f"MobileNetV1 90 % sparse, {what:<62} {value:8.2f}")


if __name__ == "__main__":
    main()
