"""pyprune.convert on the reference models, the zoo and models mixing supported and unsupported
parts: outputs, the report, partial capture, specialisation, and choices never slower than torch."""

import importlib
import re

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomize_batchnorms  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402
from zoo import ZOO, ShapeBranch, build  # noqa: E402

import pyprune  # noqa: E402
from pyprune.capture.choose import torch_takes  # noqa: E402
from pyprune.capture.segments import EngineSegment  # noqa: E402
from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402
from pyprune.nn import ConversionError, SparsePolicy, convert  # noqa: E402
from pyprune.nn.convert import CaptureError  # noqa: E402


def assert_close(got, want, rtol=1e-4):
    """Every output within rtol of the largest magnitude of its tensor."""
    got, want = tree_flatten(got)[0], tree_flatten(want)[0]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        if not w.numel():
            continue
        scale = float(w.abs().max()) if w.numel() else 0.0
        assert float((g - w).abs().max()) <= rtol * max(scale, 1e-6), (float((g - w).abs().max()), scale)


def assert_converts(model, x, other_batch=3):
    fast = convert(model, x)
    with torch.inference_mode():
        assert_close(fast(x), model(x))
        x2 = torch.randn(other_batch, *x.shape[1:])
        assert_close(fast(x2), model(x2))
    return fast


def convolutions(report):
    return [n for n in report.nodes if "conv2d" in n.was]


def assert_choices(report):
    """Every measured node runs in torch exactly where torch beat the engine's fastest candidate
    by more than leaving the engine costs; torch was one of them."""
    for n in report.nodes:
        if n.candidates:
            assert "torch" in n.candidates or n.why == "forced sparse"
            engine = min((v for k, v in n.candidates.items() if k != "torch"), default=float("inf"))
            assert (n.runs == "torch") == torch_takes(n.candidates.get("torch", float("inf")), engine)


@pytest.mark.parametrize(
    "factory,size",
    [
        (lambda: MobileNetV1(num_classes=10, width=0.25), 64),
        (lambda: MobileNetV2(num_classes=10, width=0.35), 64),
        (lambda: ShuffleNetV1(num_classes=10, groups=3, width=0.5), 64),
        (lambda: MobileNetV1(num_classes=1000), 224),
    ],
    ids=["mobilenet_v1", "mobilenet_v2", "shufflenet_v1", "mobilenet_v1_full"],
)
def test_reference_models_convert_and_match(factory, size):
    torch.manual_seed(0)
    model = randomize_batchnorms(factory())
    x = torch.randn(2, 3, size, size)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = assert_converts(model, x, other_batch=1)
    # The original is untouched; every convolution was lowered and BatchNorm folded into it: a
    # convolution stays in torch only where torch measured faster.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = fast.conversion_report
    assert all(n.runs == "pyprune" or n.why.startswith("torch measured fastest") for n in convolutions(report))
    assert not any(n.became.startswith("batch_norm") for n in report.nodes)
    assert any(n.runs == "pyprune" for n in convolutions(report))
    assert "max |converted - original|" in str(report)
    assert_choices(report)


@pytest.mark.parametrize("name", sorted(n for n in ZOO if n != "detector"))
def test_zoo_converts_and_matches(name):
    model, shape = build(name)
    fast = assert_converts(model, torch.randn(1, *shape))
    report = fast.conversion_report
    assert "a dynamic batch" in report.capture
    assert all(n.module is not None and n.was and n.became and n.runs in ("pyprune", "torch") and n.why
               for n in report.nodes)
    assert all(n.seconds is not None and n.seconds >= 0 for n in report.nodes)
    # What stays in torch was measured faster there, never refused: the operator set covers the zoo.
    assert all(n.runs == "pyprune" or len(n.candidates) > 1 for n in report.nodes), str(report)
    assert report.pyprune_macs > 0
    assert_choices(report)
    assert isinstance(fast, torch.fx.GraphModule)
    assert any(isinstance(m, EngineSegment) for m in fast.modules())


