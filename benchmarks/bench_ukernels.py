"""Every row of every operator list (*.inc) timed against its siblings, 1 thread, on shapes
derived from the rows' tiles: a new variant is benchmarked by adding its row, nothing else.

    pytest benchmarks/bench_ukernels.py --benchmark-group-by=group   # one table per case
    pytest benchmarks/bench_ukernels.py --benchmark-disable          # correctness only

Each group holds the rows of one case (a depthwise kernel size and stride, a sparse block
size, ...) on one shape: a realistic layer, and a ragged one three tiles and a bit large.
Before timing, every row's output is checked against the case's scalar reference.
"""

import math

import numpy as np
import pytest

from pyprune import kernels
from pyprune.bench.compression import index_stream
from pyprune.compress.huffman import HuffmanCode, encode

TESTING = kernels.testing
AVAILABLE = kernels.available_isas()


def rows_by_case(table, case_of):
    cases = {}
    for row in table:
        cases.setdefault(case_of(row), []).append(row)
    return cases


def params(cases, shapes_of):
    """(case, shape, row) for every row of every case on every shape of the case."""
    return [pytest.param(case, shape, row, id=f"{row['name']}-{'x'.join(map(str, shape))}")
            for case, rows in cases.items() for shape in shapes_of(case, rows) for row in rows]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = kernels.get_num_threads()
    kernels.set_num_threads(1)
    yield
    kernels.set_num_threads(before)


def run(benchmark, row, group, fn, check, unit, work):
    """Checks, then times fn; extra_info gets `work` / median seconds in `unit`."""
    check()
    benchmark.group = group
    benchmark.extra_info.update(isa=row["isa"], production=row["production"])
    benchmark(fn)
    if benchmark.stats is not None:  # None with --benchmark-disable
        benchmark.extra_info[unit] = work / benchmark.stats.stats.median


def available(row):
    if row["isa"] not in AVAILABLE:
        pytest.skip(f"{row['isa']} not available on this CPU")
    return row["name"]


def reference_row(rows):
    return next(r for r in rows if r["isa"] == "scalar" and r["production"])


# ---- depthwise ----------------------------------------------------------------------------------

# The strip kernels and the "same"-padding ones of a kernel size and stride in one group (the
# shapes have padding k // 2, which both take).
DWCONV = rows_by_case(TESTING.dwconv2d_ukernels() + TESTING.dwconv2d_same_ukernels(),
                      lambda r: (r["kernel_size"], r["stride"]))


def dwconv_shapes(case, rows):
    tile_rows = max(r["tile_rows"] for r in rows)
    tile_cols = max(r["tile_cols"] for r in rows)
    size = 56 * case[1]
    return [(64, size, size), (16, 3 * tile_rows * case[1] + 1, 3 * tile_cols * case[1] + 3)]


@pytest.mark.parametrize("case,shape,row", params(DWCONV, dwconv_shapes))
def test_dwconv2d(benchmark, case, shape, row):
    (k, stride), (c, h, w) = case, shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    op = kernels.PackedDepthwiseConv2d(weight, stride=stride, padding=k // 2, ukernel=available(row))
    reference = kernels.PackedDepthwiseConv2d(weight, stride=stride, padding=k // 2,
                                              ukernel=reference_row(DWCONV[case])["name"])
    out = reference(x)
    check = lambda: np.testing.assert_allclose(op(x), out, rtol=1e-4, atol=1e-4)  # noqa: E731
    run(benchmark, row, f"dwconv2d {k}x{k} s{stride} {c}x{h}x{w}", lambda: op(x, out=out), check, "GFLOPS",
        2e-9 * out.size * k * k)


# ---- GEMM (1x1 convolution) ---------------------------------------------------------------------

GEMM = rows_by_case(TESTING.gemm_ukernels(), lambda r: ())


def gemm_shapes(case, rows):
    mr, nr = max(r["mr"] for r in rows), max(r["nr"] for r in rows)
    return [(256, 256, 28 * 28), (3 * mr + 1, 61, 3 * nr + 5)]


@pytest.mark.parametrize("case,shape,row", params(GEMM, gemm_shapes))
def test_gemm(benchmark, case, shape, row):
    cout, cin, pixels = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, cin, 1, pixels), dtype=np.float32)
    weight = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
    op = kernels.PackedConv2d(weight, ukernel=available(row))
    reference = kernels.PackedConv2d(weight, ukernel=reference_row(GEMM[case])["name"])
    out = reference(x)
    check = lambda: np.testing.assert_allclose(op(x), out, rtol=1e-4, atol=1e-3)  # noqa: E731
    run(benchmark, row, f"gemm {cout}x{cin}x{pixels}", lambda: op(x, out=out), check, "GFLOPS",
        2e-9 * cout * cin * pixels)


