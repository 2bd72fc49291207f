"""pack.save stores the model's inference graph: files that pyprune.runtime runs in a process
where torch cannot be imported, their constants shared with the state_dict's tensors; models
that cannot be captured whole get a file without a graph and the reason."""

import collections
import json
import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
import zoo  # noqa: E402
from isolated import run_python  # noqa: E402
from packed_files import without_graph  # noqa: E402
from small_nets import Labels, Pixels, Squeezed, Tokens, hook_weight_norm  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

import pyprune  # noqa: E402
from pyprune import pack, runtime  # noqa: E402
from pyprune.models import MobileNetV2  # noqa: E402
from pyprune.pack import PackError  # noqa: E402


def mobilenet_v2():
    torch.manual_seed(0)
    return zoo.randomize_batchnorms(MobileNetV2(num_classes=10, width=0.5), 0), (3, 32, 32)


# MobileNetV2 (depthwise, ReLU6, residuals), ResNet-18 (residuals), MobileNetV3 (Hardswish,
# squeeze-excitation with Hardsigmoid), EfficientNet (SiLU, squeeze-excitation, stochastic
# depth), YOLOv8 (C2f: chunk -> list -> concat, SPPF, nearest upsampling + concat), R(2+1)D
# (3-d convolutions, batch norms and pooling of video clips), YOLOv10's one-to-one head (topk,
# gather), deformable attention (grid_sample), Sequencer2D (bidirectional LSTMs), DeepLabV3 (a
# dict of outputs), RetinaNet (GroupNorm heads shared by the pyramid's levels) and CRNN (a
# bidirectional GRU over the feature map's columns).
MODELS = {"mobilenet_v2": mobilenet_v2, **{name: (lambda name=name: zoo.build(name))
                                             for name in ("resnet18", "mobilenet_v3", "efficientnet", "yolov8",
                                                          "r2plus1d", "one_to_one_detector", "deformable_sampler",
                                                          "sequencer", "deeplab_v3", "retinanet", "crnn")}}
BATCHES = (1, 3)

# Blocks every import of torch: the runtime must not need it.
NO_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is not installed here")

for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
    del sys.modules[name]
sys.meta_path.insert(0, NoTorch())
"""


def outputs(model, x):
    with torch.inference_mode():
        y = model(x)
    return [t.numpy() for t in tree_flatten(y)[0]]  # a dict's values in key order, as the runtime's


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """{name: (path, SaveResult)}, each file beside its inputs (NAME.BATCH.npy) and the outputs
    of the torch model holding the file's weights (NAME.BATCH.npz)."""
    folder = tmp_path_factory.mktemp("packed")
    files = {}
    for name, build in MODELS.items():
        model, shape = build()
        generator = torch.Generator().manual_seed(1)
        xs = {b: torch.randn((b, *shape), generator=generator) for b in BATCHES}
        path = folder / f"{name}.pyprune"
        saved = pack.save(model, path, example_inputs=xs[1])
        decoded = pack.load(path, lambda: build()[0], fast=False)  # torch, the file's weights
        for b, x in xs.items():
            np.save(folder / f"{name}.{b}.npy", x.numpy())
            np.savez(folder / f"{name}.{b}.npz", *outputs(decoded, x))
        files[name] = (path, saved)
    return files