def test_report_says_what_became_of_each_layer():
    model, shape = build("resnet18")
    report = convert(model, torch.randn(1, *shape)).conversion_report
    rows = {n.module: n for n in report.nodes}
    assert rows["conv1"].was == "conv2d + batch_norm + relu_"
    assert rows["conv1"].became == "conv2d 7x7 s2 + relu"
    assert rows["layer1.0.conv2"].became == "conv2d 3x3 + residual + relu"  # the add and ReLU after it
    assert {"torch"} < set(rows["layer1.0.conv1"].candidates)
    assert rows["fc"].became == "linear 512->10"
    text = str(report)
    assert "layer1.0.conv2" in text and "% of the MACs" in text and "whole model: torch" in text
    assert report.original_seconds > 0 and report.converted_seconds > 0


def test_batch_norm_subclass_is_folded():
    model, shape = build("bn_act")
    report = convert(model, torch.randn(2, *shape)).conversion_report
    # the depthwise -> pointwise pair is one node where the fused kernel measured faster
    assert " + ".join(n.was for n in convolutions(report)) == \
        "conv2d + batch_norm + relu_ + conv2d + batch_norm + silu_ + conv2d + batch_norm"
    assert not any("batch_norm" in n.became for n in report.nodes)


def test_tensorflow_same_padding_folds_into_the_convolutions():
    model, shape = build("same_padding")
    x = torch.randn(1, *shape)  # odd and even sizes: asymmetric padding
    report = assert_converts(model, x).conversion_report
    assert not any(n.became == "pad" for n in report.nodes)
    padded = [n for n in convolutions(report) if not n.became.startswith("conv2d 1x1")]
    assert len(padded) == 4 and all(n.was.startswith("pad + conv2d") for n in padded)


def test_shape_branches_are_specialised_to_the_example():
    torch.manual_seed(0)
    model = randomize_batchnorms(ShapeBranch())
    large, small = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 16, 16)  # the branch pools only the large
    fast_large, fast_small = convert(model, large), convert(model, small)
    with torch.inference_mode():
        assert_close(fast_large(large), model(large))
        assert_close(fast_small(small), model(small))
        with pytest.raises(ValueError, match=r"converted for shape \(any batch, 3, 32, 32\)"):
            fast_large(small)
    assert "max_pool2d" in [n.became for n in fast_large.conversion_report.nodes]
    assert "max_pool2d" not in [n.became for n in fast_small.conversion_report.nodes]


class Frames(nn.Module):
    """Arguments as real models take them besides tensors: a dict holding a list of frames, and
    a number."""

    def __init__(self) -> None:
        super().__init__()
        self.rgb, self.aux = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 1)

    def forward(self, batch, gain):
        return {"y": self.rgb(batch["rgb"]) * gain + self.aux(batch["frames"][0]), "z": self.aux(batch["frames"][1])}


def test_lists_dicts_and_numbers_among_the_arguments_are_kept():
    def arguments(n, gain=2.0):
        g = torch.Generator().manual_seed(n)
        return ({"rgb": torch.randn(n, 3, 8, 8, generator=g),
                 "frames": [torch.randn(n, 3, 8, 8, generator=g), torch.randn(n, 3, 4, 4, generator=g)]}, gain)

    model = Frames().eval()
    fast = convert(model, arguments(2))
    assert all(n.runs == "pyprune" for n in fast.conversion_report.nodes)
    with torch.inference_mode():
        for n in (1, 3):  # any batch
            got, want = fast(*arguments(n)), model(*arguments(n))
            assert sorted(got) == ["y", "z"]
            for key in want:
                torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5)
        with pytest.raises(ValueError, match=r"the arguments are \(\{rgb: tensor, frames: \[tensor, tensor\]\}, 3.0\), "
                                             r"but the model was captured for .*, 2.0\)"):
            fast(*arguments(2, gain=3.0))
        batch, gain = arguments(2)
        del batch["frames"]
        with pytest.raises(ValueError, match=r"the arguments are \(\{rgb: tensor\}, 2.0\)"):
            fast(batch, gain)


def test_detector_is_converted_in_parts():
    model, shape = build("detector")
    x = torch.randn(2, *shape)
    fast = convert(model, x)
    with torch.inference_mode():
        got, want = fast(x), model(x)
    assert len(got) == len(want) == 2
    assert_close(got, want)
    assert type(fast) is type(model)  # the forward with the loops stays the model's own
    assert isinstance(fast.backbone, torch.fx.GraphModule) and isinstance(fast.head, torch.fx.GraphModule)
    report = fast.conversion_report
    assert report.capture.startswith("in parts: torch.export could not capture Detector")
    assert "converted backbone, head" in report.capture
    assert {n.module.split(".")[0] for n in report.nodes} == {"backbone", "head"}