# ---- SpMM (sparse 1x1 convolution) --------------------------------------------------------------

SPMM = rows_by_case(TESTING.spmm_ukernels(), lambda r: r["nr"])
SPARSITY = 0.9


def spmm_shapes(case, rows):
    mr = max(r["mr"] for r in rows)
    return [(256, 256, 28 * 28), (3 * case + 1, 61, 3 * mr + 5)]


@pytest.mark.parametrize("case,shape,row", params(SPMM, spmm_shapes))
def test_spmm(benchmark, case, shape, row):
    block, (cout, cin, pixels) = case, shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, cin, 1, pixels), dtype=np.float32)
    keep = np.repeat(rng.random((math.ceil(cout / block), cin)) >= SPARSITY, block, axis=0)[:cout]
    weight = (rng.standard_normal((cout, cin), dtype=np.float32) * keep).reshape(cout, cin, 1, 1)
    op = kernels.PackedSparseConv2d(weight, block=block, ukernel=available(row))
    reference = kernels.PackedSparseConv2d(weight, block=block, ukernel=reference_row(SPMM[case])["name"])
    out = reference(x)
    check = lambda: np.testing.assert_allclose(op(x), out, rtol=1e-4, atol=1e-4)  # noqa: E731
    run(benchmark, row, f"spmm block {block} {cout}x{cin}x{pixels} {SPARSITY:.0%}", lambda: op(x, out=out), check,
        "GFLOPS", 2e-9 * reference.stored_values * pixels)


# ---- Huffman decoding ---------------------------------------------------------------------------

HUFFDEC = rows_by_case(TESTING.huffdec_ukernels(), lambda r: ())


@pytest.mark.parametrize("case,shape,row", params(HUFFDEC, lambda case, rows: [(1_000_000,)]))
def test_huffdec(benchmark, case, shape, row):
    symbols = index_stream(shape[0])
    code = HuffmanCode.for_symbols(symbols)
    block, lengths = np.frombuffer(encode(symbols, code), np.uint8), np.asarray(code.lengths, np.uint8)
    name = available(row)
    decode = lambda: kernels.huffman_decode(block, symbols.size, lengths, name)  # noqa: E731
    check = lambda: np.testing.assert_array_equal(decode(), symbols)  # noqa: E731
    run(benchmark, row, f"huffdec {symbols.size} symbols, 3.5 bits entropy", decode, check, "M symbols/s",
        symbols.size / 1e6)


# ---- activations (vunary) -----------------------------------------------------------------------

VUNARY = rows_by_case(TESTING.vunary_ukernels(), lambda r: r["kind"])


@pytest.mark.parametrize("case,shape,row", params(VUNARY, lambda case, rows: [(1 << 20,)]))
def test_vunary(benchmark, case, shape, row):
    kind, n = case, shape[0]
    x = (np.random.default_rng(0).standard_normal(n) * 4).astype(np.float32)
    lo, hi, alpha = (0.0, 6.0, 0.01)
    activate = lambda name, out=None: kernels._core.activation(x, kind, lo, hi, alpha, out, name)  # noqa: E731
    out = activate(reference_row(VUNARY[case])["name"])
    name = available(row)
    # gelu_tanh's relative error grows with |u| where x < -1 (its bound in f32-vunary.inc)
    u = 1.5957691 * (x + 0.044715 * x.astype(np.float64) ** 3) if kind == "gelu_tanh" else 0.0
    bound = (1e-6 + 3 * 2.0**-24 * np.abs(u)) * np.abs(out) + 1e-30
    check = lambda: np.testing.assert_array_less(np.abs(activate(name) - out), bound)  # noqa: E731
    run(benchmark, row, f"vunary {kind} {n}", lambda: activate(name, out), check, "M elements/s", n / 1e6)


