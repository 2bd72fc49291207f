"""torch.export capture: a dynamic batch when the model allows it, the example's shapes when it
does not, and a CaptureError saying why when nothing works."""

import logging
import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from small_nets import Squeezed  # noqa: E402
from zoo import build  # noqa: E402

from pyprune.capture.export import CaptureError, capture  # noqa: E402


class BatchBranch(nn.Module):
    """Computes differently for a batch of one: no capture can cover every batch size."""

    def forward(self, x):
        return x * 2 if x.shape[0] == 1 else x + 1


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_dynamic_batch_when_the_model_allows_it():
    model, shape = build("yolov8")
    captured = capture(model, (torch.randn(1, *shape),))
    assert captured.dynamic_batch and captured.dynamic_failure is None
    assert captured.seconds > 0
    placeholder = [n for n in captured.program.graph.nodes if n.op == "placeholder"][-1]
    assert isinstance(placeholder.meta["val"].shape[0], torch.SymInt)


def test_dynamic_batch_for_a_model_whose_outputs_hold_nan():
    class Log(nn.Module):
        def forward(self, x):
            return torch.log(x)  # NaN for the negative entries

    captured = capture(Log(), (torch.randn(2, 3),))
    assert captured.dynamic_batch, captured.dynamic_failure


class BatchByLen(nn.Module):
    """TinyViT's and MatchboxNet's B = len(x): the batch read by Python's len()."""

    def forward(self, x):
        b = len(x)
        return x.view(b, -1, 2).sum(-1) * len([1, 2, 3])


def test_a_batch_read_by_len_stays_dynamic():
    captured = capture(BatchByLen(), (torch.randn(2, 4, 6),))
    assert captured.dynamic_batch, captured.dynamic_failure
    x = torch.randn(5, 4, 6)
    torch.testing.assert_close(captured.program.module()(x), BatchByLen()(x))
    assert len([1, 2]) == 2 and len(torch.zeros(3, 1)) == 3  # len() is itself again


def test_static_capture_when_the_batch_matters():
    captured = capture(BatchBranch(), (torch.randn(1, 3),))
    assert not captured.dynamic_batch
    assert captured.dynamic_failure == "the model computes differently for a batch of one"
    out = captured.program.module()(torch.ones(1, 3))
    assert torch.equal(out, torch.full((1, 3), 2.0))


@pytest.mark.parametrize("batch", [1, 2])
def test_a_squeeze_of_the_batch_is_captured_for_the_examples_batch(batch):
    x = torch.randn(batch, 4, 6)
    captured = capture(Squeezed().eval(), (x,))
    assert not captured.dynamic_batch
    assert captured.dynamic_failure == "the model's outputs have other shapes for a batch of one (a squeeze() of the batch)"
    shapes = [tuple(n.meta["val"].shape) for n in captured.program.graph.output_node().args[0]]
    assert shapes == ([(14,), ()] if batch == 1 else [(2, 14), (2,)])


class Priors(nn.Module):
    """ssd.pytorch's detection output: the priors cast by type(x.data), which is torch.Tensor
    eagerly and the tracer's own tensor class while tracing."""

    def __init__(self):
        super().__init__()
        self.loc = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("priors", torch.rand(16, 4))

    def forward(self, x):
        return self.loc(x).flatten(2).transpose(1, 2) + self.priors.type(type(x.data))


def test_a_cast_to_the_type_of_a_tensors_data_is_captured():
    x = torch.randn(2, 3, 4, 4)
    model = Priors().eval()
    captured = capture(model, (x,))
    assert captured.dynamic_batch, captured.dynamic_failure
    torch.testing.assert_close(captured.program.module()(x), model(x))


def test_inputs_without_a_batch_dimension_are_captured_static():
    class Scale(nn.Module):
        def forward(self, x, s):
            return x * s

    captured = capture(Scale(), (torch.randn(2, 3), torch.tensor(2.0)))
    assert not captured.dynamic_batch and captured.dynamic_failure == "an input has no batch dimension"


