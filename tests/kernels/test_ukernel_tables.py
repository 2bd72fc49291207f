"""The operator lists (*.inc) are the only authority: exactly one production kernel per case
and ISA (a flag, not a row's place), the dispatcher runs the active ISA's or, where that ISA
has no row for the case, the next lower ISA's, and capabilities() reads what the kernels take
from the same lists. tests/kernels/test_dispatch.py runs this file again under every PYPRUNE_ISA
this CPU runs."""

import numpy as np
import pytest

import reference
from pyprune import kernels

TESTING = kernels.testing
# Per operator list: its rows, and what a case is (the kernels of one case are interchangeable).
TABLES = {
    "dwconv2d": (TESTING.dwconv2d_ukernels(), lambda u: (u["kernel_size"], u["stride"])),
    "dwconv2d_same": (TESTING.dwconv2d_same_ukernels(), lambda u: (u["kernel_size"], u["stride"])),
    "dwconv2d_taps": (TESTING.dwconv2d_taps_ukernels(), lambda u: ()),
    "gemm": (TESTING.gemm_ukernels(), lambda u: ()),
    "conv2d_3x3s2p1": (TESTING.conv2d_3x3s2p1_ukernels(), lambda u: ()),
    "conv2d_outvec": (TESTING.conv2d_outvec_ukernels(), lambda u: u["nc"]),
    "gemv": (TESTING.gemv_ukernels(), lambda u: ()),
    "spmm": (TESTING.spmm_ukernels(), lambda u: u["nr"]),
    "huffdec": (TESTING.huffdec_ukernels(), lambda u: ()),
    "vbinary": (TESTING.vbinary_ukernels(), lambda u: (u["op"], u["scalar_b"])),
    "rsum": (TESTING.rsum_ukernels(), lambda u: ()),
    "rminmax": (TESTING.rminmax_ukernels(), lambda u: u["op"]),
    "hpool": (TESTING.hpool_ukernels(), lambda u: (u["op"], u["kernel"], u["stride"])),
    "vunary": (TESTING.vunary_ukernels(), lambda u: u["kind"]),
    "vmath": (TESTING.vmath_ukernels(), lambda u: u["op"]),
    "winograd_input": (TESTING.winograd_input_ukernels(), lambda u: u["tile"]),
    "winograd_output": (TESTING.winograd_output_ukernels(), lambda u: u["tile"]),
}


def production(rows, case_of, isa, case):
    return [u for u in rows if u["isa"] == isa and case_of(u) == case and u["production"]]


def dispatched(rows, case_of, case):
    """The row the active ISA runs for a case: its own production row, else that of the next
    lower available ISA that has one (avx512 -> avx2 -> scalar)."""
    available = kernels.available_isas()  # lowest first
    for isa in reversed(available[: available.index(kernels.isa()) + 1]):
        own = production(rows, case_of, isa, case)
        if own:
            return own[0]
    raise AssertionError(f"no production row for case {case}, not even a scalar one")


def gemm_run():
    """The GEMM row the drivers run: on in-order cores (Cortex-A53 class) the active ISA's
    in-order row where it has one, else the dispatched production row."""
    rows, case_of = TABLES["gemm"]
    in_order = [u for u in rows if u["in_order"] and u["isa"] == kernels.isa()] if kernels.in_order_cores() else []
    return (in_order or [dispatched(rows, case_of, ())])[0]


@pytest.mark.parametrize("table", TABLES)
def test_exactly_one_production_kernel_per_case_and_isa(table):
    rows, case_of = TABLES[table]
    for isa in {u["isa"] for u in rows}:
        for case in {case_of(u) for u in rows if u["isa"] == isa}:
            names = [u["name"] for u in production(rows, case_of, isa, case)]
            assert len(names) == 1, f"{table}: {isa} case {case} has production rows {names}"
    scalar_cases = {case_of(u) for u in rows if u["isa"] == "scalar"}
    assert {case_of(u) for u in rows} <= scalar_cases, f"{table}: a case without a scalar reference"