@pytest.mark.parametrize("kind", sorted(VUNARY))
def test_vunary_torch(benchmark, kind):
    """torch's function on the same input, in the kind's group (the peer of the rows)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fn = {"clamp": lambda t: t.clamp(0, 6), "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "hardswish": F.hardswish,
          "hardsigmoid": F.hardsigmoid, "silu": F.silu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu,
          "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "mish": F.mish, "elu": lambda t: F.elu(t, 0.01)}[kind]
    n = 1 << 20
    x = torch.from_numpy((np.random.default_rng(0).standard_normal(n) * 4).astype(np.float32))
    run_torch(benchmark, f"vunary {kind} {n}", lambda: fn(x), n)


def run_torch(benchmark, group, fn, n):
    """Times torch's fn over n elements on one thread, in `group` (the rows' peer)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(benchmark, {"isa": "torch", "production": False}, group, fn, lambda: None, "M elements/s", n / 1e6)
    finally:
        torch.set_num_threads(threads)


# ---- elementwise math (vmath) -------------------------------------------------------------------

VMATH = rows_by_case(TESTING.vmath_ukernels(), lambda r: r["op"])


def vmath_input(op, n):
    """Where the function is defined: the positives for log, above -1 for log1p."""
    x = (np.random.default_rng(0).standard_normal(n) * 4).astype(np.float32)
    return np.abs(x) + np.float32(-0.5 if op == "log1p" else 0.0) if op.startswith("log") else x


@pytest.mark.parametrize("case,shape,row", params(VMATH, lambda case, rows: [(1 << 20,)]))
def test_vmath(benchmark, case, shape, row):
    n = shape[0]
    x = vmath_input(case, n)
    want = TESTING.vmath(reference_row(VMATH[case])["name"], x)
    name = available(row)
    check = lambda: np.testing.assert_allclose(TESTING.vmath(name, x), want, rtol=3e-7)  # noqa: E731
    run(benchmark, row, f"vmath {case} {n}", lambda: TESTING.vmath(name, x), check, "M elements/s", n / 1e6)


@pytest.mark.parametrize("op", sorted(VMATH))
def test_vmath_torch(benchmark, op):
    """torch's function on the same input, in the op's group (the peer of the rows)."""
    torch = pytest.importorskip("torch")
    n = 1 << 20
    x, fn = torch.from_numpy(vmath_input(op, n)), getattr(torch, op)
    run_torch(benchmark, f"vmath {op} {n}", lambda: fn(x), n)


# ---- fused epilogues ----------------------------------------------------------------------------

EPILOGUES = {
    "bare": dict(activation=None, residual=False),
    "relu (in the kernel)": dict(activation="relu", residual=False),
    "silu (epilogue)": dict(activation="silu", residual=False),
    "residual + silu (epilogue)": dict(activation="silu", residual=True),
}


@pytest.mark.parametrize("epilogue", [*EPILOGUES, "silu after the layer (unfused)"])
def test_pointwise_epilogue(benchmark, epilogue):
    """A MobileNetV1 pointwise layer (128 -> 128, 56x56) with each epilogue, against the bare
    kernel and against the same activation as a separate pass over the output."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 128, 56, 56), dtype=np.float32)
    weight = rng.standard_normal((128, 128, 1, 1), dtype=np.float32)
    residual = rng.standard_normal((1, 128, 56, 56), dtype=np.float32)
    op = kernels.PackedConv2d(weight)
    out = op(x)
    if epilogue in EPILOGUES:
        spec = EPILOGUES[epilogue]
        fn = lambda: op(x, spec["activation"], out, residual if spec["residual"] else None)  # noqa: E731
    else:
        fn = lambda: kernels.activation(op(x, None, out), "silu", out=out)  # noqa: E731
    want = kernels.activation(op(x) + (residual if "residual" in epilogue else 0), "silu")
    check = (lambda: None) if epilogue in ("bare", "relu (in the kernel)") else \
        (lambda: np.testing.assert_allclose(fn(), want, rtol=1e-5, atol=1e-5))
    run(benchmark, {"isa": kernels.isa(), "production": True}, "pointwise 128x128x56x56 epilogue", fn, check, "GFLOPS",
        2e-9 * 128 * 128 * 56 * 56)
