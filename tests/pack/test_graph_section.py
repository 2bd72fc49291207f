"""The graph section written: a graph's constants become the file's tensors, sharing the
state_dict's where they equal one, stored as scales of one where a batch norm was folded into
it, encoded on their own otherwise, under names nothing else in the file has. Torch-free."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from runtime_cases import constants_graph, file_bytes, folded

from pyprune import pack
from pyprune.graph import ir
from pyprune.pack import PackError
from pyprune.pack.format import parse_pack
from pyprune.pack.graph_section import _row_scale
from pyprune.pack.layers import scale_rows


def section(data):
    return parse_pack(data).metadata["graph"]


def one_node(constants, outputs=None):
    """x -> reshape -> y, with these constants as outputs too."""
    return ir.Graph([ir.TensorSpec("x", (1, 6))], outputs or ["y", *constants],
                    [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})], constants)


def test_constants_equal_to_state_dict_tensors_are_those_tensors(rng):
    graph = constants_graph(rng)
    state = {f"model.{name}": c.copy() for name, c in graph.constants.items()}
    s = section(file_bytes(graph, state))
    assert s["tensors"] == {}
    assert [c["name"] for c in s["ir"]["constants"]] == list(state)
    assert s["ir"]["outputs"] == ["flat", *state]


def test_equal_constants_become_one(rng):
    w = rng.standard_normal((16, 16), dtype=np.float32)
    graph = one_node({"a": w, "b": w.copy()})
    s = section(file_bytes(graph, {"w": w}))
    assert s["ir"]["constants"] == [{"name": "w", "shape": [16, 16]}] and s["ir"]["outputs"] == ["y", "w", "w"]


def test_folded_weights_are_scales_of_their_state_dict_tensor(rng):
    graph, state = folded(constants_graph(rng), rng, ["conv.weight", "fc.weight", "pruned.weight"])
    data = file_bytes(graph, state, lossless=True)
    own = section(data)["tensors"]
    assert {n: (r["encoding"], r["base"]) for n, r in own.items()} == {
        "conv.weight@graph": ("scaled", "conv.weight"), "fc.weight@graph": ("scaled", "fc.weight"),
        "pruned.weight@graph": ("scaled", "pruned.weight")}
    decoded = pack.graph(parse_pack(data))
    for name in ("conv.weight", "fc.weight", "pruned.weight"):  # lossless: bit for bit what folding made
        np.testing.assert_array_equal(decoded.constants[f"{name}@graph"].view(np.uint32),
                                      graph.constants[name].view(np.uint32))


def test_a_weight_seen_in_another_shape_of_its_slices_scales_its_state_dict_tensor(rng):
    """A 3-d convolution's weight as the 2-d one's (Cout, Cin * kd, kh, kw), a batch norm folded
    in or not: scaled records of the 5-d tensor, decoded bit for bit in the graph's shape."""
    w = rng.standard_normal((6, 4, 3, 3, 3), dtype=np.float32)
    scale = rng.uniform(0.5, 2, 6).astype(np.float32)
    constants = {"view": w.reshape(6, 12, 3, 3), "folded": scale_rows(w, scale).reshape(6, 12, 3, 3),
                 "other_rows": w.reshape(12, 6, 3, 3)}
    data = file_bytes(one_node(constants), {"conv.weight": w}, lossless=True)
    own = section(data)["tensors"]
    assert {n: (r["encoding"], r.get("base")) for n, r in own.items()} == {
        "view": ("scaled", "conv.weight"), "folded": ("scaled", "conv.weight"),
        "other_rows": ("raw", None)}  # other slices: a copy of its own
    decoded = pack.graph(parse_pack(data))
    for name, value in constants.items():
        np.testing.assert_array_equal(decoded.constants[name].view(np.uint32), value.view(np.uint32))