@pytest.fixture(scope="module")
def without_torch(packed):
    """Runs every file with pyprune.runtime in a fresh interpreter that cannot import torch,
    saving the outputs beside each (NAME.BATCH.got.npz)."""
    paths = [str(path) for path, _ in packed.values()]
    result = run_python(NO_TORCH + f"""
import json
import numpy as np
from pyprune import runtime
for path in {paths!r}:
    net = runtime.load(path)
    for batch in {BATCHES!r}:
        stem = path.removesuffix(".pyprune")
        np.savez(f"{{stem}}.{{batch}}.got.npz", *net.run(np.load(f"{{stem}}.{{batch}}.npy")))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
""", timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_blocker_really_blocks_torch():
    result = run_python(NO_TORCH + "import torch\n")
    assert result.returncode != 0 and "torch is not installed here" in result.stderr


@pytest.mark.parametrize("name", list(MODELS))
def test_the_file_runs_without_torch_as_torch_runs_its_weights(name, packed, without_torch):
    assert without_torch == []  # nothing of torch was imported
    path, saved = packed[name]
    assert saved.runs_without_torch and saved.no_graph is None
    stem = str(path).removesuffix(".pyprune")
    for batch in BATCHES:
        want, got = np.load(f"{stem}.{batch}.npz"), np.load(f"{stem}.{batch}.got.npz")
        assert len(got.files) == len(want.files)
        for key in want.files:
            w, g = want[key], got[key]
            assert g.shape == w.shape, (name, batch, key)
            scale = float(np.abs(w).max())
            assert np.abs(g - w).max() <= 1e-4 * scale, (name, batch, key, np.abs(g - w).max(), scale)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_graph_error_is_measured_and_stored(name, packed):
    path, saved = packed[name]
    stored = pack.read(path).metadata["graph"]["output_error"]
    assert stored == saved.graph_error.to_metadata()
    # The graph runs the packed weights: as far from the original as the packed model in torch.
    assert saved.graph_error.max_abs <= saved.output_error.max_abs + 1e-4 * saved.output_error.output_range
    assert "runs without torch" in str(saved)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_graph_shares_the_weights_of_the_state_dict(name, packed):
    path, saved = packed[name]
    file = pack.read(path)
    own = file.metadata["graph"]["tensors"]
    weights = {n: r for n, r in file.metadata["tensors"].items() if len(r["shape"]) >= 2}
    # Every weight of the graph is a state_dict tensor or one scaled per output channel (a folded
    # batch norm): the graph's own other tensors are vectors (biases) and constants the forward
    # computes (the detector's anchor grid), none of a weight's shape.
    computed = {n for n, r in own.items() if r["encoding"] != "scaled" and len(r["shape"]) >= 2}
    assert weights
    assert not {tuple(own[n]["shape"]) for n in computed} & {tuple(r["shape"]) for r in weights.values()}, own
    # So the file grows by the graph's JSON and those vectors (a folded batch norm's scale and
    # shift: fewer bytes than the batch norm's own four vectors), not by a second copy of weights.
    own_bytes = sum(a.nbytes for s, a in file.tensors.items() if s.split(":")[0] in own.keys() - computed)
    vector_bytes = sum(file.tensors[n].nbytes for n, r in file.metadata["tensors"].items() if len(r["shape"]) == 1)
    assert own_bytes <= 0.75 * vector_bytes, (own_bytes, vector_bytes)
    own_streams = sum(a.nbytes for s, a in file.tensors.items() if s.split(":")[0] in own)
    graph_json = len(json.dumps(file.metadata["graph"]))
    without = len(without_graph(path.read_bytes()))  # (its JSON spaced out: a few bytes more)
    assert saved.file_bytes - without <= 1.1 * (graph_json + own_streams), (saved.file_bytes, without, graph_json)


def test_graph_false_writes_the_file_as_it_was_without_the_graph(tmp_path, packed):
    path, saved = packed["mobilenet_v3"]
    model, shape = zoo.build("mobilenet_v3")
    skipped = pack.save(model, tmp_path / "m.pyprune", example_inputs=torch.from_numpy(
        np.load(str(path).removesuffix(".pyprune") + ".1.npy")), graph=False)
    stripped = tmp_path / "stripped.pyprune"
    stripped.write_bytes(without_graph(path.read_bytes()))
    want, got = pack.read(stripped), pack.read(tmp_path / "m.pyprune")
    assert got.metadata == want.metadata and got.tensors.keys() == want.tensors.keys()
    assert all(np.array_equal(got.tensors[k], want.tensors[k]) for k in want.tensors)
    assert skipped.no_graph == "not asked for (graph=False)" and "needs torch" in str(skipped)


def test_a_model_not_captured_whole_gets_a_file_without_a_graph_and_the_reason(tmp_path):
    model, shape = zoo.build("detector")
    x = torch.randn(1, *shape)
    saved = pack.save(model, tmp_path / "d.pyprune", example_inputs=x)
    assert not saved.runs_without_torch and saved.graph_error is None
    assert saved.no_graph and "needs torch" in str(saved) and saved.no_graph in str(saved)
    assert pack.read(tmp_path / "d.pyprune").metadata["graph"] is None
    assert saved.output_error is not None  # the state_dict is packed and measured all the same
    with pytest.raises(PackError, match="holds no graph"):
        runtime.load(tmp_path / "d.pyprune")
    with pytest.raises(ValueError, match="graph cannot be stored: .+") as demanded:
        pack.save(model, tmp_path / "demanded.pyprune", example_inputs=x, graph=True)
    assert saved.no_graph in str(demanded.value)
    assert not (tmp_path / "demanded.pyprune").exists()


class NearTies(nn.Module):
    """Rows of a table picked by the top scores, where the scores are two equal sums added in
    other orders: rounding alone ranks them, as a random-init detector's nearly tied query
    scores (RT-DETR's top 300 of 2,100)."""

    def __init__(self, width=2048, candidates=64):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(candidates, width) * 100)
        self.table = nn.Parameter(torch.randn(candidates, 8))

    def forward(self, x):
        scores = x @ self.weight.T - x.flip(-1) @ self.weight.flip(-1).T
        return self.table[scores[0].topk(8).indices]


def test_a_graph_choosing_among_near_ties_is_kept_where_the_model_rounds_as_far(tmp_path, monkeypatch):
    from pyprune.pack import captured

    torch.manual_seed(0)
    model, x = NearTies().eval(), torch.randn(1, 2048) * 100
    saved = pack.save(model, tmp_path / "t.pyprune", example_inputs=x, lossless=True)
    assert saved.runs_without_torch, saved.no_graph
    # the rows it picks are others than torch's, as the float32 model's are others than float64's
    assert saved.graph_error.relative > captured.GRAPH_TOLERANCE
    assert 0 < saved.graph_rounding <= 10 and "near-ties" in str(saved)
    (rows,) = runtime.load(tmp_path / "t.pyprune").run(x.numpy())
    assert rows.shape == (8, 8) and all(any(np.array_equal(r, t) for t in model.table.detach().numpy()) for r in rows)
    # the same outputs a hundred times over are not rounding
    exact = captured.file_graph_outputs
    monkeypatch.setattr(captured, "file_graph_outputs", lambda *a: [y * 100 for y in exact(*a)])
    far = pack.save(model, tmp_path / "f.pyprune", example_inputs=x, lossless=True)
    assert not far.runs_without_torch and far.graph_rounding is None
    assert re.search(r"differ from the packed model's .+, \S+x the model's own float32 rounding", far.no_graph)


def test_without_example_inputs_there_is_no_graph_saying_why(tmp_path):
    model, shape = zoo.build("mobilenet_v3")
    blind = pack.save(model, tmp_path / "b.pyprune")
    assert "without example inputs" in blind.no_graph
    assert pack.read(tmp_path / "b.pyprune").metadata["graph"] is None
    with pytest.raises(ValueError, match="graph=True needs example_inputs"):
        pack.save(model, tmp_path / "c.pyprune", graph=True)
    for wrong in ("yes", 1, None, "AUTO"):
        with pytest.raises(ValueError, match="graph must be True, False or 'auto'"):
            pack.save(model, tmp_path / "c.pyprune", example_inputs=torch.randn(1, *shape), graph=wrong)
    assert not (tmp_path / "c.pyprune").exists()