def test_varargs_forward_gets_a_dynamic_batch():
    class Sum(nn.Module):
        def forward(self, *xs):
            return sum(xs)

    assert capture(Sum(), (torch.randn(2, 3), torch.randn(2, 3))).dynamic_batch


def test_capture_errors_say_why_quietly(caplog):
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CaptureError, match="could not capture DataDependent: .*data-dependent"):
            capture(DataDependent(), (torch.randn(2, 3),))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with pytest.raises(CaptureError, match="could not capture Detector"):
        model, shape = build("detector")
        capture(model, (torch.randn(1, *shape),))
    assert issubclass(CaptureError, ValueError)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        capture(lambda x: x, (torch.zeros(1),))


def test_inference_graph_is_whole_or_says_what_needs_torch():
    from pyprune.capture.pipeline import inference_graph

    model, shape = build("darknet")
    graph = inference_graph(model, (torch.randn(1, *shape),))
    assert graph.dynamic_batch and {n.op for n in graph.nodes} == {"conv2d", "add"}

    class LogGamma(nn.Module):
        def forward(self, x):
            return torch.relu(x).lgamma()

    with pytest.raises(ValueError, match="needs torch to run node 'lgamma'.*aten.lgamma.default is not in the operator"):
        inference_graph(LogGamma(), (torch.randn(1, 3),))


class CachesAnchors(nn.Module):
    """A detection head's habit: a grid computed from the input's size on the first call and kept
    for the calls after it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.size = None

    def forward(self, x, scale):
        if self.size != tuple(x.shape[2:]):
            h, w = x.shape[2:]
            self.anchors = torch.arange(h * w).type_as(x).view(1, 1, h, w) / (h * w)
            self.size = (h, w)
        return self.conv(x) + self.anchors * scale


def test_a_model_caching_tensors_on_its_first_call_keeps_real_ones():
    import pyprune

    model, x = CachesAnchors().eval(), (torch.randn(2, 3, 5, 6), torch.tensor(2.0))  # captured static
    capture(model, x)
    assert type(model.anchors) is torch.Tensor  # not the trace's fake tensor
    fresh = CachesAnchors().eval()
    torch.testing.assert_close(pyprune.convert(fresh, x)(*x), fresh(*x))


class CachesByShape(nn.Module):
    """ultralytics' Detect: the anchors made again whenever the input's whole shape, the batch
    included, differs from the last call's."""

    shape = None

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        if self.shape != x.shape:
            h, w = x.shape[2:]
            self.anchors = torch.arange(h * w).type_as(x).view(1, 1, h, w)
            self.shape = x.shape
        return self.conv(x) + self.anchors


@pytest.mark.parametrize("ran_before", [None, 1, 2, 3])
def test_a_cache_of_the_whole_shape_leaves_the_batch_dynamic(ran_before):
    """Whatever batch the model last ran (or none), the capture does not compare its own batch
    with the cached one; the model keeps real tensors."""
    from pyprune.capture.pipeline import inference_graph
    from pyprune.graph import engine

    model, x = CachesByShape().eval(), torch.randn(2, 3, 5, 6)
    if ran_before:
        model(torch.randn(ran_before, 3, 5, 6))
    captured = capture(model, (x,))
    assert captured.dynamic_batch, captured.dynamic_failure
    assert type(model.anchors) is torch.Tensor and all(type(d) is int for d in model.shape)
    graph = inference_graph(model, (x,))
    for batch in (1, 3):
        y = torch.randn(batch, 3, 5, 6)
        got = engine.Engine(graph)(y.numpy())
        torch.testing.assert_close(torch.from_numpy(got), model(y))