def test_a_weight_folded_twice_is_encoded_on_its_own(rng):
    w = rng.standard_normal((32, 64), dtype=np.float32)
    twice = scale_rows(scale_rows(w, rng.uniform(0.5, 2, 32).astype(np.float32)),
                       rng.uniform(0.5, 2, 32).astype(np.float32))
    s = section(file_bytes(one_node({"w": twice}), {"w": w}))
    (record,) = s["tensors"].values()  # rounding twice is one scale for almost no draw
    assert record["encoding"] == ("scaled" if _row_scale(twice, w) is not None else "huffman-shared-dense")


@settings(max_examples=200, deadline=None)
@example(rows=8, cols=5, seed=51262, scales=[0.0] * 7 + [1.1754943508222875e-38], zero_rows=0)
@given(rows=st.integers(1, 8), cols=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       scales=st.lists(st.one_of(st.floats(-1e4, 1e4, width=32), st.sampled_from([0.0, -0.0, 1e-30, 3e30])),
                       min_size=8, max_size=8),
       zero_rows=st.integers(0, 8))
def test_the_scale_of_a_folded_weight_is_found_exactly(rows, cols, seed, scales, zero_rows):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((rows, cols), dtype=np.float32)
    base[: zero_rows % (rows + 1)] = 0
    value = scale_rows(base, np.array(scales[:rows], np.float32))
    if not np.isfinite(value).all():
        return
    found = _row_scale(value, base)
    if found is None:  # only where products rounded to subnormals lose the scale: stored whole then
        assert ((value != 0) & (np.abs(value) < np.finfo(np.float32).tiny)).any()
        return
    np.testing.assert_array_equal(scale_rows(base, found), value)


def test_a_weight_that_is_no_scale_of_another_is_not_one(rng):
    base = rng.standard_normal((4, 9), dtype=np.float32)
    other = base.copy()
    other[2, 5] += 1
    assert _row_scale(other, base) is None
    assert _row_scale(np.ones((4, 9), np.float32), np.zeros((4, 9), np.float32)) is None


def test_names_never_collide_with_the_state_dicts_tensors_or_streams(rng):
    w = rng.standard_normal((16, 16), dtype=np.float32)
    state = {"w": rng.standard_normal(5, dtype=np.float32), "w@graph": rng.standard_normal(5, dtype=np.float32),
             "v:codebook": rng.standard_normal(3, dtype=np.float32)}
    graph = one_node({"w": w, "v": w * 2})
    data = file_bytes(graph, state)
    s = section(data)
    assert sorted(s["tensors"]) == ["v@graph", "w@graph2"]
    decoded = pack.graph(parse_pack(data))
    assert sorted(decoded.constants) == ["v@graph", "w@graph2"]


def test_a_graph_constant_named_like_a_node_output_of_the_state_is_kept_apart(rng):
    """A state_dict tensor equal to a constant but named like one of the graph's tensors is not
    shared under that name."""
    w = rng.standard_normal((4, 4), dtype=np.float32)
    s = section(file_bytes(one_node({"w": w}), {"y": w}))
    assert [c["name"] for c in s["ir"]["constants"]] == ["w"] and "w" in s["tensors"]


def test_save_graph_writes_what_the_reader_accepts_or_nothing(tmp_path, rng):
    graph = constants_graph(rng)
    size = pack.save_graph(graph, tmp_path / "g.pyprune")
    assert size == (tmp_path / "g.pyprune").stat().st_size
    assert pack.read(tmp_path / "g.pyprune").metadata["tensors"] == {}
    empty = ir.Graph([ir.TensorSpec("x", (0, 6))], ["y"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-2, 3, 2]})])
    with pytest.raises(PackError, match="example_inputs"):
        pack.save_graph(empty, tmp_path / "empty.pyprune")
    assert not (tmp_path / "empty.pyprune").exists()
    with pytest.raises(ir.GraphError, match="unknown tensor"):
        pack.save_graph(ir.Graph([ir.TensorSpec("x", (1, 6))], ["z"], []), tmp_path / "bad.pyprune")