def test_integer_outputs_are_stored_as_their_dtype_and_come_in_it(tmp_path):
    model, x = Labels().eval(), torch.randn(2, 4, 6, 5)
    saved = pack.save(model, tmp_path / "labels.pyprune", example_inputs=x, graph=True)
    assert saved.runs_without_torch
    assert pack.read(tmp_path / "labels.pyprune").metadata["graph"]["ir"]["output_dtypes"] == ["float32", "int64",
                                                                                                   "int32"]
    net = runtime.load(tmp_path / "labels.pyprune")
    y = torch.randn(3, 4, 6, 5)
    with torch.no_grad():
        want = model(y)
    got = net(y.numpy())
    assert [g.dtype for g in got] == [np.float32, np.int64, np.int32]
    np.testing.assert_allclose(got[0], want[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[1], want[1].numpy())
    np.testing.assert_array_equal(got[2], want[2].numpy())


def test_integer_inputs_are_given_in_their_dtype(tmp_path):
    """A model that takes uint8 pixels or int64 token ids runs from its file on the integers as
    they come (the engine holds them as float32, exact): other dtypes are refused, token ids
    past float32's exact integers too; a sequence of another length than the example's runs
    (the embedding's lookup takes the ids' shape, whatever it is)."""
    pixels, image = Pixels().eval(), torch.randint(0, 256, (2, 12, 10, 3), dtype=torch.uint8)
    tokens, ids = Tokens().eval(), torch.randint(0, 50, (2, 7))
    for model, x, dtype in ((pixels, image, "uint8"), (tokens, ids, "int64")):
        saved = pack.save(model, tmp_path / "i.pyprune", example_inputs=x, graph=True, lossless=True)
        assert saved.runs_without_torch
        assert pack.read(tmp_path / "i.pyprune").metadata["graph"]["ir"]["input_dtypes"] == [dtype]
        net = runtime.load(tmp_path / "i.pyprune")
        assert net.input_dtypes == [dtype]
        other = torch.cat([x, x.flip(0)])  # another batch
        with torch.no_grad():
            want = model(other).numpy()
        np.testing.assert_allclose(net(other.numpy()), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(net(other.numpy().astype(np.float32)), want, rtol=1e-5, atol=1e-5)
        with pytest.raises(TypeError, match=f"input '.*' must have dtype {dtype}, got int16"):
            net(other.numpy().astype(np.int16))
    assert not net.fixed_sizes  # the token model: at any length
    longer = torch.randint(0, 50, (2, 19))
    with torch.no_grad():
        np.testing.assert_allclose(net(longer.numpy()), tokens(longer).numpy(), rtol=1e-5, atol=1e-5)
    fast = pack.load(tmp_path / "i.pyprune", Tokens, fast=True)  # converted on inputs of the file's dtypes
    with torch.no_grad():
        torch.testing.assert_close(fast(ids), tokens(ids), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="integers past 2\\^24"):
        net(np.full((1, 7), 2**25, np.int64))


class Energy(nn.Module):
    """One value for the whole batch: a sum of squared deviations."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return (y - y.mean()).pow(2).sum() * 1e3


def test_a_model_returning_one_value_keeps_its_graph(tmp_path):
    """Its outputs have no range: the graph's error is measured against their magnitude."""
    saved = pack.save(Energy().eval(), tmp_path / "e.pyprune", example_inputs=torch.randn(2, 3, 8, 8), graph=True)
    assert saved.runs_without_torch and saved.graph_error.output_range > 0
    assert saved.graph_error.relative <= 1e-3


class PaddedTokens(nn.Module):
    """Attention over the pixels of a feature map with a key padding mask given as an input (a
    boolean tensor, as DETR and transformers take theirs), the mask also inverted and used as
    numbers."""

    def __init__(self):
        super().__init__()
        self.conv, self.attention = nn.Conv2d(3, 8, 3, padding=1), nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, padding):
        tokens = self.conv(x).flatten(2).transpose(1, 2)
        y, _ = self.attention(tokens, tokens, tokens, key_padding_mask=padding)
        kept = (~padding).unsqueeze(-1)
        return (y * kept).sum(1) / kept.sum(1), y.masked_fill(padding.unsqueeze(-1), 0.0).amax(1)


def _padding(n, kept):
    mask = torch.zeros(n, 16, dtype=torch.bool)
    mask[:, kept:] = True
    return mask


def test_a_boolean_mask_input_is_a_condition_on_the_engine(tmp_path):
    model, x = PaddedTokens().eval(), torch.randn(2, 3, 4, 4)
    fast = pyprune.convert(model, (x, _padding(2, 12)))
    assert {node.runs for node in fast.conversion_report.nodes} == {"pyprune"}
    saved = pack.save(model, tmp_path / "masked.pyprune", example_inputs=(x, _padding(2, 12)), lossless=True)
    assert saved.runs_without_torch, saved.no_graph
    net = runtime.load(tmp_path / "masked.pyprune")
    assert net.input_dtypes == ["float32", "bool"]
    other, mask = torch.randn(3, 3, 4, 4), _padding(3, 5)  # another batch, another mask
    with torch.no_grad():
        want = model(other, mask)
        for got, expected in zip(fast(other, mask), want):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for got, expected in zip(net(other.numpy(), mask.numpy()), want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="input '.*' must have dtype bool, got int64"):
        net(other.numpy(), mask.numpy().astype(np.int64))


def test_a_boolean_input_a_torch_call_reads_is_cast_back_and_said_so():
    class HalfMask(nn.Module):
        def forward(self, x, mask):
            return x + mask.half().float()  # float16 is torch's: the mask goes to torch as a bool tensor

    model, mask = HalfMask(), _padding(2, 12)
    fast = pyprune.convert(model, (torch.randn(2, 16), mask))
    reasons = {node.was: node.why for node in fast.conversion_report.nodes if node.runs == "torch"}
    assert reasons["gt"] == "a condition read by a torch call", reasons
    x, other = torch.randn(3, 16), _padding(3, 5)
    with torch.no_grad():
        torch.testing.assert_close(fast(x, other), model(x, other))


def test_a_file_of_uint8_pixels_runs_without_torch(tmp_path):
    model, image = Pixels().eval(), torch.randint(0, 256, (3, 12, 10, 3), dtype=torch.uint8)
    pack.save(model, tmp_path / "p.pyprune", example_inputs=image, graph=True, lossless=True)
    np.save(tmp_path / "image.npy", image.numpy())
    result = run_python(NO_TORCH + f"""
import numpy as np
from pyprune import runtime
net = runtime.load({str(tmp_path / "p.pyprune")!r})
np.save({str(tmp_path / "got.npy")!r}, net(np.load({str(tmp_path / "image.npy")!r})))
""")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), outputs(model, image)[0], rtol=1e-5, atol=1e-5)