class Mixed(nn.Module):
    """Convolutions pyprune takes around a dilated one, a reflect-padded one, an op outside the
    operator set (lgamma) and an upsampling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.reflect = nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect")
        self.pw = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.up = nn.Upsample(scale_factor=2)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.lgamma(self.reflect(self.dilated(x))) * 0.5
        x = self.up(self.bn(self.pw(x)))
        return self.head(x.mean((2, 3)))


def test_unsupported_parts_stay_torch_and_keep_working():
    model = randomize_batchnorms(Mixed())
    x = torch.randn(2, 3, 12, 12)
    fast = assert_converts(model, x)
    rows = {n.module: n for n in fast.conversion_report.nodes}
    assert rows["stem"].became.startswith("conv2d 3x3 + relu")  # on the GEMM or, of 8 outputs, the sparse kernels
    assert rows["pw"].was == "conv2d + batch_norm"
    lgamma = [n for n in fast.conversion_report.nodes if n.was == "lgamma"]
    assert len(lgamma) == 1 and lgamma[0].runs == "torch"
    assert lgamma[0].why == "aten.lgamma.default is not in the operator set"
    assert "aten.lgamma.default is not in the operator set" in str(fast.conversion_report)


def test_separable_pairs_are_considered_only_when_asked():
    model = randomize_batchnorms(MobileNetV1(num_classes=10, width=0.25))
    x = torch.randn(1, 3, 32, 32)
    fused = convert(model, x).conversion_report
    unfused = convert(model, x, fuse_separable=False).conversion_report
    assert not any("-> conv2d 1x1" in n.became or "separable" in n.why for n in unfused.nodes)
    # fused wherever the fused kernel measured faster than the two apart, said so where not
    assert all("-> conv2d 1x1" in n.became or "depthwise" not in n.became or "separable" in n.why
               for n in fused.nodes if n.runs == "pyprune")


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # TorchScript is deprecated, not gone
def test_top_level_alias_and_bad_input():
    assert pyprune.convert is convert
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        convert(lambda x: x, torch.zeros(1))

    class Untraceable(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(CaptureError, match="could not capture Untraceable"):
        convert(Untraceable(), torch.ones(1, 1, 4, 4))
    assert issubclass(CaptureError, ValueError)
    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(1, 2, 3)).eval())
    with pytest.raises(CaptureError, match="cannot capture a TorchScript RecursiveScriptModule: convert the module"):
        convert(scripted, torch.ones(1, 1, 4, 4))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_models_and_inputs_of_other_floats_are_refused_naming_them(dtype):
    model, x = nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), torch.randn(1, 3, 8, 8)
    with pytest.raises(TypeError, match=f"example input 0 is {dtype}"):
        convert(model.to(dtype), x.to(dtype))
    with pytest.raises(TypeError, match=f"0.weight is {dtype}"):
        convert(model.to(dtype), x)


def test_a_sparse_policy_naming_a_layer_the_model_does_not_have_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    with pytest.raises(ValueError, match=r"the sparse policy's layers name \['1', 'conv'\], which the model does not"):
        convert(model, torch.randn(1, 3, 8, 8), sparse=SparsePolicy(layers={"0": True, "1": False, "conv": True}))


def all_on_pyprune(monkeypatch):
    """convert's per-node choice made pyprune everywhere, whatever was measured."""
    module = importlib.import_module("pyprune.nn.convert")  # pyprune.nn.convert is the function
    measured = module.choose

    def on_pyprune(*args, **kwargs):
        choices = measured(*args, **kwargs)
        for choice in choices.values():
            choice.runs = "pyprune"
        return choices

    monkeypatch.setattr(module, "choose", on_pyprune)


def test_mismatch_raises(monkeypatch):
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, groups=2)).eval()
    all_on_pyprune(monkeypatch)
    monkeypatch.setattr(EngineSegment, "forward", lambda self, *xs: tuple(x + 1.0 for x in xs))
    with pytest.raises(ConversionError, match=r"differs from the original's by up to .*e\+\d+x the original's own "
                                              r"float32 rounding \(against the model run in float64\)$"):
        convert(model, torch.randn(1, 2, 5, 5))


