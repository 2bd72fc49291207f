"""save -> load round trips on the reference models (dense and pruned), file integrity checks,
hostile files, inspect (API and command line), compressed-in-memory layers."""

import copy
import math
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from packed_files import join as _join, split as _split, with_metadata as _with_metadata  # noqa: E402
from pyprune import cli, pack  # noqa: E402
from pyprune.capture.segments import EngineSegment  # noqa: E402
from pyprune.compress import share_weights  # noqa: E402
from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402
from pyprune.pack import PackError  # noqa: E402
from pyprune.pack.api import DEFAULT_BITS, _kind  # noqa: E402

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
FACTORIES = {
    "mobilenet_v1": lambda: MobileNetV1(num_classes=10, width=0.25),
    "mobilenet_v2": lambda: MobileNetV2(num_classes=10, width=0.35),
    "shufflenet_v1": lambda: ShuffleNetV1(num_classes=10, width=0.5),
}


def trained_looking(factory, sparsity=0.0, seed=0):
    """A model with non-trivial BatchNorm statistics and, if asked, magnitude-pruned weights."""
    torch.manual_seed(seed)
    model = factory().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and sparsity:
                w = m.weight
                w[w.abs() <= w.abs().flatten().kthvalue(max(1, int(sparsity * w.numel()))).values] = 0
    return model


def shared_reference(model):
    """The model with exactly the weights save() shares (same k-means, deterministic)."""
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for name, t in ref.state_dict().items():
            kind = _kind(t)
            if kind is not None:
                t.copy_(torch.from_numpy(share_weights(t.numpy(), DEFAULT_BITS[kind]).unpack()))
    return ref


@pytest.mark.parametrize("sparsity", [0.0, 0.8], ids=["dense", "pruned"])
@pytest.mark.parametrize("name", FACTORIES)
def test_save_load_same_outputs(name, sparsity, tmp_path):
    factory = FACTORIES[name]
    model = trained_looking(factory, sparsity)
    path = tmp_path / f"{name}.pyprune"
    result = pack.save(model, path, example_inputs=X)
    assert result.file_bytes == path.stat().st_size
    with torch.inference_mode():
        want = shared_reference(model)(X)
        plain = pack.load(path, factory, fast=False)
        torch.testing.assert_close(plain(X), want, rtol=1e-5, atol=1e-5)
        if sparsity:  # fast loads convert: the dense models' conversions are tests/nn's
            fast = pack.load(path, factory)
            assert any(isinstance(m, EngineSegment) for m in fast.modules())
            torch.testing.assert_close(fast(X), want, rtol=1e-3, atol=1e-3)
        compressed = pack.load(path, factory(), fast=False, keep_compressed=True)
        assert any(isinstance(m, pack.CompressedConv2d) for m in compressed.modules())
        torch.testing.assert_close(compressed(X), want, rtol=1e-5, atol=1e-5)
        fast_compressed = pack.load(path, factory, keep_compressed=True)
        torch.testing.assert_close(fast_compressed(X), want, rtol=1e-3, atol=1e-3)
    report = pack.inspect(path)
    encodings = {layer.encoding for layer in report.layers}
    assert ("huffman-shared-sparse" in encodings) == (sparsity > 0)
    stages = list(report.stages.values())
    assert stages[0] > stages[2] > 0 and stages[1] <= stages[0]


def test_sparse_nonzeros_match_the_dense_weight(tmp_path):
    model = trained_looking(FACTORIES["mobilenet_v1"], 0.9)
    pack.save(model, tmp_path / "m.pyprune", bits=5, index_bits={"conv": 4})
    f = pack.read(tmp_path / "m.pyprune")
    name = "features.5.1.0.weight"
    assert f.metadata["tensors"][name]["encoding"] == "huffman-shared-sparse"
    assert f.metadata["tensors"][name]["index_bits"] == 4
    positions, values = pack.nonzeros(f, name)
    dense = pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v1"], fast=False).state_dict()[name].flatten().numpy()
    np.testing.assert_array_equal(positions, np.flatnonzero(dense))
    np.testing.assert_array_equal(values, dense[dense != 0])
    assert len(np.unique(values)) <= 32


def test_bits_per_layer_and_raw(tmp_path):
    model = trained_looking(FACTORIES["mobilenet_v1"])
    pack.save(model, tmp_path / "m.pyprune", bits={"features.0.0.weight": None, "conv": 4, "classifier": 3})
    tensors = pack.read(tmp_path / "m.pyprune").metadata["tensors"]
    assert tensors["features.0.0.weight"]["encoding"] == "raw"
    assert tensors["features.13.1.0.weight"]["bits"] == 4
    assert tensors["features.1.1.0.weight"]["encoding"] == "raw"  # too small to share
    assert tensors["classifier.weight"]["bits"] == 3
    loaded = pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v1"], fast=False)
    assert torch.equal(loaded.features[0][0].weight, model.features[0][0].weight)
    assert len(torch.unique(loaded.classifier.weight)) <= 8


