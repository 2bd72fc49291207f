"""The operator lists (*.inc) are the only authority: exactly one production kernel per case
and ISA (a flag, not a row's place), the dispatcher runs it, and capabilities() reads what the
kernels take from the same lists."""

import numpy as np
import pytest

from pyprune import kernels

TESTING = kernels.testing
# Per operator list: its rows, and what a case is (the kernels of one case are interchangeable).
TABLES = {
    "dwconv2d": (TESTING.dwconv2d_ukernels(), lambda u: (u["kernel_size"], u["stride"])),
    "gemm": (TESTING.gemm_ukernels(), lambda u: ()),
    "spmm": (TESTING.spmm_ukernels(), lambda u: u["nr"]),
    "huffdec": (TESTING.huffdec_ukernels(), lambda u: ()),
    "vbinary": (TESTING.vbinary_ukernels(), lambda u: (u["op"], u["scalar_b"])),
    "rsum": (TESTING.rsum_ukernels(), lambda u: ()),
    "hpool": (TESTING.hpool_ukernels(), lambda u: (u["op"], u["kernel"], u["stride"])),
    "vunary": (TESTING.vunary_ukernels(), lambda u: u["kind"]),
    "winograd_input": (TESTING.winograd_input_ukernels(), lambda u: u["tile"]),
    "winograd_output": (TESTING.winograd_output_ukernels(), lambda u: u["tile"]),
}


def production(rows, case_of, isa, case):
    return [u for u in rows if u["isa"] == isa and case_of(u) == case and u["production"]]


def dispatched(rows, case_of, case):
    """The row the active ISA runs for a case: its own production row, else the scalar one."""
    own = production(rows, case_of, kernels.isa(), case)
    return (own or production(rows, case_of, "scalar", case))[0]


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


def test_every_depthwise_case_runs_its_production_kernel():
    rows, case_of = TABLES["dwconv2d"]
    for case in kernels.capabilities().depthwise:
        k, s = case.kernel_size, case.stride
        op = kernels.PackedDepthwiseConv2d(np.ones((2, 1, k, k), np.float32), stride=s, padding=case.max_padding)
        assert op.ukernel == dispatched(rows, case_of, (k, s))["name"]


def test_every_sparse_block_runs_its_production_kernel():
    rows, case_of = TABLES["spmm"]
    for block in kernels.capabilities().sparse_blocks:
        op = kernels.PackedSparseConv2d(np.ones((2 * block, 3, 1, 1), np.float32), block=block)
        assert op.ukernel == dispatched(rows, case_of, block)["name"]


def test_dense_convolution_runs_the_production_gemm():
    rows, case_of = TABLES["gemm"]
    assert kernels.PackedConv2d(np.ones((4, 3, 3, 3), np.float32)).ukernel == dispatched(rows, case_of, ())["name"]


def test_every_winograd_tile_runs_its_production_kernels():
    for tile in kernels.capabilities().winograd.tiles:
        op = kernels.PackedWinogradConv2d(np.ones((2, 3, 3, 3), np.float32), tile=tile)
        names = [dispatched(*TABLES["winograd_input"], tile)["name"], dispatched(*TABLES["gemm"], ())["name"],
                 dispatched(*TABLES["winograd_output"], tile)["name"]]
        assert op.ukernel == " + ".join(names)


@pytest.mark.parametrize("k,stride,padding", [(7, 1, 3), (3, 3, 1), (5, 1, 3), (3, 1, -1)])
def test_rejections_name_the_argument_and_agree_with_the_kernels(k, stride, padding):
    reason = kernels.capabilities().depthwise_rejects(k, stride, padding)
    assert reason is not None and reason.split()[0] in ("kernel", "stride", "padding")
    with pytest.raises(ValueError) as refused:
        kernels.PackedDepthwiseConv2d(np.ones((2, 1, k, k), np.float32), stride=stride, padding=padding)
    assert str(refused.value) == reason