class CachesAnchorsTimesAGain(CachesAnchors):
    """The anchors multiplied by a parameter: autograd would keep them for the backward pass."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(2.0))

    def forward(self, x):
        return super().forward(x, self.gain)


def test_a_model_whose_cache_was_filled_in_inference_mode_is_captured(tmp_path):
    import pyprune

    model, x = CachesAnchorsTimesAGain().eval(), (torch.randn(2, 3, 5, 6),)
    with torch.inference_mode():
        model(*x)  # the anchors are inference tensors now
    assert model.anchors.is_inference()
    capture(model, x)
    fresh = CachesAnchorsTimesAGain().eval()
    result = pyprune.pack.save(fresh, tmp_path / "anchors.pyprune", example_inputs=x, lossless=True)
    assert result.runs_without_torch, result.no_graph
    assert not fresh.anchors.is_inference()  # saving leaves nothing the model cannot train with


class DetectionTransform(nn.Module):
    """torchvision's GeneralizedRCNNTransform as it is written: normalise each image, resize it
    by a scale read from a tensor of its sizes, and batch the images padded to a multiple of 32
    (a tensor filled with zeros, the images copied into its slices); then a convolution."""

    def __init__(self, min_size=96.0, max_size=160.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]))
        self.min_size, self.max_size = min_size, max_size
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, images):
        resized = []
        for image in images:
            image = (image - self.mean[:, None, None]) / self.std[:, None, None]
            im_shape = torch.tensor(image.shape[-2:])
            min_size, max_size = float(torch.min(im_shape)), float(torch.max(im_shape))
            scale = min(self.min_size / min_size, self.max_size / max_size)
            resized.append(nn.functional.interpolate(image[None], scale_factor=scale, mode="bilinear",
                                                     recompute_scale_factor=True, align_corners=False)[0])
        size = [max(s) for s in zip(*[img.shape for img in resized])]
        size[1], size[2] = (int(math.ceil(float(s) / 32) * 32) for s in size[1:])
        batched = resized[0].new_full([len(resized)] + size, 0)
        for i, img in enumerate(resized):
            batched[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return self.conv(batched)


def test_numbers_read_from_tensors_of_sizes_are_the_examples():
    import pyprune
    from pyprune.capture.pipeline import inference_graph

    model, x = DetectionTransform().eval(), torch.rand(2, 3, 50, 70)  # resized to 96x134, padded to 96x160
    captured = capture(model, (x,))
    assert not captured.dynamic_batch and "aten.item" not in str(captured.program.graph)
    assert {"upsample", "conv2d"} <= {n.op for n in inference_graph(model, (x,)).nodes}  # none needs torch
    fast = pyprune.convert(model, x)
    assert not fast.conversion_report.not_captured
    torch.testing.assert_close(fast(x), model(x))
    with pytest.raises(ValueError, match="shape"):
        fast(torch.rand(2, 3, 60, 70))  # another size would resize by another scale


def _written_through_a_view(x):
    sizes = torch.tensor(x.shape).float()
    sizes[2:].mul_(x.sum())
    return float(sizes.max())


@pytest.mark.parametrize("read", [
    lambda x: float(x.mean()),  # the data
    lambda x: float(torch.tensor(x.shape).float().add_(x.mean()).max()),  # sizes written with the data
    _written_through_a_view,
    lambda x: float(torch.rand(3).max()),  # a random draw
], ids=["data", "written", "view-written", "random"])
def test_numbers_that_depend_on_more_than_sizes_still_stop_the_capture(read):
    class Reads(nn.Module):
        def forward(self, x):
            return x * read(x)

    with pytest.raises(CaptureError, match="data-dependent|[Dd]ata dependent"):
        capture(Reads(), (torch.randn(2, 3, 4, 5),))


def test_sizes_computed_in_place_from_sizes_are_followed():
    class Scaled(nn.Module):
        def forward(self, x):
            sizes = torch.tensor(x.shape[2:]).float()
            sizes.mul_(2)
            sizes[0] += 1
            return x * float(sizes.sum())  # (2 * 4 + 1) + 2 * 5

    x = torch.randn(2, 3, 4, 5)
    captured = capture(Scaled(), (x,))
    torch.testing.assert_close(captured.program.module()(x), x * 19.0)