def test_saving_the_graph_leaves_the_model_as_it_was(tmp_path):
    model, shape = mobilenet_v2()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    saved = pack.save(model, tmp_path / "m.pyprune", example_inputs=torch.randn(2, *shape))
    assert saved.runs_without_torch
    assert all(m.training for m in model.modules())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_a_lossless_file_runs_the_original_model(tmp_path):
    model, shape = zoo.build("yolov8")
    x = torch.randn(2, *shape)
    saved = pack.save(model, tmp_path / "y.pyprune", example_inputs=x, lossless=True)
    assert saved.output_error.max_abs == 0
    got = runtime.load(tmp_path / "y.pyprune").run(x.numpy())
    for w, g in zip(outputs(model, x), got):
        assert np.abs(g - w).max() <= 1e-4 * np.abs(w).max()
    assert saved.graph_error.relative <= 1e-4


def test_a_pruned_models_file_runs_its_sparse_layers_on_the_sparse_kernels(tmp_path):
    from pyprune import prune

    model, shape = mobilenet_v2()
    x = torch.randn(1, *shape)
    prune.prune_magnitude(model, 0.9, block=4, include_depthwise=False)
    sparse = prune.make_permanent(model)
    pack.save(sparse, tmp_path / "s.pyprune", example_inputs=x, lossless=True)
    net = runtime.load(tmp_path / "s.pyprune")
    kernels = [n.kernel for n in net.describe() if n.op == "conv2d"]
    assert sum(" sparse block 4 " in k for k in kernels) >= len(kernels) // 2, kernels
    want, = outputs(sparse, x)
    assert np.abs(net(x.numpy()) - want).max() <= 1e-4 * np.abs(want).max()


def test_a_segmentation_file_runs_images_of_other_sizes(tmp_path):
    """The U-Net's transposed convolutions and pixel shuffle read the image size at run time."""
    model, shape = zoo.build("unet")
    pack.save(model, tmp_path / "unet.pyprune", example_inputs=torch.randn(1, *shape), lossless=True)
    net = runtime.load(tmp_path / "unet.pyprune")
    for size in [(36, 28), (8, 12)]:
        x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
        [want] = outputs(model, x)
        got = net(x.numpy())
        assert got.shape == want.shape == (2, 3, 2 * size[0], 2 * size[1])
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


class SizedFromInput(nn.Module):
    """An FCN's head: logits upsampled to the input's size, read from it; or a model with a
    position table of its own size, which takes no other."""

    def __init__(self, table=False):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.table = nn.Parameter(torch.randn(1, 4, 16, 16)) if table else None

    def forward(self, x):
        y = self.c(x)
        if self.table is not None:
            return y + self.table
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_a_graph_that_holds_at_its_example_size_only_refuses_other_sizes(tmp_path):
    model, x = SizedFromInput(table=True).eval(), torch.randn(1, 3, 32, 32)
    pack.save(model, tmp_path / "fixed.pyprune", example_inputs=x, lossless=True)
    net = runtime.load(tmp_path / "fixed.pyprune")
    assert net.fixed_sizes
    y = torch.randn(3, 3, 32, 32)  # other batches still run
    assert np.abs(net(y.numpy()) - outputs(model, y)[0]).max() <= 1e-5
    with pytest.raises(ValueError, match=r"must have the sizes \(3, 32, 32\) past the batch.*got shape \(1, 3, 48, 48\)"):
        net(np.zeros((1, 3, 48, 48), np.float32))


class ResizedToFeatures(nn.Module):
    """An FPN's top-down step: the coarse map upsampled to the lateral map's size, read from it."""

    def __init__(self):
        super().__init__()
        self.lateral, self.down = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        lateral = self.lateral(x)
        return lateral + F.interpolate(self.down(lateral), size=lateral.shape[-2:], mode="nearest")


@pytest.mark.parametrize("model", [SizedFromInput(), ResizedToFeatures()], ids=["to the input", "to a feature map"])
def test_a_resize_to_a_size_read_from_a_tensor_follows_that_tensor(tmp_path, model):
    pack.save(model.eval(), tmp_path / "resized.pyprune", example_inputs=torch.randn(1, 3, 32, 32), lossless=True)
    net = runtime.load(tmp_path / "resized.pyprune")
    assert not net.fixed_sizes
    for hw in [(48, 40), (17, 19), (5, 8)]:
        x = torch.randn(2, 3, *hw)
        assert np.abs(net(x.numpy()) - outputs(model, x)[0]).max() <= 1e-5
    assert any(n.kernel.endswith("to input 1's size") for n in net.describe((1, 3, 17, 19)))


def test_a_resize_to_a_size_no_tensor_has_keeps_the_sizes_fixed(tmp_path):
    """MobileViT's block resizes its 15x15 map up to whole patches (16x16) and back: the first
    size is no tensor's, so the graph holds at the example's size only. Following the second
    alone, it would resize other sizes to the example's patches and back, within 2.4e-4 of the
    model's output range under the global pool."""
    model, shape = zoo.build("mobilevit")
    pack.save(model, tmp_path / "patches.pyprune", example_inputs=torch.randn(1, *shape), lossless=True)
    assert runtime.load(tmp_path / "patches.pyprune").fixed_sizes