def test_capabilities_are_read_from_the_lists():
    caps = kernels.capabilities()
    dw_rows, _ = TABLES["dwconv2d"]
    assert {(c.kernel_size, c.stride) for c in caps.depthwise} == {
        (u["kernel_size"], u["stride"]) for u in dw_rows if u["isa"] == "scalar"}
    assert all(c.max_padding == c.kernel_size // 2 for c in caps.depthwise)
    spmm_rows, _ = TABLES["spmm"]
    assert caps.sparse_blocks == tuple(sorted({u["nr"] for u in spmm_rows if u["isa"] == "scalar"}))
    assert caps.max_threads >= 1 and caps.max_weight_elements >= 1 << 24
    tiles = [{u["tile"] for u in TABLES[t][0] if u["isa"] == "scalar"} for t in ("winograd_input", "winograd_output")]
    assert set(caps.winograd.tiles) == tiles[0] & tiles[1] and caps.winograd.tiles == tuple(sorted(caps.winograd.tiles))


def test_every_depthwise_case_runs_its_production_kernel(rng):
    """Padding k // 2 on every side runs the active ISA's own "same"-padding kernel where it has
    one (never a lower ISA's), everything else the strip kernels."""
    rows, case_of = TABLES["dwconv2d"]
    same_rows, _ = TABLES["dwconv2d_same"]
    for case in kernels.capabilities().depthwise:
        k, s = case.kernel_size, case.stride
        for p in range(case.max_padding + 1):
            x = rng.standard_normal((1, 3, 2 * k + 15, 19), dtype=np.float32)
            w = rng.standard_normal((3, 1, k, k), dtype=np.float32)
            op = kernels.PackedDepthwiseConv2d(w, stride=s, padding=p)
            same = production(same_rows, case_of, kernels.isa(), (k, s)) if p == k // 2 else []
            strip = dispatched(rows, case_of, (k, s))["name"]
            widest = same[0]["max_width"] if same else 0
            assert op.ukernel == (strip if not same else same[0]["name"] if not widest else
                                  f"{same[0]['name']} (to {widest} columns, then {strip})")
            np.testing.assert_allclose(op(x), reference.depthwise_conv2d(x, w, stride=s, padding=p), rtol=1e-4,
                                       atol=1e-4)


def test_a_separable_convolution_names_its_strip_and_gemm_kernels():
    """The fused driver runs the depthwise half through the strip kernels, whatever the padding."""
    rows, case_of = TABLES["dwconv2d"]
    for case in kernels.capabilities().depthwise:
        k, s = case.kernel_size, case.stride
        op = kernels.PackedSeparableConv2d(np.ones((4, 1, k, k), np.float32), np.ones((8, 4, 1, 1), np.float32),
                                           stride=s, padding=k // 2)
        gemm = kernels.PackedConv2d(np.ones((8, 4, 1, 1), np.float32)).ukernel
        assert op.ukernel == f"{dispatched(rows, case_of, (k, s))['name']} + {gemm}"


def test_every_sparse_block_runs_its_production_kernel(rng):
    rows, case_of = TABLES["spmm"]
    x = rng.standard_normal((1, 5, 7, 11), dtype=np.float32)
    for block in kernels.capabilities().sparse_blocks:
        w = rng.standard_normal((2 * block + 1, 5, 1, 1), dtype=np.float32)
        op = kernels.PackedSparseConv2d(w, block=block)
        assert op.ukernel == dispatched(rows, case_of, block)["name"]
        np.testing.assert_allclose(op(x), reference.conv2d(x, w), rtol=1e-4, atol=1e-4)


def test_in_order_gemm_rows_are_one_per_isa_at_most_and_no_production_row():
    rows, _ = TABLES["gemm"]
    for isa in kernels.available_isas():
        in_order = [u for u in rows if u["isa"] == isa and u["in_order"]]
        assert len(in_order) <= 1 and not any(u["production"] for u in in_order), in_order


def test_deep_gemm_rows_are_one_per_isa_at_most_and_no_other_role():
    rows, _ = TABLES["gemm"]
    for isa in kernels.available_isas():
        deep = [u for u in rows if u["isa"] == isa and u["deep"]]
        assert len(deep) <= 1 and not any(u["production"] or u["in_order"] for u in deep), deep


@pytest.mark.parametrize("cin, k, deep", [(255, 1, False), (256, 1, True), (700, 1, True), (3, 3, False)])
def test_convolutions_of_deep_products_run_the_deep_gemm(cin, k, deep, rng):
    """From 256 input channels x taps, the active ISA's deep row where it has one (not on in-order
    cores, which keep their own row); shallower products run the row every other GEMM runs."""
    rows, _ = TABLES["gemm"]
    deep_rows = [u for u in rows if u["deep"] and u["isa"] == kernels.isa()]
    want = deep_rows[0] if deep and deep_rows and not kernels.in_order_cores() else gemm_run()
    x = rng.standard_normal((2, cin, 5, 7), dtype=np.float32)
    w = rng.standard_normal((13, cin, k, k), dtype=np.float32)
    op = kernels.PackedConv2d(w, padding=k // 2)
    assert op.ukernel == want["name"]
    tol = reference.tolerance(cin * k * k)
    np.testing.assert_allclose(op(x), reference.conv2d(x, w, padding=k // 2), rtol=tol, atol=tol)


@pytest.mark.parametrize("midr, in_order", [
    (0x410FD034, True), (0x410FD040, True), (0x410FD050, True),  # Cortex-A53, A35, A55
    (0x410FD083, False), (0x410FD0B0, False), (0x410FD460, False),  # A72, A76, A510
    (0x510FD034, False), (0x610F0220, False), (0, False),  # another implementer with A53's part, Apple, none
])
def test_the_cores_of_the_in_order_gemm_are_a53_a35_and_a55(midr, in_order):
    assert TESTING.in_order_midr(midr) is in_order


def test_dense_convolution_runs_the_production_gemm(rng):
    """...or, on in-order cores (Cortex-A53 class), the active ISA's in-order row where it has one."""
    x = rng.standard_normal((1, 3, 9, 10), dtype=np.float32)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    op = kernels.PackedConv2d(w)
    assert op.ukernel == gemm_run()["name"]
    np.testing.assert_allclose(op(x), reference.conv2d(x, w), rtol=1e-4, atol=1e-4)


def test_linear_and_one_pixel_convolutions_run_the_production_gemv(rng):
    """The linear head, and a 1x1 convolution of a 1x1 plane on the GEMM's packed blocks (lent
    as panels where they are as wide as the GEMV's, repacked elsewhere)."""
    x = rng.standard_normal((1, 21), dtype=np.float32)
    w = rng.standard_normal((19, 21), dtype=np.float32)
    text, _ = TESTING.describe_operator("linear", {}, [x, None], {1: w})
    assert f"gemv {dispatched(*TABLES['gemv'], ())['name']} " in text
    got = TESTING.run_operator("linear", {}, [x, None], {1: w})[0]
    np.testing.assert_allclose(got, x @ w.T, rtol=1e-4, atol=1e-4)
    for batch in (1, 3):
        xc = rng.standard_normal((batch, 21, 1, 1), dtype=np.float32)
        op = kernels.PackedConv2d(w[:, :, None, None])
        np.testing.assert_allclose(op(xc), reference.conv2d(xc, w[:, :, None, None]), rtol=1e-4, atol=1e-4)


def test_every_winograd_tile_runs_its_production_kernels():
    for tile in kernels.capabilities().winograd.tiles:
        op = kernels.PackedWinogradConv2d(np.ones((2, 3, 3, 3), np.float32), tile=tile)
        names = [dispatched(*TABLES["winograd_input"], tile)["name"], gemm_run()["name"],
                 dispatched(*TABLES["winograd_output"], tile)["name"]]
        assert op.ukernel == " + ".join(names)


@pytest.mark.parametrize("k,stride,padding", [(11, 1, 5), (3, 3, 1), (5, 1, 3), (3, 1, -1)])
def test_rejections_name_the_argument_and_agree_with_the_kernels(k, stride, padding):
    reason = kernels.capabilities().depthwise_rejects(k, stride, padding)
    assert reason is not None and reason.split()[0] in ("kernel", "stride", "padding")
    with pytest.raises(ValueError) as refused:
        kernels.PackedDepthwiseConv2d(np.ones((2, 1, k, k), np.float32), stride=stride, padding=padding)
    assert str(refused.value) == reason