@pytest.mark.parametrize("option", ["bits", "index_bits"])
def test_a_per_layer_option_naming_nothing_of_the_model_is_refused(tmp_path, option):
    model = trained_looking(FACTORIES["mobilenet_v1"])
    with pytest.raises(ValueError, match=rf"{option} names \['classifer', 'features.99'\], which are no tensor"):
        pack.save(model, tmp_path / "m.pyprune", **{option: {"conv": 4, "classifer": 3, "features.99": 2}})
    assert not (tmp_path / "m.pyprune").exists()


@pytest.mark.parametrize("name", FACTORIES)
def test_structured_pruned_models_round_trip_through_their_channel_plan(name, tmp_path):
    from pyprune import prune

    factory = FACTORIES[name]
    pruned = prune.prune_filters(trained_looking(factory), X, 0.5)
    plan = prune.channel_plan(pruned)
    pack.save(pruned, tmp_path / "m.pyprune", example_inputs=X, channel_plan=plan)
    assert pack.read(tmp_path / "m.pyprune").metadata["channel_plan"] == plan
    with torch.inference_mode():
        want = shared_reference(pruned)(X)
        plain = pack.load(tmp_path / "m.pyprune", factory, fast=False)
        torch.testing.assert_close(plain(X), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(pack.load(tmp_path / "m.pyprune", factory)(X), want, rtol=1e-3, atol=1e-3)
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in factory().parameters())


def test_a_channel_plan_that_does_not_fit_is_a_pack_error(tmp_path):
    from pyprune import prune

    pruned = prune.prune_filters(trained_looking(FACTORIES["mobilenet_v1"]), X, 0.5)
    pack.save(pruned, tmp_path / "m.pyprune", channel_plan=prune.channel_plan(pruned))
    with pytest.raises(pack.PackError, match="channel plan"):
        pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v2"], fast=False)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """An unpruned MobileNetV1's file, and the channel plan of its filters pruned by half."""
    from pyprune import prune

    model = trained_looking(FACTORIES["mobilenet_v1"])
    plan = prune.channel_plan(prune.prune_filters(model, X, 0.5))
    path = tmp_path_factory.mktemp("planned") / "m.pyprune"
    pack.save(model, path)
    return path.read_bytes(), plan


@pytest.mark.parametrize(
    "mutate",
    [
        lambda layer: layer["out"].update(kept=[0.5]),
        lambda layer: layer["out"].update(kept="0123"),
        lambda layer: layer["out"].update(kept=[0, 10**9]),
        lambda layer: layer["out"].update(size=10**12),
        lambda layer: layer.update(out=None),
        lambda layer: layer.update(type="Linear"),
        lambda layer: layer["out"].update(kept=[]),
    ],
    ids=["float", "string", "out-of-range", "huge-size", "no-out", "wrong-type", "nothing-kept"],
)
def test_hostile_channel_plans_are_pack_errors(planned, mutate, tmp_path):
    unpruned, plan = planned
    plan = copy.deepcopy(plan)
    mutate(plan["layers"]["features.0.0"])
    data = _with_metadata(unpruned, lambda m: m.update(channel_plan=plan))
    (tmp_path / "m.pyprune").write_bytes(data)  # a file with a valid checksum
    with pytest.raises(pack.PackError, match="channel plan"):
        pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v1"], fast=False)