def free_of_sizes(tmp_path, model, example, sizes):
    """The runtime of `model` saved at `example` (h, w), checked free of the example's sizes and
    right at each of `sizes`, batch 2 (to 1e-5 of the outputs' magnitude, from 1 on)."""
    pack.save(model, tmp_path / "sized.pyprune", example_inputs=torch.randn(1, 3, *example), lossless=True)
    net = runtime.load(tmp_path / "sized.pyprune")
    assert not net.fixed_sizes
    for hw in sizes:
        x = torch.randn(2, 3, *hw)
        want = outputs(model, x)[0]
        assert np.abs(net(x.numpy()) - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    return net


class ReshapedBySize(nn.Module):
    """Reshapes to sizes read from the input: ShuffleNet's channel shuffle (n, g, c / g, h, w)
    and back, a global-context attention's (n, c, h * w); with `split`, space to depth's
    (n, c, h / 2, 2, w / 2, 2) instead, whose halved dims no single size can follow."""

    def __init__(self, split=False):
        super().__init__()
        self.split = split
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(12 if split else 8, 4, 1)

    def forward(self, x):
        y = self.a(x)
        n, c, h, w = y.shape
        if self.split:
            x = x.view(n, 3, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 12, h // 2, w // 2)
            return self.b(x)
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        z = self.b(y).view(n, 4, h * w)
        return (z * torch.softmax(z.mean(1, keepdim=True), -1)).sum(-1)


def test_reshapes_to_sizes_read_from_the_input_follow_its_dims(tmp_path):
    net = free_of_sizes(tmp_path, ReshapedBySize().eval(), (16, 16), [(24, 20), (17, 19), (5, 8)])
    assert [n.kernel for n in net.describe((1, 3, 17, 19)) if n.op == "reshape"] == [
        "reshape to (d0, 2, 4, d2, d3)", "reshape to (d0, -1, d3, d4)", "reshape to (d0, d1, -1)"]


class AttentionThenResized(nn.Module):
    """A segmentation head: a global-context attention on (n, c, h * w) and (n, 1, h * w) views
    (GCNet's), its logits resized to the input's size."""

    def __init__(self):
        super().__init__()
        self.down, self.key, self.head = nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 1, 1), nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y = self.down(x)
        n, c, h, w = y.shape
        weights = torch.softmax(self.key(y).view(n, 1, h * w), -1)
        context = (y.view(n, c, h * w) @ weights.transpose(1, 2)).view(n, c, 1, 1)
        return F.interpolate(self.head(y + context), size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_views_and_a_resize_read_from_the_input_follow_it_together(tmp_path):
    free_of_sizes(tmp_path, AttentionThenResized().eval(), (16, 16), [(24, 20), (17, 19)])


class SpatialReductionAttention(nn.Module):
    """PVT-v2's attention: tokens of a patch embedding back to their map ((n, c, h * w) to
    (n, c, h, w)) for a strided convolution, keys and values split by heads with the batch moved
    to dim 1 (a reshape the lowering writes with the batch as dim 1 of its input)."""

    def __init__(self):
        super().__init__()
        self.embed, self.sr = nn.Conv2d(3, 8, 4, stride=4), nn.Conv2d(8, 8, 2, stride=2)
        self.q, self.kv = nn.Linear(8, 8), nn.Linear(8, 16)

    def forward(self, x):
        x = self.embed(x)
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        q = self.q(tokens).reshape(n, h * w, 2, c // 2).permute(0, 2, 1, 3)
        reduced = self.sr(tokens.transpose(1, 2).reshape(n, c, h, w)).reshape(n, c, -1).transpose(1, 2)
        k, v = self.kv(reduced).reshape(n, -1, 2, 2, c // 2).permute(2, 0, 3, 1, 4).unbind(0)
        return (torch.softmax(q @ k.transpose(-2, -1), -1) @ v).transpose(1, 2).reshape(n, h * w, c)


def test_tokens_back_to_their_map_follow_a_feature_maps_size(tmp_path):
    net = free_of_sizes(tmp_path, SpatialReductionAttention().eval(), (16, 16), [(24, 32), (40, 16)])
    assert any("like.d2, like.d3" in n.kernel for n in net.describe((1, 3, 24, 32)) if n.op == "reshape")


class AnchoredHead(nn.Module):
    """A YOLOv8-style detection head: boxes as distances from each pixel's centre of three
    maps (strides 8, 16, 32), decoded with anchor points and strides the head computes from its
    maps' sizes at every call (Ultralytics' make_anchors), the anchors read twice."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 8, stride=8)
        self.down = nn.ModuleList([nn.Conv2d(8, 8, 3, stride=2, padding=1) for _ in range(2)])
        self.head = nn.ModuleList([nn.Conv2d(8, 6, 1) for _ in range(3)])

    def forward(self, x):
        maps = [self.stem(x)]
        for down in self.down:
            maps.append(down(maps[-1]))
        points, strides = [], []
        for y, stride in zip(maps, (8, 16, 32)):
            h, w = y.shape[-2:]
            sy, sx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
            points.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), float(stride)))
        anchors, stride = torch.cat(points).transpose(0, 1), torch.cat(strides).transpose(0, 1)
        out = torch.cat([head(y).flatten(2) for head, y in zip(self.head, maps)], 2)
        lt, rb = out[:, :2], out[:, 2:4]
        boxes = torch.cat((anchors - lt, anchors + rb), 1) * stride
        return torch.cat((boxes, out[:, 4:].sigmoid()), 1)


def test_a_detector_s_anchors_follow_its_maps_sizes(tmp_path):
    net = free_of_sizes(tmp_path, AnchoredHead().eval(), (64, 64), [(96, 64), (64, 160), (40, 56)])
    assert [n.op for n in net.describe((1, 3, 96, 64))].count("pixel_grid") == 2


class PointsCopiedThenDecoded(nn.Module):
    """A head that returns its anchor points beside its raw outputs as well as decoding them:
    the capture writes the grid twice, one of them read by an expand alone (a copy)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 4, stride=4)

    def forward(self, x):
        out = self.conv(x).flatten(2)
        h, w = x.shape[-2] // 4, x.shape[-1] // 4
        sy, sx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        points = torch.stack((sx, sy)).view(1, 2, -1)
        return torch.cat([points.expand(out.shape[0], -1, -1), out], 1) * 2.0 + (out + points).sum(1, keepdim=True)


def test_a_grid_that_is_only_copied_is_computed_too(tmp_path):
    net = free_of_sizes(tmp_path, PointsCopiedThenDecoded().eval(), (32, 32), [(48, 64), (64, 40)])
    assert [n.op for n in net.describe((1, 3, 48, 64))].count("pixel_grid") == 2


class GridHead(nn.Module):
    """YOLOv5's: the input's pixels rearranged by strided slices to the end of each dim (Focus),
    a head's (n, anchors, h, w, outputs) view decoded with a grid of its map's pixels
    (1, 1, h, w, 2) made at every call."""

    def __init__(self):
        super().__init__()
        self.conv, self.det = nn.Conv2d(12, 8, 3, padding=1), nn.Conv2d(8, 3 * 6, 1)
        self.register_buffer("anchors", torch.tensor([[10.0, 13], [16, 30], [33, 23]]).view(1, 3, 1, 1, 2))

    def forward(self, x):
        x = self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))
        p = self.det(x)
        n, _, h, w = p.shape
        y = p.view(n, 3, 6, h, w).permute(0, 1, 3, 4, 2).sigmoid()
        yv, xv = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid = torch.stack((xv, yv), 2).view(1, 1, h, w, 2).float()
        xy = (y[..., :2] * 2 - 0.5 + grid) * 2
        wh = (y[..., 2:4] * 2) ** 2 * self.anchors
        return torch.cat((xy, wh, y[..., 4:]), -1).view(n, -1, 6)


def test_a_grid_of_one_map_and_slices_to_the_end_follow_the_input(tmp_path):
    net = free_of_sizes(tmp_path, GridHead().eval(), (32, 32), [(48, 64), (64, 40)])
    assert "pixel_grid" in [n.op for n in net.describe((1, 3, 48, 64))]


class TransposedMapBesideTokens(nn.Module):
    """Tokens of a 32x32 patch embedding back on their map, beside the map transposed: at a
    square example (and both probes of its size, square again 32x down) the transposed map has
    the map's size too, and it is the latest before the view."""

    def __init__(self):
        super().__init__()
        self.patch, self.mix = nn.Conv2d(3, 4, 32, stride=32), nn.Linear(4, 4)

    def forward(self, x):
        y = self.patch(x)
        n, c, h, w = y.shape
        side = y.transpose(2, 3) * 2.0
        tokens = self.mix(y.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(n, c, h, w)
        return tokens + side.transpose(2, 3)


@pytest.mark.parametrize("model,side", [(ReshapedBySize(split=True), 16), (TransposedMapBesideTokens(), 64)],
                         ids=["space to depth", "a map transposed beside the map"])
def test_views_that_follow_no_size_keep_the_sizes_fixed(tmp_path, model, side):
    """A dim split by a size read from the input (space to depth) follows no tensor; a map
    transposed beside the map passes for it at square sizes, and only a probe of another aspect
    ratio tells them apart: the file holds at its example's size."""
    pack.save(model.eval(), tmp_path / "fixed.pyprune", example_inputs=torch.randn(1, 3, side, side), lossless=True)
    net = runtime.load(tmp_path / "fixed.pyprune")
    assert net.fixed_sizes
    x = torch.randn(3, 3, side, side)
    assert np.abs(net(x.numpy()) - outputs(model, x)[0]).max() <= 1e-5


def test_a_fully_convolutional_graph_keeps_its_sizes_free(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2)).eval()
    pack.save(model, tmp_path / "free.pyprune", example_inputs=torch.randn(1, 3, 32, 32), lossless=True)
    net = runtime.load(tmp_path / "free.pyprune")
    assert not net.fixed_sizes
    x = torch.randn(1, 3, 48, 40)
    assert np.abs(net(x.numpy()) - outputs(model, x)[0]).max() <= 1e-5


class PaddedByItsSize(nn.Module):
    """Padding computed from the input's size: TensorFlow's "SAME" (timm's tf_ models; even and
    odd sizes pad differently) or up to a multiple of the stride (a detector's letterbox); then,
    with `then`, a convolution of PyTorch's padding, which on an odd size pads as "SAME" does."""

    def __init__(self, same, then=False):
        super().__init__()
        self.same = same
        self.c = nn.Conv2d(3, 4, 3, stride=2)
        self.then = nn.Conv2d(4, 4, 3, stride=2, padding=1) if then else nn.Identity()

    def forward(self, x):
        pads = []
        for size in reversed(x.shape[-2:]):
            extra = max((math.ceil(size / 2) - 1) * 2 + 3 - size, 0) if self.same else (-size) % 8
            pads += [extra // 2, extra - extra // 2]
        return self.then(self.c(F.pad(x, pads)))


def test_padding_to_a_multiple_of_the_stride_fixes_the_graphs_sizes(tmp_path):
    """Twice the example's size pads alike, an odd one does not: the graph would answer it with
    the example's padding."""
    model, x = PaddedByItsSize(same=False).eval(), torch.randn(1, 3, 16, 16)
    pack.save(model, tmp_path / "padded.pyprune", example_inputs=x, lossless=True)
    net = runtime.load(tmp_path / "padded.pyprune")
    assert net.fixed_sizes
    with pytest.raises(ValueError, match=r"must have the sizes \(3, 16, 16\) past the batch.*got shape \(1, 3, 17, 19\)"):
        net(np.zeros((1, 3, 17, 19), np.float32))


@pytest.mark.parametrize("then,example", [(False, 16), (True, 14)])
def test_tensorflows_same_padding_is_padded_so_at_every_size(tmp_path, then, example):
    """The "SAME" convolution pads every size as the model does; beside it one of PyTorch's
    padding, whose padding at the example's 7x7 is the "SAME" one too, keeps its own."""
    model, x = PaddedByItsSize(same=True, then=then).eval(), torch.randn(1, 3, example, example)
    pack.save(model, tmp_path / "same.pyprune", example_inputs=x, lossless=True)
    net = runtime.load(tmp_path / "same.pyprune")
    assert not net.fixed_sizes
    for hw in [(17, 19), (16, 16), (5, 8), (33, 30)]:
        y = torch.randn(2, 3, *hw)
        assert np.abs(net(y.numpy()) - outputs(model, y)[0]).max() <= 1e-5
    kernels = [n.kernel for n in net.describe((1, 3, 17, 19)) if n.op == "conv2d"]
    assert [k.endswith('(padded "same_upper")') for k in kernels] == [True] + [False] * then


def test_a_model_refusing_odd_sizes_keeps_the_graphs_sizes_free(tmp_path):
    """A detector whose upsampled map must meet its strided one takes multiples of its stride only."""

    class Neck(nn.Module):
        def __init__(self):
            super().__init__()
            self.down, self.up = nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Upsample(scale_factor=2)
            self.side = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.up(self.down(x)) + self.side(x)

    model = Neck().eval()
    pack.save(model, tmp_path / "neck.pyprune", example_inputs=torch.randn(1, 3, 16, 16), lossless=True)
    net = runtime.load(tmp_path / "neck.pyprune")
    assert not net.fixed_sizes
    x = torch.randn(1, 3, 24, 40)
    assert np.abs(net(x.numpy()) - outputs(model, x)[0]).max() <= 1e-5


class CachedGrid(nn.Module):
    """A detector's decode grid, cached at the size of the input it last saw (YOLO's)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.grid = torch.zeros(1)

    def forward(self, x):
        y = self.conv(x)
        if self.grid.shape[-2:] != y.shape[-2:]:
            rows, cols = torch.meshgrid(torch.arange(y.shape[2]), torch.arange(y.shape[3]), indexing="ij")
            self.grid = torch.stack((cols, rows)).float()
        return y + self.grid


def test_saving_leaves_the_models_own_state_as_it_was(tmp_path):
    """pack.save runs the model at other sizes to see whether its graph holds there: a cache of
    the model's own is what the user's last forward left, not those sizes'."""
    model, x = CachedGrid().eval(), torch.randn(1, 3, 8, 8)
    model(x)
    grid = model.grid
    pack.save(model, tmp_path / "grid.pyprune", example_inputs=x, lossless=True, graph=True)
    assert model.grid is grid
    net = runtime.load(tmp_path / "grid.pyprune")
    y = torch.randn(2, 3, 8, 8)
    assert np.abs(net(y.numpy()) - outputs(model, y)[0]).max() <= 1e-5


class TwoHeads(nn.Module):
    """A segmentation model's dict of outputs (torchvision's "out" and "aux")."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 1), nn.Conv2d(4, 3, 1)

    def forward(self, x):
        y = torch.relu(self.a(x))
        return {"out": self.b(y), "aux": self.c(y)}


def test_a_dict_of_outputs_comes_back_under_its_keys(tmp_path):
    model, x = TwoHeads().eval(), torch.randn(2, 3, 8, 8)
    pack.save(model, tmp_path / "heads.pyprune", example_inputs=x, lossless=True)
    net = runtime.load(tmp_path / "heads.pyprune")
    got = net(x.numpy())
    assert list(got) == ["out", "aux"] and net.output_structure == {"dict": [["out", "tensor"], ["aux", "tensor"]]}
    for key, want in zip(got, outputs(model, x)):
        assert np.abs(got[key] - want).max() <= 1e-5
    assert [y.shape for y in net.run(x.numpy())] == [(2, 2, 8, 8), (2, 3, 8, 8)]  # run gives the tuple


class Tracker(nn.Module):
    """Two frames in a list and a dict of options (a tensor and a flag) in; a detector's
    (scores, [feature maps], {named heads}) out, with a None where a head is switched off."""

    def __init__(self):
        super().__init__()
        self.stem, self.cls, self.box = nn.Conv2d(6, 8, 3, padding=1), nn.Conv2d(8, 3, 1), nn.Conv2d(8, 4, 1)

    def forward(self, frames, options):
        f = torch.relu(self.stem(torch.cat(frames, 1)) + options["bias"])
        if options["flip"]:
            f = f.flip(-1)
        return self.cls(f).sigmoid(), [f, f.mean((2, 3))], {"boxes": self.box(f), 7: None}


def _tracker_arguments(seed, n=2, flip=True):
    g = torch.Generator().manual_seed(seed)
    frames = [torch.randn(n, 3, 8, 8, generator=g), torch.randn(n, 3, 8, 8, generator=g)]
    return frames, {"bias": torch.randn(1, 8, 1, 1, generator=g), "flip": flip}


def _arrays(tree):
    if isinstance(tree, torch.Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return {k: _arrays(v) for k, v in tree.items()}
    return type(tree)(_arrays(v) for v in tree) if isinstance(tree, (list, tuple)) else tree


Heads = collections.namedtuple("Heads", "out aux")


class NamedHeads(TwoHeads):
    """torchvision's way of naming several outputs: a named tuple."""

    def forward(self, x):
        return Heads(**super().forward(x))


def test_a_named_tuple_of_outputs_comes_back_as_a_tuple(tmp_path):
    model, x = NamedHeads().eval(), torch.randn(2, 3, 8, 8)
    result = pack.save(model, tmp_path / "heads.pyprune", example_inputs=x, lossless=True)
    assert result.graph_error is not None, result.no_graph
    got = runtime.load(tmp_path / "heads.pyprune")(x.numpy())
    assert isinstance(got, tuple) and len(got) == 2
    for g, want in zip(got, outputs(model, x)):
        assert np.abs(g - want).max() <= 1e-5


def tensors(tree):
    return [x for x in tree_flatten(tree)[0] if x is not None]


def test_nested_arguments_and_outputs_keep_their_structure(tmp_path):
    model = Tracker().eval()
    result = pack.save(model, tmp_path / "tracker.pyprune", example_inputs=_tracker_arguments(0), lossless=True)
    assert result.graph_error is not None, result.no_graph
    net = runtime.load(tmp_path / "tracker.pyprune")
    assert net.input_names == ["frames_0", "frames_1", "options_bias"]
    frames, options = _tracker_arguments(1, n=3)  # any batch
    with torch.inference_mode():
        want = model(frames, options)
    # the dict's keys in another order, the list given as a tuple: the same arguments
    got = net(tuple(_arrays(frames)), {"flip": True, "bias": options["bias"].numpy()})
    assert isinstance(got, tuple) and isinstance(got[1], list) and list(got[2]) == ["boxes", 7] and got[2][7] is None
    assert len(tensors(got)) == len(tensors(want)) == 4
    for g, w in zip(tensors(got), tensors(want)):
        assert np.abs(g - w.numpy()).max() <= 1e-5
    assert len(net.run(*_arrays(frames), options["bias"].numpy())) == 4  # run: the arrays alone, flat
    with pytest.raises(ValueError, match=r"the arguments are \(\[tensor, tensor\], \{bias: tensor, flip: False\}\), "
                                         r"but the model was captured for .*flip: True"):
        net(*_arrays(_tracker_arguments(1, flip=False)))
    with pytest.raises(ValueError, match=r"the arguments are \(\[tensor\], "):
        net(_arrays(frames[:1]), _arrays(options))
    # loaded with torch: the random inputs of its fast conversion are nested as the file says
    fast = pack.load(tmp_path / "tracker.pyprune", Tracker)
    with torch.inference_mode():
        again = fast(frames, options)
    for g, w in zip(tensors(again), tensors(want)):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


class Vocoder(nn.Module):
    """HiFi-GAN's generator in small: weight-normalised 1-d convolutions, a 1-d transposed one
    upsampling by 4 (its 3-d weight stored exactly, its sub-pixel kernels the graph's own), a
    dilated residual, leaky ReLU and tanh."""

    def __init__(self, norm) -> None:
        super().__init__()
        self.pre = norm(nn.Conv1d(8, 16, 7, padding=3))
        self.up = norm(nn.ConvTranspose1d(16, 8, 8, 4, 2))
        self.res = norm(nn.Conv1d(8, 8, 3, padding=3, dilation=3))
        self.post = norm(nn.Conv1d(8, 1, 7, padding=3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(F.leaky_relu(self.pre(x), 0.1))
        y = y + self.res(F.leaky_relu(y, 0.1))
        return torch.tanh(self.post(F.leaky_relu(y, 0.1)))


class Branches(nn.Module):
    """RepVGG's training-time block: a 3x3 and a 1x1 convolution with their batch norms and an
    identity batch norm, added; the graph merges them into one kernel of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.wide = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.narrow = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.identity = nn.BatchNorm2d(16)
        for norm in (self.wide[1], self.narrow[1], self.identity):
            nn.init.uniform_(norm.weight, 0.5, 1.5)
            nn.init.uniform_(norm.running_var, 0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        return F.relu(self.wide(y) + self.narrow(y) + self.identity(y))


class CosineHead(nn.Module):
    """ArcFace's cosine classifier: embeddings and class weights normalised (the graph's weight
    is F.normalize of the stored one)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.PReLU(16), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(16, 32))
        self.classes = nn.Parameter(torch.randn(10, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 30.0 * F.linear(F.normalize(self.body(x)), F.normalize(self.classes))


# Models whose graph computes constants from their weights, with example input shapes: saved with
# weight sharing, the graph's are computed from the weights as written, as the packed model's are.
DERIVED = {
    "weight-norm parametrization": (lambda: Vocoder(nn.utils.parametrizations.weight_norm), [(1, 8, 32), (2, 8, 45)]),
    "weight-norm hook": (lambda: Vocoder(hook_weight_norm), [(1, 8, 32), (2, 8, 45)]),
    "merged branches": (Branches, [(1, 3, 16, 16), (2, 3, 20, 20)]),
    "normalised weight": (CosineHead, [(1, 3, 16, 16), (3, 3, 16, 16)]),
}


@pytest.mark.parametrize("name", DERIVED)
def test_a_model_saved_lossy_gets_a_graph_that_runs_as_its_packed_model(tmp_path, name):
    make, shapes = DERIVED[name]
    torch.manual_seed(0)
    result = pack.save(make().eval(), tmp_path / "model.pyprune", example_inputs=torch.randn(*shapes[0]))
    assert result.no_graph is None and not result.lossless
    net = runtime.load(tmp_path / "model.pyprune")
    packed = pack.load(tmp_path / "model.pyprune", make, fast=False)
    for shape in shapes:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        [want] = outputs(packed, x)
        got = net(x.numpy())
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_a_model_squeezing_its_batch_runs_its_examples_batch_with_torchs_shapes(tmp_path):
    torch.manual_seed(0)
    model = Squeezed().eval()
    for batch, shapes in [(1, [(14,), ()]), (2, [(2, 14), (2,)])]:
        x = torch.randn(batch, 4, 6)
        assert pack.save(model, tmp_path / "squeezed.pyprune", example_inputs=x).no_graph is None
        net = runtime.load(tmp_path / "squeezed.pyprune")
        got, want = net(x.numpy()), outputs(model, x)
        assert [y.shape for y in got] == [tuple(w.shape) for w in want] == shapes
        assert all(np.abs(g - w).max() <= 1e-5 for g, w in zip(got, want))
    with pytest.raises(ValueError, match="batch 2"):  # not (1, 14) where torch gives (14,)
        net(torch.randn(1, 4, 6).numpy())


class Decoder(nn.Module):
    """A dilated, grouped, strided transposed convolution with output padding, bicubic resizing
    (up, and down with align_corners), atan as a soft clamp and a running product along the
    width."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(torch.atan(self.up(x)), scale_factor=1.5, mode="bicubic")
        y = F.interpolate(y, scale_factor=0.75, mode="bicubic", align_corners=True)
        return y + torch.cumprod(torch.sigmoid(y) + 0.5, 3)


def test_a_file_runs_bicubic_resizing_scans_atan_and_dilated_transposed_convolutions(tmp_path):
    torch.manual_seed(0)
    model = Decoder().eval()
    pack.save(model, tmp_path / "decoder.pyprune", example_inputs=torch.randn(1, 4, 5, 7), lossless=True)
    net = runtime.load(tmp_path / "decoder.pyprune")
    assert {"conv2d", "upsample", "unary", "cumprod"} <= {n.op for n in net.describe()}
    for shape in [(1, 4, 5, 7), (2, 4, 9, 6)]:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        [want] = outputs(model, x)
        got = net(x.numpy())
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