class Cancelling(nn.Module):
    """Two sums of large terms that are equal but added in other orders: their difference is
    the rounding alone, as where a deep random-init net's logits cancel."""

    def __init__(self, width=4096):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, width) * 100)

    def forward(self, x):
        return x @ self.weight.T - x.flip(-1) @ self.weight.flip(-1).T


def test_differences_of_the_size_of_the_originals_own_rounding_are_accepted(monkeypatch):
    torch.manual_seed(0)
    model, x = Cancelling().eval(), torch.randn(2, 4096) * 100
    all_on_pyprune(monkeypatch)
    fast = convert(model, x)  # per entry it is far beyond rtol and atol
    report = fast.conversion_report
    with torch.inference_mode():
        want = model(x)
        assert report.max_abs_error == float((fast(x) - want).abs().max()) > 1e-4 + 1e-3 * float(want.abs().max())
    assert re.fullmatch(r"beyond rtol/atol where the output cancels, within \S+x the original's own float32 rounding "
                        r"\(against the model run in float64\)", report.rounding)
    assert report.rounding in str(report)
    # the same difference, a hundred times over, is not rounding
    converted = EngineSegment.forward
    monkeypatch.setattr(EngineSegment, "forward", lambda self, *xs: tuple(y * 100 for y in converted(self, *xs)))
    with pytest.raises(ConversionError, match=r"x the original's own float32 rounding"):
        convert(model, x)


def test_repeated_conversions_leave_no_generated_source_behind():
    """torch.fx and torch.export keep the source of every module they compile unless told."""
    import gc
    import linecache

    from torch.fx.graph_module import _loader

    layers = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))
    model, x = randomize_batchnorms(layers), torch.randn(1, 3, 16, 16)

    def cached():
        gc.collect()
        return len(linecache.cache), len(_loader.eval_cache)

    convert(model, x)
    before = cached()
    for _ in range(2):
        fast = convert(model, x)
    assert cached() > before  # the live result keeps its own
    del fast
    assert cached() == before


def test_a_mismatch_after_a_selection_says_rounding_can_change_the_choice(monkeypatch):
    def differs(got, want, rtol, atol):
        raise ConversionError("the converted model's output differs from the original's by up to 1")

    def in_float32_only(*args):
        return None

    class TopScores(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).flatten(1).topk(5)[0]

    class Unpooled(nn.Module):  # ENet's and SegNet's decoders put values back where the maxima were
        def __init__(self):
            super().__init__()
            self.conv, self.pool, self.unpool = nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)

        def forward(self, x):
            return self.unpool(*self.pool(self.conv(x)))

    convert_module = importlib.import_module("pyprune.nn.convert")
    monkeypatch.setattr(convert_module, "_max_difference", differs)
    monkeypatch.setattr(convert_module, "times_float32_rounding", in_float32_only)
    for model in (TopScores(), Unpooled()):
        with pytest.raises(ConversionError, match="up to 1; it selects entries .* rounding alone can be chosen"):
            convert(model.eval(), torch.randn(1, 3, 8, 8))
    # without a selection the message is as it was
    with pytest.raises(ConversionError, match="up to 1$"):
        convert(nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), torch.randn(1, 3, 8, 8))


class PaddedBlock(nn.Module):
    """VainF's DeepLabV3+ MobileNetV2 block: the input padded once, then a 1x1 expansion (whose
    border on the padding is its bias), a depthwise 3x3 and a 1x1 projection, all unpadded."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(4, 12, 1, bias=False), nn.BatchNorm2d(12), nn.ReLU6(),
                                  nn.Conv2d(12, 12, 3, groups=12, bias=False), nn.BatchNorm2d(12), nn.ReLU6(),
                                  nn.Conv2d(12, 4, 1, bias=False), nn.BatchNorm2d(4))

    def forward(self, x):
        return x + self.conv(nn.functional.pad(x, (1, 1, 1, 1)))


def test_a_pointwise_convolution_of_a_padded_input_runs_on_the_engine():
    model = randomize_batchnorms(PaddedBlock().eval())
    report = assert_converts(model, torch.randn(2, 4, 9, 11)).conversion_report
    assert all(n.runs == "pyprune" or len(n.candidates) > 1 for n in report.nodes), str(report)