class Normed(torch.nn.Module):
    """Norms without a pruner of their own: the plan cuts their tensors ("params") and the sizes
    that follow them ("attributes": GroupNorm's num_channels, LayerNorm's normalized_shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, 2, 1)
        self.group = torch.nn.GroupNorm(4, 16)
        self.squeeze = torch.nn.Conv2d(16, 8, 1)
        self.layer = torch.nn.LayerNorm([8, 1, 1])
        self.excite = torch.nn.Conv2d(8, 16, 1)
        self.head = torch.nn.Conv2d(16, 4, 1)

    def forward(self, x):
        y = torch.relu(self.group(self.stem(x)))
        gate = self.excite(torch.relu(self.layer(self.squeeze(y.mean((2, 3), keepdim=True)))))
        return self.head(y * gate.sigmoid())


@pytest.fixture(scope="module")
def normed_plan():
    from pyprune import prune

    torch.manual_seed(0)
    pruned = prune.prune_filters(Normed().eval(), X, 0.5)
    plan = prune.channel_plan(pruned)
    assert {"params", "attributes"} <= {key for layer in plan["layers"].values() for key in layer}
    return pruned, plan


def test_a_plan_cutting_norms_without_a_pruner_is_saved_and_applied(tmp_path, normed_plan):
    pruned, plan = normed_plan
    pack.save(pruned, tmp_path / "m.pyprune", example_inputs=X, channel_plan=plan, lossless=True)
    loaded = pack.load(tmp_path / "m.pyprune", Normed, fast=False)
    assert loaded.group.num_channels == pruned.group.num_channels < 16
    assert loaded.layer.normalized_shape == pruned.layer.normalized_shape != (8, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(X), pruned(X))


@pytest.mark.parametrize("mutate", [
    lambda layer: layer["attributes"].update(forward=3),
    lambda layer: layer["attributes"].update(training=1),
    lambda layer: layer["attributes"].update({next(iter(layer["attributes"])): 10**9}),
    lambda layer: layer["attributes"].update({next(iter(layer["attributes"])): [1] * 9}),
    lambda layer: layer["params"].update(weight={"9": {"size": 16, "kept": [0]}}),
    lambda layer: layer["params"].update(eps={"0": {"size": 16, "kept": [0]}}),
], ids=["method", "flag", "huge-size", "long-shape", "dim-out-of-range", "not-a-tensor"])
def test_hostile_cuts_of_norms_are_pack_errors(tmp_path, normed_plan, mutate):
    pruned, plan = normed_plan
    pack.save(pruned, tmp_path / "m.pyprune", channel_plan=plan)
    plan = copy.deepcopy(plan)
    mutate(next(layer for layer in plan["layers"].values() if "attributes" in layer))
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(_with_metadata((tmp_path / "m.pyprune").read_bytes(), lambda m: m.update(channel_plan=plan)))
    with pytest.raises(pack.PackError, match="channel plan"):
        pack.load(path, Normed, fast=False)


def test_fast_load_needs_example_inputs(tmp_path):
    model = trained_looking(FACTORIES["mobilenet_v1"])
    pack.save(model, tmp_path / "m.pyprune")
    with pytest.raises(ValueError, match="needs example inputs"):
        pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v1"])
    pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v1"], example_inputs=X)


def test_save_is_atomic(tmp_path, monkeypatch):
    model = trained_looking(FACTORIES["mobilenet_v1"])
    path = tmp_path / "m.pyprune"
    pack.save(model, path)
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        pack.save(trained_looking(FACTORIES["mobilenet_v1"], seed=3), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.pyprune"]


def test_model_mismatch_is_refused(tmp_path):
    pack.save(trained_looking(FACTORIES["mobilenet_v1"]), tmp_path / "m.pyprune")
    with pytest.raises(PackError, match="file and model disagree"):
        pack.load(tmp_path / "m.pyprune", FACTORIES["mobilenet_v2"], fast=False)
    with pytest.raises(PackError, match="differs from the model's"):
        pack.load(tmp_path / "m.pyprune", lambda: MobileNetV1(num_classes=11, width=0.25), fast=False)
    with pytest.raises(TypeError, match="model must be an nn.Module or a function"):
        pack.load(tmp_path / "m.pyprune", 3)


# ---- hostile files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """A valid file small enough to mutate quickly: a pruned two-layer network."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 6 * 6, 10))
    with torch.no_grad():
        model[3].weight[torch.rand_like(model[3].weight) < 0.8] = 0
    path = tmp_path_factory.mktemp("pack") / "small.pyprune"
    pack.save(model, path, example_inputs=torch.zeros(1, 3, 8, 8), graph=False)  # the state_dict's checks
    factory = lambda: torch.nn.Sequential(  # noqa: E731
        torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 6 * 6, 10))
    return path, factory


def _load_bytes(tmp_path, data, factory):
    path = tmp_path / "bad.pyprune"
    path.write_bytes(data)
    return pack.load(path, factory, fast=False)


def _set_symbols(meta, value):
    record = meta["tensors"]["3.weight"]
    record["values"]["symbols"] = value


def _swap_shapes(meta):
    meta["tensors"]["0.weight"]["shape"] = [16, 3, 9, 1]


def _drop_gaps(meta):
    del meta["tensors"]["3.weight"]["gaps"]


HOSTILE = [
    ("empty file", lambda d: b"", "too short"),
    ("not safetensors", lambda d: b"PK\x03\x04" + bytes(100), "header length"),
    ("huge header length", lambda d: struct.pack("<Q", 1 << 62) + d[8:], "exceeds"),
    ("header past the end", lambda d: struct.pack("<Q", len(d)) + d[8:], "truncated"),
    ("garbage header", lambda d: struct.pack("<Q", 20) + b"\xff{[[[garbage\x00\x01xx" + bytes(10), "not JSON"),
    ("header not an object", lambda d: _join([1, 2], b""), "not a JSON object"),
    ("truncated body", lambda d: d[:-10], "outside the"),
    ("plain safetensors", lambda d: _join({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\x00"), "no 'pyprune.pack'"),
    ("bit flip in a stream", lambda d: d[:-5] + bytes([d[-5] ^ 0x10]) + d[-4:], "checksum mismatch"),
    ("metadata tampered", lambda d: d.replace(b'"version\\":%d' % pack.VERSION, b'"version\\":9'), "metadata checksum"),
    ("wrong version", lambda d: _with_metadata(d, lambda m: m.update(version=99)), "unsupported pack version 99"),
    ("wrong format", lambda d: _with_metadata(d, lambda m: m.update(format="other")), "format is 'other'"),
    ("too many symbols", lambda d: _with_metadata(d, lambda m: _set_symbols(m, 10**12)), "impossible in"),
    ("symbol count off", lambda d: _with_metadata(d, lambda m: _set_symbols(m, 5)), "tensor '3.weight'"),
    ("shape vs streams", lambda d: _with_metadata(d, _swap_shapes), "differs from the model's"),
    ("missing gaps", lambda d: _with_metadata(d, _drop_gaps), "field 'gaps'"),
    ("unknown encoding", lambda d: _with_metadata(d, lambda m: m["tensors"]["0.bias"].update(encoding="zip")), "unknown encoding"),
]


@pytest.mark.parametrize("change,match", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_files_raise_pack_error(small_file, tmp_path, change, match):
    path, factory = small_file
    with pytest.raises(PackError, match=match):
        _load_bytes(tmp_path, change(path.read_bytes()), factory)


def test_declared_sizes_beyond_the_file_allocate_nothing(small_file, tmp_path):
    import tracemalloc

    path, factory = small_file
    header, body = _split(path.read_bytes())
    name = next(k for k in header if k.endswith(":values"))
    header[name]["shape"] = [2**31 - 1]
    header[name]["data_offsets"] = [0, 2**31 - 1]
    tracemalloc.start()
    with pytest.raises(PackError, match="outside the"):
        _load_bytes(tmp_path, _join(header, body), factory)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20


def test_errors_are_value_errors_and_name_unreadable_paths(tmp_path):
    assert issubclass(PackError, ValueError)
    with pytest.raises(PackError, match="cannot read"):
        pack.read(tmp_path / "missing.pyprune")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutations_give_pack_error_or_a_model(small_file, tmp_path, data):
    path, factory = small_file
    blob = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "byte", "cut", "insert"]))
        i = data.draw(st.integers(0, len(blob) - 1))
        if kind == "flip":
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "byte":
            blob[i] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del blob[i:]
        else:
            blob[i:i] = data.draw(st.binary(min_size=1, max_size=16))
        if not blob:
            break
    try:
        model = _load_bytes(tmp_path, bytes(blob), factory)
    except PackError:
        return
    # Only mutations the checksums cannot see may load (e.g. header whitespace): same weights.
    want = pack.load(path, factory, fast=False).state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, want[k])


# ---- inspect --------------------------------------------------------------------------------------


def test_inspect_api_and_command_line(small_file, capsys, tmp_path):
    path, _ = small_file
    report = pack.inspect(path)
    names = [layer.name for layer in report.layers]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    linear = report.layers[2]
    assert linear.encoding == "huffman-shared-sparse" and linear.bits == 5 and linear.index_bits == 5
    assert linear.sizes.nonzeros < 0.3 * linear.sizes.parameters and linear.ratio > 10
    assert report.stages["original fp32"] == 4 * sum(layer.sizes.parameters for layer in report.layers)
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "huffman-shared-sparse" in out and "after Huffman coding" in out and "3.weight" in out
    bad = tmp_path / "bad.pyprune"
    bad.write_bytes(b"nonsense")
    assert cli.main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyprune inspect: error: ") and "\n" not in err


def test_compressed_layers_keep_only_coded_weights(tmp_path):
    factory = FACTORIES["mobilenet_v1"]
    model = trained_looking(factory, 0.8)
    pack.save(model, tmp_path / "m.pyprune")
    compressed = pack.load(tmp_path / "m.pyprune", factory, fast=False, keep_compressed=True)
    layers = [m for m in compressed.modules() if isinstance(m, (pack.CompressedConv2d, pack.CompressedLinear))]
    records = pack.read(tmp_path / "m.pyprune").metadata["tensors"]
    assert len(layers) == sum(r["encoding"] != "raw" for r in records.values()) >= 20
    dense = sum(p.numel() * 4 for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1)
    coded = sum(m.coded_bytes for m in layers)
    assert coded < dense / 6
    assert layers[0].scratch is layers[-1].scratch
    assert layers[0].scratch.nbytes == 4 * max(math.prod(m.shape) for m in layers)
