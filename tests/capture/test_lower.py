"""Lowering ATen ops to the operator set: each family of ops, checked against torch through the
reference executor at the captured batch and another, and on every model of the zoo."""

import functools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from capture_helpers import assert_matches, lowered, node, ops, zoo_lowered  # noqa: E402
from torch import nn  # noqa: E402
from zoo import ZOO, BNActNet, build  # noqa: E402

import pyprune  # noqa: E402
from pyprune.capture import optimize  # noqa: E402
from pyprune.capture.lower import lower  # noqa: E402
from pyprune.graph import engine  # noqa: E402


class Fn(nn.Module):
    def __init__(self, fn, *params: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        for i, p in enumerate(params):
            self.register_buffer(f"p{i}", p)

    def forward(self, *xs):
        return self.fn(self, *xs)


IMAGE = (2, 6, 9, 7)


def _canvas(m, x):
    """PointPillars' scatter: each pillar's features written at its cell of a flat canvas, the
    cells computed from the input; then more added at some cells."""
    canvas = torch.zeros(x.shape[0], 6, 80)
    cells = (x[0, 0, :, 0].argsort() * 7) % 80
    canvas[:, :, cells] = x[:, :, :, 1]
    return torch.ops.aten.index_put(canvas, [None, None, cells[:3]], x[:, :, :3, 2], True)


def _writes_into_slices(m, x):
    """In-place writes into views, as detection heads decode boxes; tensors made in the forward."""
    y = x.sigmoid()
    y[:, 0:2] = (y[:, 0:2] * 2 - 0.5 + m.p1[:, 2:4]) * 8  # a slice
    y[:, 4] = y[:, 4] * 3                                    # a selected channel
    y[:, :, 5::2] = 0.0                                      # a stepped slice, filled
    y[:, 1:3] = m.p0[:2]                                     # a copy broadcast into it
    z = x.new_zeros((x.shape[0], 6, 12, 7))                  # the run-time batch
    z[:, :, 2:11] = x
    return y, z, torch.ones_like(x) * x, torch.full_like(x, 0.5) + torch.zeros(x.shape[0], 1, 1, 1)

def _boxes_and_masks(m, x):
    """ultralytics' xywh2xyxy (every slice of an empty tensor written) and crop_mask (the product
    of two comparisons is their and); the sum of two masks is their or."""
    b = x[:, :4]
    y = torch.empty_like(b)
    y[:, :2] = b[:, :2] - b[:, 2:] / 2
    y[:, 2:] = b[:, :2] + b[:, 2:] / 2
    r = torch.arange(x.shape[-1], dtype=x.dtype)
    inside = (r >= x[:, :1, :, :1] * 3) * (r < x[:, 1:2, :, :1] * 3 + 4)
    return y, x * inside, x * ((x > 0.5) + (x < -1))


def _sine_positions(m, x):
    """DETR's, XCiT's and EdgeNeXt's position encoding: computed from a mask of the batch's size,
    so a function of the sizes alone, then added to the features."""
    b, _, h, w = x.shape
    not_mask = ~torch.zeros(b, h, w).bool()
    y, z = not_mask.cumsum(1, dtype=torch.float32), not_mask.cumsum(2, dtype=torch.float32)
    y, z = y / (y[:, -1:, :] + 1e-6) * 6.28, z / (z[:, :, -1:] + 1e-6) * 6.28
    t = 100 ** (2 * (torch.arange(4, dtype=torch.float32) // 2) / 4)
    py, pz = y[:, :, :, None] / t, z[:, :, :, None] / t
    py = torch.stack((py[:, :, :, 0::2].sin(), py[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pz = torch.stack((pz[:, :, :, 0::2].sin(), pz[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos = torch.cat((py, pz), dim=3).permute(0, 3, 1, 2)
    return x + m.p0 * pos[:, :6], torch.where(pos[:, 1:7] > 0.5, x, -x)


def _batch_dependent(m, x):
    """Made from the batch's size, but not item by item: a running sum and a mean over the batch."""
    ones = torch.ones(x.shape[0], x.shape[2], x.shape[3])
    return x + ones.cumsum(0).unsqueeze(1), x * ones.mean(0), x + ones.flatten(0, 1).sum(0, keepdim=True)


def _running_extremes(x):
    ties, ties_at = torch.cummax((x * 2).round(), -1)
    nans, nans_at = torch.cummin(x.masked_fill(x > 1.2, float("nan")), 2)
    lowest, lowest_at = torch.cummax(x.masked_fill(x < -0.8, -math.inf), 3)  # -inf entries, first ones too
    return (ties, ties_at.float(), torch.nan_to_num(nans, 7.0), nans_at.float(), torch.cummax(x[:, :1], 1)[1].float(),
            torch.cummin(x, 1)[0], torch.nan_to_num(lowest, neginf=-5.0), lowest_at.float())


def _classes(y):
    return (torch.where(torch.isnan(y), 1.0, 0.0) + torch.isinf(y) * 2.0 + torch.where(y.isfinite(), y, 4.0)
            + torch.isposinf(y) * 8.0 + torch.isneginf(y) * 16.0 + torch.logical_xor(y > 0, y.isnan()) * 32.0
            + ((y < 0.5) ^ (y > -0.5)) * 64.0 + torch.where(~torch.isnan(y), y.clamp(-9, 9), 0.5))


# (function of (module, x), the operator-set ops it lowers to)
CASES = {
    "relu": (lambda m, x: torch.relu(x), ["activation"]),
    "relu6": (lambda m, x: F.relu6(x), ["activation"]),
    "hardtanh": (lambda m, x: F.hardtanh(x, -0.5, 0.25), ["activation"]),
    "clamp_min": (lambda m, x: x.clamp(min=-0.1), ["activation"]),
    "leaky_relu": (lambda m, x: F.leaky_relu(x, 0.1), ["activation"]),
    "hardswish": (lambda m, x: F.hardswish(x), ["activation"]),
    "hardsigmoid": (lambda m, x: F.hardsigmoid(x), ["activation"]),
    "silu": (lambda m, x: F.silu(x), ["activation"]),
    "sigmoid": (lambda m, x: torch.sigmoid(x), ["activation"]),
    "tanh": (lambda m, x: torch.tanh(x), ["activation"]),
    "gelu": (lambda m, x: F.gelu(x), ["activation"]),
    "gelu_tanh": (lambda m, x: F.gelu(x, approximate="tanh"), ["activation"]),
    "mish": (lambda m, x: F.mish(x), ["activation"]),
    "elu": (lambda m, x: F.elu(x, 0.7), ["activation"]),
    "selu_celu": (lambda m, x: (F.selu(x), F.celu(x, 1.3)), ["activation", "mul", "mul", "activation", "mul"]),
    "inplace": (lambda m, x: torch.relu_(x * 2.0).add_(1.0), ["mul", "activation", "add"]),
    "scalar_ops": (lambda m, x: (x + 1.5) * 2 - 0.25, ["add", "mul", "sub"]),
    "rsub_div": (lambda m, x: (1.0 - x) / 3.0, ["sub", "div"]),
    "maximum_minimum": (lambda m, x: torch.minimum(torch.maximum(x, m.p1), x * 0.5),
                        ["maximum", "mul", "minimum"]),
    "clamp_tensors": (lambda m, x: x.clamp(min=m.p0, max=m.p0 + 1) + torch.clamp(x, max=m.p1) + x.clamp_min(m.p0)
                      + x.clamp_max(m.p1[:, :1]), None),
    "where": (lambda m, x: torch.where(x > m.p0, x, x * 0.1) + torch.where(x <= 0.5, 1.0, x), None),
    "masks": (lambda m, x: x.masked_fill(x < m.p1, -1.0) + (x >= 0).float() * x + torch.where(~(x != 1.0), 2.0, x)
              + torch.logical_not(x > 0) * 3.0, None),
    # and / or of comparisons and of a constant mask, negated, as a choice and as a number
    "junctions": (lambda m, x: torch.where((x > 0) & (x < m.p0), x, -x) + ((x < -1) | (x > 1)).float()
                  + torch.where(~((x > 0) | (x < -0.5)), 1.0, x) + torch.logical_and(x > 0.2, ~(x > 0.8)) * x
                  + x.masked_fill(torch.logical_or(x > 1, m.p1 > 0), 0.0), None),
    # a number's class and exclusive or, on a tensor holding NaN and both infinities
    "classes": (lambda m, x: _classes(x.masked_fill(x > 1.2, float("nan")).masked_fill(x < -1.2, float("inf"))
                                      .masked_fill(x.abs() < 0.05, float("-inf"))), None),
    # counts of a condition, and sums of integers, exact in float32
    "counts": (lambda m, x: ((x > 0).sum((2, 3)).float(), (x > 0.5).sum(1, keepdim=True) * x,
                             (x.argmax(1) + (x < 0).sum(1)).float(), x.isnan().sum((1, 2, 3), keepdim=True) + x,
                             (x > 0).cumsum(2) * x, (x.argmax(1).cumsum(-1) - 1).float()), None),
    # running extremes and their last index, over ties (rounded entries), NaN and a length-1 dim
    "cummax_cummin": (lambda m, x: _running_extremes(x), None),
    "broadcast": (lambda m, x: x * m.p0 + m.p1, ["mul", "add"]),
    "writes_into_slices": (_writes_into_slices, None),
    "boxes_and_masks": (_boxes_and_masks, None),
    # folded: the encoding is one constant, expanded to the batch where it meets the features
    "sine_positions": (_sine_positions, ["expand", "add", "unary", "expand", "where"]),
    "batch_dependent": (_batch_dependent, None),
    "unary": (lambda m, x: torch.exp(-x.abs()).sqrt().reciprocal().log() + torch.erf(x), None),
    "trigonometry_rounding": (lambda m, x: torch.sin(x) * torch.cos(x) + (x * 4).floor() + x.ceil() + (x * 4).round()
                              + x.sign(), None),
    "atan": (lambda m, x: torch.atan(x * 3) + x.arctan(), ["mul", "unary", "unary", "add"]),
    "pow": (lambda m, x: x.pow(2) + x.abs().pow(0.5) + torch.rsqrt(x.abs() + 1), None),
    "cat_negative_axis": (lambda m, x: torch.cat([x, x * 2], -3), ["mul", "concat"]),
    "stack": (lambda m, x: torch.stack([x, -x], 1).sum(1), None),
    "chunk_uneven": (lambda m, x: torch.cat(x.chunk(4, 1)[::-1], 1), ["split", "concat"]),
    "split_sizes": (lambda m, x: x.split([1, 5], 1)[1] * 2, ["split", "mul"]),
    # sections (the first ones longer), indices as slices take them: past the end, negative, going back
    "tensor_split": (lambda m, x: (*torch.tensor_split(x, 4, 1), torch.cat(x.tensor_split([2, 9, -3, 1], dim=3), 3),
                                   *torch.hsplit(x, [1, 4]), *torch.vsplit(x[0], 3), *torch.dsplit(x, 3),
                                   *x.tensor_split(torch.tensor([5]), 2)), None),
    "unbind": (lambda m, x: x.unbind(2)[3] + 1, None),
    "slice_select": (lambda m, x: x[:, 1:5:2, -3:] + x[:, 0, -3:, -1].unsqueeze(1).unsqueeze(-1), None),
    "flatten_view": (lambda m, x: x.flatten(1).view(x.shape[0], 6, -1).sum(-1), ["reshape", "reshape", "reduce"]),
    # squeeze() of every size-1 dim but the batch (its capture is the example's batch: test_export.py)
    "squeeze": (lambda m, x: x[:, :1].squeeze(1).unsqueeze(1).unsqueeze(-1).squeeze((1, -1)), None),
    "permute_transpose": (lambda m, x: x.permute(0, 2, 3, 1).transpose(-1, -2).contiguous(), ["permute", "permute"]),
    "expand": (lambda m, x: x[:, :, :1].expand(-1, -1, 4, -1) + 0, None),
    "reductions": (lambda m, x: x.mean((2, 3), keepdim=True) + x.amax(-1, keepdim=True) + x.sum(1, keepdim=True)
                   - x.max(dim=2, keepdim=True)[0], None),
    "softmax": (lambda m, x: F.softmax(x, -1) + F.log_softmax(x, 1), ["softmax", "softmax", "add"]),
    # ATen's aliases, ops of their own in the captured graph (a Paddle port's torch.multiply)
    "aliases": (lambda m, x: torch.concatenate([torch.multiply(x[:, :3], torch.special.expit(x[:, 3:])),
                                                torch.subtract(x[:, 3:], 1.5)], 1)
                + torch.divide(torch.absolute(x), 3, rounding_mode="floor") + torch.true_divide(torch.negative(x), 2)
                + torch.where(torch.greater(x, 0.5), torch.clip(x, -1, 1), torch.arctan(torch.fix(x * 3)))
                + torch.swapaxes(torch.moveaxis(x, 1, -1), 1, 3).transpose(2, 3), None),
    # DETR's sine position embedding counts unmasked pixels: a condition summed as float32
    "cumsum": (lambda m, x: x.cumsum(-1) + torch.cumsum(x, 1) + (x > 0).cumsum(2, dtype=torch.float32), None),
    # quantiles at a number and at a list, over a dim and over all, each interpolation; NaN
    "quantile": (lambda m, x: (torch.quantile(x, 0.3, dim=1), torch.quantile(x, torch.tensor([0.1, 0.5, 1.0]), dim=-1,
                                                                            keepdim=True),
                               torch.quantile(x[0], 0.77), x.quantile(0.4, dim=2, interpolation="lower"),
                               x.quantile(0.4, dim=2, interpolation="higher"),
                               x.quantile(0.45, dim=3, interpolation="midpoint"),
                               x.quantile(0.55, dim=3, interpolation="nearest"),
                               torch.nan_to_num(torch.quantile(torch.where(x > 1.5, torch.nan, x), 0.6, dim=1), 7.0)),
                 None),
    "logcumsumexp": (lambda m, x: (torch.logcumsumexp(x * 30, 1), x.logcumsumexp(-1)), ["mul", "logcumsumexp",
                                                                                        "logcumsumexp"]),
    "cumprod": (lambda m, x: x.cumprod(-1) + torch.cumprod(x, 1) + (x > 0).cumprod(2, dtype=torch.float32)
                + torch.cumprod(x[0, 0, 0, 0], 0), None),
    "max_pool": (lambda m, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), ["max_pool2d"]),
    "max_pool_dilated": (lambda m, x: F.max_pool2d(x, 2, 1, 0, dilation=2), ["max_pool2d"]),
    "avg_pool": (lambda m, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False) + F.avg_pool2d(x, 2, divisor_override=3)
                 .mean((2, 3), keepdim=True), None),
    "adaptive": (lambda m, x: F.adaptive_avg_pool2d(x, (3, 2)) + F.adaptive_max_pool2d(x, (3, 2)), None),
    "upsample": (lambda m, x: F.interpolate(x, scale_factor=2, mode="nearest") + F.interpolate(
        x, size=(18, 14), mode="bilinear", align_corners=False) + F.interpolate(x, size=(18, 14), mode="nearest-exact"),
        None),
    "upsample_exact_by_a_scale": (lambda m, x: F.interpolate(x, scale_factor=(1.7, 0.6), mode="nearest-exact"),
                                  ["upsample"]),
    "upsample_bicubic": (lambda m, x: (F.interpolate(x, scale_factor=(1.7, 0.6), mode="bicubic"),
                                       F.interpolate(x, size=(4, 11), mode="bicubic", align_corners=True),
                                       F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True)),
                         ["upsample", "upsample", "upsample"]),
    # deformable attention's sampling (RT-DETR): the grid computed from the input
    "grid_sample": (lambda m, x: (F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1).tanh() * 1.2, align_corners=False),
                                  F.grid_sample(x, x[:, 1:3, :3].permute(0, 2, 3, 1), "nearest", "border", True),
                                  F.grid_sample(x, x[:, :2, 1:].permute(0, 2, 3, 1), "bicubic", "reflection", False)),
                    None),
    # a spatial transformer: the affine matrices computed from the input
    "affine_grid": (lambda m, x: (F.grid_sample(x, F.affine_grid(x[:, 0, :2, :3].tanh(), (x.shape[0], 6, 5, 4),
                                                                 align_corners=False), align_corners=False),
                                  F.affine_grid(x[:, 1, :2, :3], (x.shape[0], 6, 2, 3), align_corners=True)), None),
    # F.unfold (VOLO's outlook attention, involution)
    "im2col": (lambda m, x: (F.unfold(x, 3, padding=1), F.unfold(x, (2, 3), dilation=(2, 1), stride=(1, 2)),
                            F.unfold(x, 1)), None),
    # windows that tile the plane (MobileViT's patches): the last row and column no window
    # reads, padding, rectangular windows
    "im2col_tiles": (lambda m, x: (F.unfold(x, 2, stride=2), F.unfold(x, (3, 2), stride=(3, 2), padding=1),
                                   F.unfold(x, (9, 7), stride=(9, 7))),
                     ["pad", "reshape", "permute", "reshape"] * 2 + ["reshape", "permute", "reshape"]),
    # F.fold (VOLO's outlook attention): overlapping taps summed, strided, dilated, padded
    "col2im": (lambda m, x: (F.fold(F.unfold(x, 3, padding=1), (9, 7), 3, padding=1),
                            F.fold(F.unfold(x, 2, stride=2), (8, 6), 2, stride=2),
                            F.fold(x.flatten(2)[:, :, :12].repeat(1, 4, 1) * 2, (6, 6), (2, 3), dilation=(2, 1),
                                   padding=(1, 0), stride=(1, 2)),
                            F.fold(x.flatten(2)[:, :4, :9], (7, 8), 2, stride=(2, 3))), None),
    # windows that tile the plane: exactly, with rows and columns no window reaches, padded
    "col2im_tiles": (lambda m, x: (F.fold(F.unfold(x, 2, stride=2), (8, 6), 2, stride=2),
                                   F.fold(F.unfold(x, 2, stride=2), (9, 7), 2, stride=2),
                                   F.fold(F.unfold(x, (3, 2), stride=(3, 2), padding=1), (9, 7), (3, 2), stride=(3, 2),
                                          padding=1)), None),
    "pad": (lambda m, x: F.pad(x, [1, 2, 0, 3]) + 0, ["pad", "add"]),
    "crop": (lambda m, x: F.pad(x, [-1, 2, 0, -3]) + 0, ["pad", "add"]),
    "pad_modes": (lambda m, x: F.pad(x, [1, 2, 2, 1], mode="reflect") + F.pad(x, [1, 2, 2, 1], mode="replicate"),
                  ["pad", "pad", "add"]),
    "layer_norm": (lambda m, x: F.layer_norm(x, x.shape[-2:], m.p2, m.p3, 1e-3), ["layer_norm"]),
    "matmul": (lambda m, x: x @ x.transpose(-1, -2), ["permute", "matmul"]),
    "prelu": (lambda m, x: F.prelu(x, m.p0.reshape(-1)) + F.prelu(x, torch.tensor([0.25])), None),
    "exponential_activations": (lambda m, x: F.elu(x, 0.7) + F.selu(x) + F.celu(x, 1.3) + F.softplus(x)
                                + F.softplus(x * 30, beta=2) + F.mish(x) + F.logsigmoid(x)
                                + F.softplus(x * 3, threshold=1) + F.softplus(x * 3, 0.5, 2), None),
    "group_norm": (lambda m, x: F.group_norm(x, 3, m.p0.reshape(-1), -m.p0.reshape(-1), 1e-3)
                   + F.instance_norm(x, weight=m.p0.reshape(-1)), None),
    # a BatchNorm without running statistics normalises over the batch in eval mode too
    "batch_statistics": (lambda m, x: (F.batch_norm(x, None, None, m.p0.reshape(-1), -m.p0.reshape(-1), True, eps=1e-3),
                                       F.batch_norm(x.flatten(2), None, None, weight=m.p0.reshape(-1), training=True)),
                         None),
    "pixel_shuffle": (lambda m, x: (F.pixel_shuffle(x[:, :4], 2), F.pixel_unshuffle(x[:, :, :8, :6], 2)), None),
    "norms": (lambda m, x: F.normalize(x, dim=1) + F.normalize(x, p=1, dim=-1) + x.norm(float("inf"), 2, True), None),
    "var_std_mean": (lambda m, x: (*torch.var_mean(x, (2, 3), keepdim=True), *torch.std_mean(x, 1, correction=0)),
                     None),
    "logsumexp": (lambda m, x: (torch.logsumexp(x, 1), torch.logsumexp(x.masked_fill(x > 0, float("-inf")), (2, 3),
                                                                       keepdim=True)), None),
    "rounding": (lambda m, x: (torch.trunc(x * 3), torch.frac(x * 3), torch.div(x * 5, 2, rounding_mode="trunc"),
                               torch.div(x.flatten(1).argmax(1) * 5 - 20, 3, rounding_mode="trunc").float()), None),
    "shrinks": (lambda m, x: (F.hardshrink(x), F.hardshrink(x, 0.8), F.softshrink(x), F.softshrink(x, 1.2)), None),
    "exponential_and_tangent": (lambda m, x: torch.expm1(x) + torch.log1p(x.abs()) + torch.tan(x * 0.3), None),
    # atan2 at +-0 and on both sides of the branch cut; pow of tensors, of a number to a tensor
    "atan2": (lambda m, x: (torch.atan2(x, m.p0), torch.atan2(x * 0.0, -x.abs()), torch.atan2(-(x * 0.0), -x.abs()),
                            torch.atan2(x, x * 0.0)), ["atan2", "mul", "unary", "unary", "atan2", "mul", "unary",
                                                      "unary", "unary", "atan2", "mul", "atan2"]),
    "pow_of_tensors": (lambda m, x: ((x.abs() + 0.5) ** m.p0, 2.0 ** x, torch.pow(x.abs(), x),
                                     (x.abs() + 0.5) ** m.p1[0, 0, 0, 0]), None),
    # repeated indices sum in index order, as torch's
    "index_add": (lambda m, x: (x.index_add(1, torch.tensor([0, 2, 2, 5]), x[:, :4] * 2, alpha=0.5),
                                torch.zeros_like(x).index_add(-1, torch.tensor([6, 0, 6, 6, 3]), x[..., 2:]),
                                x.index_add(2, x[0, 0, :, 0].argsort()[:5], x[:, :, 2:7])), None),
    # writes by computed indices: a permutation's first entries, a value at each row's maximum,
    # equal indices summed, maxima and minima, a canvas filled at computed cells (PointPillars)
    "scatter": (lambda m, x: (torch.zeros_like(x).scatter(1, x.argsort(dim=1)[:, :3], x[:, :3]),
                              x.scatter(3, x.argmax(3, keepdim=True), 5.0),
                              x.scatter_add(2, (x[:, :, :4] * 3).abs().long().clamp(max=8), x[:, :, 1:5]),
                              x.scatter_reduce(1, x.argsort(dim=1) % 3, x * 2, "amax"),
                              x.scatter_reduce(1, x.argsort(dim=1) % 2, x, "amin"),
                              x.scatter_reduce(2, x.argsort(dim=2), x, "sum"), _canvas(m, x)), None),
    # log(exp(x) + exp(y)) without overflow (equal infinities give that infinity); the step function
    "logaddexp_heaviside": (lambda m, x: (torch.logaddexp(x * 60, x.flip(1) * 60), torch.logaddexp(x, x),
                                          torch.logaddexp(x / 0.0, x / 0.0).clamp(-5, 5),
                                          torch.logaddexp(x / 0.0, (-x) / 0.0).clamp(-5, 5),
                                          torch.logaddexp(x, torch.tensor(2.0)),
                                          torch.heaviside(x.round(), torch.tensor([0.25])),
                                          torch.heaviside(x.round(), m.p2[0]), torch.heaviside(x / 0.0 - x / 0.0, x)),
                            None),
    "more_unary": (lambda m, x: (torch.exp2(x), torch.log2(x.abs()), torch.log10(x.abs()), torch.sinh(x),
                                 torch.cosh(x), torch.asin(x.tanh()), torch.acos(x.tanh()), torch.asinh(x),
                                 torch.acosh(x.abs() + 1), torch.atanh(x.tanh() * 0.9), torch.erfc(x), torch.sgn(x),
                                 torch.erfinv(x.tanh() * 0.99)),
                   None),
    # nn.Bilinear's weight (4, 7, 7) over the last dim of images, with and without a bias
    "bilinear": (lambda m, x: (F.bilinear(x, x * 2 + 1, m.p2[:4, :, None] * m.p3[:4, None, :], m.p2[:4, 0]),
                               F.bilinear(x[:, 0], x[:, 1], m.p3[:3, :, None] - m.p2[:3, None, :])), None),
    "fmod_hypot": (lambda m, x: (torch.fmod(x * 5, 2.0), torch.fmod(x * 5, m.p0), torch.hypot(x, m.p0)), None),
    "lerp": (lambda m, x: (torch.lerp(x, m.p0, 0.3), torch.lerp(x, m.p0, 0.75), torch.lerp(x, x * 2, x.sigmoid())),
             None),
    "logit": (lambda m, x: (torch.logit(x.sigmoid()), torch.logit(x, eps=1e-3)), None),
    "threshold_rrelu": (lambda m, x: (F.threshold(x, 0.1, 20.0), F.rrelu(x, 0.1, 0.3)), None),
    "nan_to_num": (lambda m, x: (torch.nan_to_num(x.log()), torch.nan_to_num(x.log(), 1.0, 5.0, -7.0),
                                 torch.nan_to_num(x / 0.0, posinf=3.0)), None),
    "triangles": (lambda m, x: (torch.triu(x), torch.tril(x, -1), x.triu(2)), None),
    "movedim_diff": (lambda m, x: (torch.movedim(x, 1, -1), torch.movedim(x, (1, 2), (3, 1)), torch.diff(x, dim=2),
                                   torch.diff(x, n=2)), None),
    "similarity": (lambda m, x: (F.cosine_similarity(x, x.flip(1) + m.p0), F.cosine_similarity(x, x * 0.0, dim=-1),
                                 F.pairwise_distance(x, x.flip(3)), F.pairwise_distance(x, x * 2, p=1, keepdim=True)),
                   None),
    # rows of the image as points: 7 per set (each difference's norm) and 42 (torch's matrix
    # product for the 2-norm), the 1- and infinity-norms, compute modes forced either way
    "cdist": (lambda m, x: (torch.cdist(x, x.flip(2) * 0.5), torch.cdist(x[:, 0], x[:, 1, :4], p=1),
                            torch.cdist(x, x + 1, p=float("inf")), torch.cdist(x.flatten(1, 2), x.flatten(1, 2) * 2),
                            torch.cdist(x.flatten(1, 2), x.flatten(1, 2).flip(1), compute_mode="donot_use_mm_for_euclid_dist"),
                            torch.cdist(x, x * 3, compute_mode="use_mm_for_euclid_dist")), None),
    # places among constant sorted values (ties either side), counts of non-zeros
    "sorted_positions": (lambda m, x: (torch.bucketize(x.round(), torch.tensor([-1.0, 0.0, 0.5, 1.0])).float(),
                                       torch.bucketize(x.round(), torch.tensor([-1.0, 0.0, 1.0]), right=True).float(),
                                       torch.searchsorted(torch.tensor([-0.5, 0.0, 2.0]), x, side="right").float(),
                                       torch.count_nonzero(x.round(), dim=(2, 3)).float(),
                                       torch.count_nonzero(x.round(), dim=1).float()), None),
    "one_hot_diagonal": (lambda m, x: (F.one_hot(x.argmax(1), 6).float(), F.one_hot(x[:, 0].argmax(-1), 9).float(),
                                       torch.diagonal(x, dim1=2, dim2=3), torch.diagonal(x, 2, 2, 3),
                                       torch.diagonal(x, -3, -2, -1), torch.diagonal(x, 1, 1, 2),
                                       torch.diag_embed(x[:, :, 0])), None),
    # the image's channels as 2 x 3 depth planes: scales, sizes, corners aligned or not
    "trilinear": (lambda m, x: (F.interpolate(x.unflatten(1, (2, 3)), scale_factor=2, mode="trilinear"),
                                F.interpolate(x.unflatten(1, (2, 3)), scale_factor=(1.5, 1, 0.5), mode="trilinear",
                                              align_corners=True),
                                F.interpolate(x.unflatten(1, (2, 3)), size=(5, 11, 4), mode="trilinear")), None),
    # likewise nearest and nearest-exact (a 3-d U-Net's nn.Upsample): up by 2, by 1.5, mixed, to sizes
    "nearest_3d": (lambda m, x: (F.interpolate(x.unflatten(1, (2, 3)), scale_factor=2),
                                 F.interpolate(x.unflatten(1, (2, 3)), scale_factor=1.5),
                                 F.interpolate(x.unflatten(1, (2, 3)), scale_factor=(2, 1.5, 3), mode="nearest-exact"),
                                 F.interpolate(x.unflatten(1, (2, 3)), size=(5, 7, 3)),
                                 F.interpolate(x.unflatten(1, (2, 3)), size=(7, 4, 9), mode="nearest-exact")), None),
    # over the batch too: the count of values n in n / (n - correction) taken as it runs
    "variance_over_the_batch": (lambda m, x: (x.std(), x.var(dim=(0, 2), keepdim=True), torch.var(x, 0, correction=0.5),
                                              torch.std(x, (0, 1), correction=0)), None),
    # antialiased: down by a scale and to a size, bicubic with corners aligned, and up
    "antialiased": (lambda m, x: (F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True),
                                  F.interpolate(x, size=(5, 4), mode="bilinear", antialias=True),
                                  F.interpolate(x, size=(4, 3), mode="bicubic", align_corners=True, antialias=True),
                                  F.interpolate(x, scale_factor=(1.5, 0.7), mode="bicubic", antialias=True)), None),
    "outer_aminmax": (lambda m, x: (torch.outer(m.p2[:, 0], m.p3[0]) + x, *torch.aminmax(x, dim=2),
                                    *torch.aminmax(x, dim=-1, keepdim=True)), None),
    # a bias per column (a linear layer's), and a bias computed per row and column
    "addmm": (lambda m, x: (torch.addmm(m.p2[0], x[:, 0, 0], m.p3[:7]), torch.addmm(m.p2[1:2], x[:, 0, 0], m.p3[:7]),
                            torch.addmm(x[:, 0, 1], x[:, 0, 0], m.p3[:7])), None),
    "round_decimals_circular_pad": (lambda m, x: (torch.round(x, decimals=2), torch.round(x * 100, decimals=-1),
                                                  F.pad(x, (1, 2, 3, 0), mode="circular")), None),
    "prod": (lambda m, x: (x.prod(1, keepdim=True), (x * 0.2 + 1).prod(-1), (x[0] * 0.1 + 1).prod()), None),
    "variance": (lambda m, x: x.var((2, 3), keepdim=True) + x.std(1, keepdim=True, unbiased=False)
                 + torch.var(x, -1, correction=2, keepdim=True), None),
    "channel_shuffle": (lambda m, x: F.channel_shuffle(x, 3), ["reshape", "permute", "reshape"]),
    "repeat_tile": (lambda m, x: x.repeat(1, 2, 1, 3) + x.narrow(1, 2, 3).tile((2, 1, 3)).repeat(1, 2, 1, 1), None),
    # RT-DETR's valid-anchor mask, a boolean constant, multiplying the features
    "bool_constant_operand": (lambda m, x: x * (m.p0 > 0) + (m.p0 < 0), None),
    "glu_square": (lambda m, x: F.glu(x, 1) + torch.square(x[:, :3]), None),
    # EdgeNeXt's positional encoding: running sums of a mask made of a tensor cast to bool
    "bool_casts": (lambda m, x: (~torch.zeros(x.shape[0], 9, 7).to(dtype=torch.bool)).cumsum(1, dtype=torch.float32)
                   .unsqueeze(1) * x + torch.where(F.relu(x).bool(), x, -1.0), None),
    "addcmul_addcdiv": (lambda m, x: torch.addcmul(m.p1, m.p0, x, value=0.5) + torch.addcdiv(x, x, m.p0 + 2),
                        None),
    "reshape_as": (lambda m, x: x.flatten(2).reshape_as(x) + x.reshape(x.shape[0], -1)[:, :180].reshape_as(x[:, :, :5, :6]).sum(),
                   None),
    "baddbmm": (lambda m, x: torch.baddbmm(x[:, 0], x[:, 1], x[:, 2].transpose(1, 2)[:, :, :7], beta=0.5, alpha=2.0), None),
    "expand_to_the_batch": (lambda m, x: torch.cat([m.p1.expand(x.shape[0], -1, -1, -1), x[:, :, :1]], 2),
                            ["slice", "expand", "concat"]),  # expanded where a node reads it
    # SSD's L2Norm: a per-channel scale expanded to the features' shape, whose batch is only known at run time
    "expand_as_the_batch": (lambda m, x: (m.p0.reshape(1, -1, 1, 1).expand_as(x) * x, m.p0[:1].expand_as(x[:, :1])),
                            None),
    "einsum": (lambda m, x: (torch.einsum("bchw,bdhw->bcd", x, x), torch.einsum("bchw->bhwc", x),
                             torch.einsum("bchw,c->bhw", x, m.p0.reshape(-1)),
                             torch.einsum("bchw,bcwk->bchk", x, x[:, :, :7]),
                             torch.einsum("bi,bj->bij", x[:, :, 0, 0], x[:, :, 1, 1]), torch.einsum("bchw->b", x),
                             torch.einsum("bchw,hk->bckw", x, m.p2),
                             # three and four operands: linear attention's normalised product, a
                             # letter shared by all three, a chain summed to one value a row
                             torch.einsum("bcde,bcdn,bcn->bcen", x[:, :, :, :5], x, x[:, :, 0]),
                             torch.einsum("bchw,bdhw,bh->bcd", x, x.flip(1), x[:, 0, :, 0]),
                             torch.einsum("bi,ij,jk,bk->b", x[:, :, 0, 0], m.p2[:6], m.p3[:7, :5], x[:, 0, 0, :5]),
                             # ellipses (the output's holds the most dims) and implicit outputs
                             torch.einsum("...hw,wk->...hk", x, m.p2[:7]), torch.einsum("bc...,bc...->b...", x, x),
                             torch.einsum("...ij,jk", x, m.p2[:7]), torch.einsum("bchw,bdhw", x, x),
                             torch.einsum("...j,j->...", x, m.p0.reshape(-1)[:1].expand(7))),
               None),
    # torch.fft on the engine: a global filter (GFNet), transforms over channels, trimmed, padded,
    # normalised each way, complex products, quotients, conjugates, magnitudes and phases
    "fft": (lambda m, x: (torch.fft.irfft2(torch.fft.rfft2(x, norm="ortho") * torch.complex(m.p2[:, :4], m.p3[:, :4]),
                                           s=(9, 7), norm="ortho"),
                          torch.fft.fft(x, dim=1).real, torch.fft.ifft(torch.fft.fft(x), n=5).abs(),
                          torch.fft.rfft(x, n=10)[..., 1:5].angle(), torch.view_as_real(torch.fft.fftn(x, dim=(1, 2),
                                                                                                       norm="forward")),
                          torch.fft.irfft(torch.fft.rfft(x), n=8), torch.fft.irfft(torch.fft.rfft(x, dim=2), dim=2),
                          (torch.fft.fft2(x) / (torch.fft.fft2(x.flip(2)) * 0.05 + 3)).real, torch.fft.ifft2(x).conj().imag,
                          (torch.fft.rfft(x) * m.p0 + torch.fft.rfft(x.flip(3))).imag,
                          torch.fft.irfftn(torch.view_as_complex(torch.stack([x, x.flip(1)], -1)), dim=(1, 2, 3)),
                          torch.fft.fft(x).sum(1).imag, torch.fft.fft(x, dim=2).mean((2, 3)).real,
                          (-torch.fft.fft(x)).real, torch.exp(torch.fft.fft(x) * 0.1).imag,
                          # rotary position embeddings: pairs as complex numbers turned by angles
                          torch.view_as_real(torch.view_as_complex(x[..., :6].reshape(*x.shape[:3], 3, 2).contiguous())
                                             * torch.polar(x[..., :3].abs(), x[..., 3:6])).flatten(3)),
            None),
    # a spectrogram: framed by its hop, windowed, its frequencies' magnitudes
    "stft": (lambda m, x: (torch.stft(x.flatten(1), 16, 4, window=torch.hann_window(16), return_complex=True).abs(),
                           torch.stft(x[:, 0, 0], 4, 2, win_length=3, window=torch.ones(3), center=False,
                                      normalized=True, return_complex=True).real), None),
    "constant_indices": (lambda m, x: (x[:, [2, 1, 0, -1]], x.index_select(1, torch.tensor([5, 3, 4])), x[:, :, [0, 8, 8]]),
                         ["slice"] * 4 + ["concat"] + ["slice"] * 2 + ["concat"] + ["slice"] * 3 + ["concat"]),
    "conv1d": (lambda m, x: (F.conv1d(x.mean((2, 3)).unsqueeze(1), m.p0.reshape(2, 1, 3), padding=2, stride=2,
                                      dilation=2),
                             F.conv1d(x.flatten(2)[:, :, :6], m.p0.reshape(6, 1, 1), m.p0.reshape(-1), groups=6,
                                      padding="same")), None),
    "flip": (lambda m, x: torch.flip(x, [1, -1]) + x.flip(2) * 2, ["slice", "slice", "slice", "mul", "add"]),
    # any and all of a condition are conditions: their masks' largest and smallest entries
    "condition_reductions": (lambda m, x: ((x > 0).any(1, keepdim=True).float() + (x > -1).all(-1).unsqueeze(-1).float(),
                                           torch.where((x > 0.5).any((2, 3), keepdim=True), x, -x),
                                           x.masked_fill(~(x < 2).all(1, keepdim=True), 7.0), (x > 0).all().float() + x),
                             None),
    # tensordot as the einsum of its pairs: the first operand's free dims, then the second's
    "tensordot": (lambda m, x: (torch.tensordot(x, m.p2[:7], dims=([3], [0])),
                                torch.tensordot(m.p3, x, dims=([0, 1], [2, 3])),
                                torch.tensordot(x, x[:1], dims=([1, 2, 3], [1, 2, 3]))), None),
    # losses in a forward (an autoencoder's reconstruction error as its anomaly score)
    "losses": (lambda m, x: (F.mse_loss(x, x.flip(1), reduction="none").mean(1), F.l1_loss(x, x.flip(2)),
                             F.smooth_l1_loss(x, x * 0.5, reduction="sum"), F.smooth_l1_loss(x, -x, beta=0.3),
                             F.huber_loss(x, x.flip(3), reduction="none", delta=0.7),
                             F.mse_loss(x, x * m.p1, reduction="sum"),
                             F.smooth_l1_loss(x, x.flip(1), reduction="none", beta=0.0)), None),
    # each tensor expanded to the shape they broadcast to, batch included (an anchor grid's)
    "broadcast_tensors": (lambda m, x: (torch.stack(torch.broadcast_tensors(x, x.mean((2, 3), keepdim=True))).sum(0),
                                        sum(torch.broadcast_tensors(torch.arange(7.0)[None, None], x[:, 0, :, :1]))),
                          None),
    "rot90": (lambda m, x: (torch.rot90(x, 1, (2, 3)), torch.rot90(x, 2, (2, 3)) + 1, torch.rot90(x, -1, (3, 2)),
                            torch.rot90(x, 7, (1, -1)), torch.rot90(x, 4, (2, 3)) + 0),
              ["slice", "permute", "slice", "slice", "add", "slice", "permute", "slice", "permute", "add"]),
    "roll": (lambda m, x: (torch.roll(x, (-2, 3), (2, 3)), torch.roll(x, 8, 1), torch.roll(x, 18, 2) + 0),
             ["slice", "slice", "concat", "slice", "slice", "concat", "slice", "slice", "concat", "add"]),
    "pool1d": (lambda m, x: (F.max_pool1d(x.flatten(2), 3, 2, 1, ceil_mode=True),
                             F.avg_pool1d(x.flatten(2), 4, 3, 1, count_include_pad=False),
                             F.adaptive_avg_pool1d(x.flatten(2), 5), F.adaptive_max_pool1d(x.flatten(2), 5),
                             F.max_pool1d(x.flatten(2), 2, dilation=2)), None),
    # a table repeated over the run-time batch (XCiT's positional encoding), a new leading dim;
    # each entry repeated in place (GCViT), along the batch too
    "repeat": (lambda m, x: (m.p1.repeat(x.shape[0], 1, 3, 1), x.repeat(2, 1, 1, 2, 1), torch.tile(x, (2, 1))),
               None),
    "repeat_interleave": (lambda m, x: (x.repeat_interleave(2, dim=1), x.repeat_interleave(3, -1),
                                        torch.repeat_interleave(x, 2, dim=0), x[0, 0].repeat_interleave(2)), None),
    # HaloNet's blocks with their halo: windows of 4 every 2 along H, then of 3 every 3 along W
    "unfold": (lambda m, x: (x.unfold(2, 4, 2).unfold(3, 3, 3), x.unfold(-1, 1, 2), x.unfold(1, 2, 1)), None),
    "unflatten": (lambda m, x: x.unflatten(1, (2, -1)).sum(2), ["reshape", "reduce"]),
    "attention": (lambda m, x: F.scaled_dot_product_attention(x, x, x), ["permute", "matmul", "mul", "softmax", "matmul"]),
    # a float mask added, a boolean one (False: masked out), causal, an explicit scale; 7 queries, 9 keys
    "attention_masks": (lambda m, x: F.scaled_dot_product_attention(x[:, :, :7], x, x * 2, attn_mask=m.p2.t())
                        + F.scaled_dot_product_attention(x[:, :, :7], x, x, attn_mask=m.p3.t() > -1, scale=0.3)
                        + F.scaled_dot_product_attention(x, x, x, is_causal=True)[:, :, 2:], None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ops_lower_and_match_torch(case):
    fn, expected = CASES[case]
    torch.manual_seed(0)
    model = Fn(fn, torch.randn(6, 1, 1), torch.randn(1, 6, 1, 7), torch.rand(9, 7) + 0.5, torch.randn(9, 7))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert low.graph.dynamic_batch
    if expected is not None:
        assert ops(low) == expected
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(5, *IMAGE[1:]))  # another batch size


@pytest.mark.parametrize("fn,kind", [(lambda x: x * torch.sigmoid(x), "silu"),
                                     (lambda x: torch.tanh(F.softplus(x)) * x, "mish"),
                                     (lambda x: x.mul(torch.tanh(F.softplus(x, 1.0))), "mish")])
def test_a_tensor_times_its_own_gate_is_the_activation(fn, kind):
    """Swish and Mish spelled out (x * sigmoid(x), x * tanh(softplus(x))) are one activation node
    once the gate's own nodes, used by nothing else, are gone."""
    model, x = Fn(lambda m, x: fn(x)), torch.randn(*IMAGE)
    low = lowered(model, x)
    optimize.dead_nodes(low)
    assert [(n.op, n.attrs.get("activation")) for n in low.graph.nodes] == [("activation", kind)]
    assert_matches(low, model, x)


@pytest.mark.parametrize("fn,expected", [
    (lambda x: (x + 1.0) * torch.sigmoid(x), ["add", "sigmoid", "mul"]),
    (lambda x: x * torch.tanh(x), ["tanh", "mul"]),
    (lambda x: (lambda s: x * s + s)(torch.sigmoid(x)), ["sigmoid", "silu", "add"]),
    (lambda x: x * torch.tanh(F.softplus(x, 2.0)), None),
    (lambda x: x * torch.tanh(F.softplus(x, threshold=5.0)), None)])
def test_other_gates_stay_products(fn, expected):
    """A gate of another tensor, tanh alone, softplus of another beta or threshold (whose linear part
    starts below where tanh reaches 1) stay products; a gate used elsewhere too stays for that use."""
    model, x = Fn(lambda m, x: fn(x)), torch.randn(*IMAGE)
    low = lowered(model, x)
    optimize.dead_nodes(low)
    got = [n.attrs.get("activation", n.op) for n in low.graph.nodes]
    assert got == expected if expected else got[-1] == "mul"
    assert_matches(low, model, x)


def test_softplus_and_log_sigmoid_keep_their_tails():
    """Far left softplus(x) is exp(x) itself, and log-sigmoid far right -exp(-x): 1 + exp(x)
    would round them to 0."""
    model = Fn(lambda m, x: (F.softplus(x), F.logsigmoid(-x), F.softplus(x * 2, 2.0)))
    x = torch.linspace(-80.0, -5.0, 64).reshape(1, 1, 8, 8)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    for got, want in zip(engine.Engine(low.graph)(x.numpy()), model(x)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", [lambda x: torch.zeros_like(x).scatter_add_(1, x.argsort(dim=1) % 2, x),
                                lambda x: x.clone().scatter_reduce_(1, x.argsort(dim=1) % 3, x * 2, "amax"),
                                lambda x: torch.zeros(2, 4, 9, 7).scatter_add_(1, torch.tensor([0, 1, 1, 2, 3, 3])
                                                                               .view(1, 6, 1, 1).expand(2, 6, 9, 7), x)])
def test_in_place_scatters_add_and_reduce_into_repeated_indices(fn):
    """scatter_add_ and scatter_reduce_ (a GNN's messages summed into their nodes) as their
    out-of-place ops: the entries of repeated indices add up or reduce, none overwrites another."""
    model, x = Fn(lambda m, x: fn(x)), torch.randn(2, 6, 9, 7)
    low = lowered(model, x)
    assert low.unsupported == [] and [n.attrs["reduce"] for n in low.graph.nodes if n.op == "scatter"] != ["none"]
    assert_matches(low, model, x)


def convex_upsampling(m: nn.Module, flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RAFT's: each output pixel a softmax-weighted sum of the 3x3 neighbourhood around its
    coarse pixel, through (N, 1, 9, 8, 8, H, W) tensors."""
    n, _, h, w = flow.shape
    mask = torch.softmax(mask.view(n, 1, 9, 8, 8, h, w), dim=2)
    up = F.unfold(8 * flow, [3, 3], padding=1).view(n, 2, 9, 1, 1, h, w)
    return torch.sum(mask * up, dim=2).permute(0, 1, 4, 2, 5, 3).reshape(n, 2, 8 * h, 8 * w)


def test_rank_7_tensors_lower_and_run():
    model = Fn(convex_upsampling)
    flow, mask = torch.randn(2, 2, 5, 6), torch.randn(2, 576, 5, 6)
    low = lowered(model, flow, mask)
    assert low.unsupported == [] and low.graph.dynamic_batch
    assert max(len(v.shape) for v in low.values.values() if hasattr(v, "shape")) == 7
    assert_matches(low, model, flow, mask)
    assert_matches(low, model, torch.randn(3, 2, 5, 6), torch.randn(3, 576, 5, 6))
    got = engine.Engine(low.graph)(flow.numpy(), mask.numpy())
    np.testing.assert_allclose(got, model(flow, mask).numpy(), rtol=1e-5, atol=1e-5)


class SharedEncoder(nn.Module):
    """Two images' batches concatenated for one encoder, then split back (RAFT's, a siamese
    network's), and a batch tripled and split by its size."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.enc(torch.cat([a, b], 0))
        fa, fb = torch.split(f, [a.shape[0], a.shape[0]], 0)
        t = torch.cat([f, f * 2, f * 3], 0).split(f.shape[0], 0)
        return fa - fb, t[0] + t[1] - t[2]


def test_a_run_time_batch_splits_into_parts_of_one_size():
    model = SharedEncoder()
    a, b = torch.randn(2, 3, 6, 5), torch.randn(2, 3, 6, 5)
    low = lowered(model, a, b)
    assert low.unsupported == [] and low.graph.dynamic_batch and ops(low).count("split") == 2
    assert_matches(low, model, a, b)
    assert_matches(low, model, torch.randn(3, 3, 6, 5), torch.randn(3, 3, 6, 5))


def test_integer_and_boolean_tensors_of_one_value_and_the_run_time_batch_fold():
    """DETR's padding mask (boolean zeros of the batch, negated and counted along rows by its
    sine position encoding) and CondInst's level per instance (integer zeros of the batch,
    indexing a constant): constants of one item, folded, at any batch."""
    sizes = torch.tensor([64.0, 128.0, 256.0])

    def fn(m, x):
        n, _, h, w = x.shape
        mask = torch.zeros((n, h, w), dtype=torch.bool)
        y_embed = (~mask).cumsum(1, dtype=torch.float32)
        levels = torch.zeros(n, dtype=torch.long) + 2
        return x + y_embed[:, None], x * sizes[levels].view(-1, 1, 1, 1)

    model, x = Fn(fn), torch.randn(2, 3, 5, 4)
    low = lowered(model, x)
    assert low.unsupported == [] and low.graph.dynamic_batch
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 3, 5, 4))


@pytest.mark.parametrize("move", [lambda c: c.flatten(2), lambda c: c.permute(0, 2, 3, 1).reshape(c.shape[0], -1),
                                  lambda c: c.transpose(1, 2)[:, 1:], lambda c: c.unsqueeze(1).expand(-1, 2, -1, -1, -1)])
def test_a_condition_moved_is_a_condition(move):
    """A comparison reshaped, permuted, sliced or expanded before it is read (DETR's
    mask.flatten(1) as a key padding mask): its mask moved, tested again."""
    model, x = Fn(lambda m, x: torch.where(move(x > 0), move(x), move(x * -2))), torch.randn(2, 3, 5, 4)
    low = lowered(model, x)
    assert low.unsupported == [] and "where" in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 3, 5, 4))


def _masked_writes(m, x):
    y = x.clone().flatten()
    y[y < 0] = 0.5  # one value where the mask holds, over all dims
    z = x * 2
    rows = x.sum(-1) > 0
    z[rows] = 7.0  # over the leading dims
    w = x * 3
    big = x > 1
    w[big] = x[big]  # the same mask's entries of another tensor
    v = x - 1
    v[x < 0] = x[x < 0]  # the comparison written twice
    return y, z, w, v


def _masked_arithmetic(m, x):
    y = x * 1.5
    y[y > 0.1] += 1.0  # add_ of one value, over all dims
    z = x + 1
    rows = x.sum(-1) > 0
    z[rows] *= 0.5  # over the leading dims
    w = x - 1
    big = x > 0.5
    w[big] = w[big] * x[big] - 2  # arithmetic of two tensors' entries and a number
    v = x * 3
    v[rows] += m.p0  # a tensor broadcast along the unmasked dim
    u = x * 2
    u[u < 0] /= m.p1  # a one-element tensor
    return y, z, w, v, u


@pytest.mark.parametrize("writes, params, wheres", [(_masked_writes, (), 4),
                                                    (_masked_arithmetic, (torch.randn(4), torch.tensor([0.25])), 5)],
                         ids=["values", "arithmetic"])
def test_a_write_by_a_boolean_mask_is_a_where(writes, params, wheres):
    """x[mask] = value and x[mask] = y[mask] (FPS's distance update, a clip of boxes), the
    mask over all of x's dims or its leading ones: a where, at any batch; the entries y[mask]
    alone, of a size known only at run time, are read no more. A boolean index used to be taken
    for an integer one (entries 0 and 1 written). x[m] += 1, x[m] *= y[m] and the like: the same
    arithmetic of the whole tensors, taken where the mask holds; it was a torch call (its values
    were not one value or y[m])."""
    model, x = Fn(writes, *params), torch.randn(2, 3, 4)
    low = lowered(model, x)
    optimize.dead_nodes(low)
    assert not low.calls and ops(low).count("where") >= wheres, ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 3, 4))


def _ball_query(m, x):
    """PointNet++'s grouping: each centre's neighbours within a radius, by index, the missing
    ones repeating the first; and indices written into an integer tensor."""
    xyz = x.permute(0, 2, 1)
    b, n, _ = xyz.shape
    d = torch.cdist(xyz[:, :4], xyz) ** 2
    group = torch.arange(n).view(1, 1, n).repeat(b, 4, 1)
    group[d > 1.0] = n
    group = group.sort(dim=-1)[0][:, :, :5]
    first = group[:, :, 0].view(b, 4, 1).repeat(1, 1, 5)
    missing = group == n
    group[missing] = first[missing]
    picked = torch.zeros(b, 2, dtype=torch.long)
    picked[:, 0] = d.sum(-1).argmax(-1)
    picked[:, 1] = d.sum(-1).argmin(-1)
    return group.float(), picked.float()


def test_integer_tensors_written_and_sorted_stay_on_the_engine():
    model, x = Fn(_ball_query), torch.randn(2, 3, 16)
    low = lowered(model, x)
    optimize.dead_nodes(low)
    assert not low.calls, list(low.calls)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 3, 16))


def test_a_constant_index_expanded_to_the_run_time_batch_scatters_on_the_engine():
    """A GNN's edge index (a buffer) expanded to the batch the input has: the engine holds its
    integers, so the scatter runs there too, at any batch."""
    edges = torch.tensor([0, 1, 1, 2, 3, 3])
    model = Fn(lambda m, x: torch.zeros(x.shape[0], 4, 9, 7).scatter_add(
        1, edges.view(1, 6, 1, 1).expand(x.shape[0], -1, 9, 7), x))
    x = torch.randn(2, 6, 9, 7)
    low = lowered(model, x)
    assert low.unsupported == [] and "scatter" in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 6, 9, 7))


# (kernel, stride, padding, output padding, dilation, groups, bias, input height and width)
TRANSPOSED = [
    (2, 2, 0, 0, 1, 1, True, (5, 4)), ((4, 4), 2, 1, 0, 1, 1, False, (3, 6)), (3, 2, 1, 1, 1, 2, True, (4, 5)),
    (5, 3, 2, 2, 1, 1, True, (2, 3)), ((3, 2), (2, 3), (1, 0), (0, 2), 1, 1, True, (4, 4)),
    (4, 3, 0, 0, 1, 2, True, (1, 5)), (3, 3, 2, 0, 1, 1, False, (3, 3)),
    ((2, 5), (1, 2), (1, 4), (0, 1), 1, 1, True, (2, 6)), (5, 2, 4, 1, 1, 1, True, (6, 3)), (2, 4, 1, 3, 1, 2, True, (3, 1)),
    # dilated: a stride dividing the dilation or prime to it, output padding below the dilation
    # but not the stride, one-pixel inputs
    (3, 2, 1, 1, 2, 2, True, (4, 5)), ((3, 2), (2, 3), (1, 0), (0, 2), (3, 2), 1, True, (4, 4)),
    (4, 3, 2, 1, 2, 2, True, (2, 5)), ((1, 3), 2, (0, 2), 1, (1, 4), 1, True, (5, 3)),
    (5, 4, 3, 0, 3, 1, False, (1, 1)),
]


@pytest.mark.parametrize("kernel, stride, padding, extra, dilation, groups, bias, size", TRANSPOSED)
def test_transposed_convolutions_lower_to_convolutions_of_their_phases(kernel, stride, padding, extra, dilation,
                                                                       groups, bias, size):
    """One convolution per output phase or one for all of them (sub-pixel), interleaved; other
    batch and image sizes run too."""
    torch.manual_seed(0)
    model = nn.ConvTranspose2d(4, 6, kernel, stride, padding, extra, groups, bias, dilation)
    x = torch.randn(2, 4, *size)
    low = lowered(model, x)
    assert low.unsupported == []
    phases = ops(low).count("conv2d")
    assert ops(low)[:phases] == ["conv2d"] * phases and "permute" in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, size[0] + 2, size[1] + 1))


# (kernel, padding, output padding, dilation, groups, bias, input height and width), stride 1
TRANSPOSED_UNIT_STRIDE = [
    (3, 1, 0, 1, 1, True, (1, 1)), (1, 0, 0, 1, 2, False, (3, 2)), (3, 0, 0, 2, 2, True, (4, 5)),
    (2, 1, 2, 3, 1, False, (3, 2)), (3, 2, 0, 2, 1, True, (6, 7)), (5, 2, 0, 1, 2, False, (5, 4)),
    ((3, 5), (1, 2), 0, (2, 1), 2, True, (6, 4)), (4, 3, 0, 1, 1, True, (5, 5)), (3, 4, 1, 2, 1, True, (7, 6)),
]


@pytest.mark.parametrize("kernel, padding, extra, dilation, groups, bias, size", TRANSPOSED_UNIT_STRIDE)
def test_a_transposed_convolution_of_stride_1_is_one_convolution(kernel, padding, extra, dilation, groups, bias,
                                                                 size):
    """The kernel turned round, its dilation kept (not spread out with zeros); a padding past the
    kernel's extent crops after it; other batch and image sizes run too."""
    torch.manual_seed(0)
    model = nn.ConvTranspose2d(4, 6, kernel, 1, padding, extra, groups, bias, dilation)
    x = torch.randn(2, 4, *size)
    low = lowered(model, x)
    assert ops(low) in (["conv2d"], ["conv2d", "pad"]), ops(low)
    assert low.graph.constants[low.graph.nodes[0].inputs[1]].shape[2:] == model.weight.shape[2:]
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, size[0] + 2, size[1] + 1))


@pytest.mark.parametrize("kernel, stride, padding, extra, size, phases", [
    (3, 2, 1, 1, 16, 4),  # ERFNet's and CycleGAN's upsampling: 9 taps per 4 outputs, not 16
    (4, 2, 1, 0, 2, 4),  # DCGAN's and pix2pix's on a 2x2 map: the sub-pixel grid is 2.25x the output
    (4, 2, 1, 0, 4, 1),  # on a 4x4 one 1.56x: four smaller convolutions are no faster than one
    (2, 2, 0, 0, 8, 1),  # each phase reads one tap: nothing to save
    (1, 2, 0, 1, 8, 1)])  # phases that read no input
def test_a_transposed_convolution_splits_into_phases_where_that_saves_multiply_adds(kernel, stride, padding, extra,
                                                                                    size, phases):
    torch.manual_seed(0)
    model = nn.ConvTranspose2d(8, 6, kernel, stride, padding, extra)
    x = torch.randn(1, 8, size, size)
    low = lowered(model, x)
    assert ops(low).count("conv2d") == phases
    assert_matches(low, model, x)


@pytest.mark.parametrize("kernel, stride, padding, extra, bias, size, scattered", [
    (4, 2, 1, 0, True, 4, True),  # DCGAN's and pix2pix's on a 4x4 map: the 5x5 grid is 1.56x the map
    (4, 2, 1, 0, False, 8, True),  # on 8x8, 1.27x
    (4, 2, 1, 1, True, (3, 5), True),  # output padding: the bias added after the crop
    (4, 2, 1, 0, True, 16, False),  # on 16x16, 1.13x: the shared sub-pixel convolution
    (2, 2, 0, 0, True, 4, False)])  # one tap per phase: nothing to scatter
def test_a_transposed_convolution_of_a_small_map_scatters_its_taps_products(kernel, stride, padding, extra, bias, size,
                                                                             scattered):
    """One 1x1 convolution to every tap's products, each tap's block padded to its place on the
    sub-pixel grid and the blocks added, where the grid is 1.2x the map or more; other image and
    batch sizes run on the same graph."""
    torch.manual_seed(0)
    model = nn.ConvTranspose2d(8, 6, kernel, stride, padding, extra, bias=bias)
    size = (size, size) if isinstance(size, int) else size
    x = torch.randn(1, 8, *size)
    low = lowered(model, x)
    kernels = [tuple(low.graph.constants[n.inputs[1]].shape[2:]) for n in low.graph.nodes if n.op == "conv2d"]
    assert ("split" in ops(low)) == scattered and len(kernels) == 1 and (kernels == [(1, 1)] or not scattered)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(2, 8, size[0] + 3, size[1] + 1))


# (kernel, stride, padding, output padding, dilation, groups, bias, input length): HiFi-GAN's
# upsampling (kernel 2 * stride), odd kernels, dilated ones, a one-sample input
TRANSPOSED_1D = [
    (16, 8, 4, 0, 1, 1, True, 7), (4, 2, 1, 0, 1, 2, False, 9), (3, 2, 1, 1, 1, 1, True, 5),
    (11, 5, 3, 2, 1, 1, True, 4), (3, 1, 1, 0, 1, 2, True, 6), (3, 2, 2, 1, 2, 1, False, 5),
    (5, 3, 0, 0, 2, 2, True, 1), (1, 1, 0, 0, 1, 1, True, 3),
]


@pytest.mark.parametrize("kernel, stride, padding, extra, dilation, groups, bias, length", TRANSPOSED_1D)
def test_1d_transposed_convolutions_lower_as_2d_ones(kernel, stride, padding, extra, dilation, groups, bias, length):
    torch.manual_seed(0)
    model = nn.ConvTranspose1d(4, 6, kernel, stride, padding, extra, groups, bias, dilation)
    x = torch.randn(2, 4, length)
    low = lowered(model, x)
    assert low.unsupported == []
    assert ops(low)[:2] == ["reshape", "conv2d"]
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, length))


# (kernel, stride, padding, dilation, groups, bias, input depth, height and width)
CONV3D = [
    (3, 1, 1, 1, 1, True, (4, 5, 6)), ((3, 7, 7), (1, 2, 2), (1, 3, 3), 1, 1, False, (5, 9, 8)),
    (3, 2, 1, 1, 2, True, (5, 7, 4)), ((3, 1, 1), 1, (1, 0, 0), 1, 1, True, (3, 2, 5)),
    ((9, 9, 1), 1, (4, 4, 0), 1, 1, False, (6, 7, 5)),  # LambdaNet's position lambdas
    (1, 1, 0, 1, 4, True, (2, 3, 3)), ((1, 3, 3), 1, 0, 1, 1, True, (3, 5, 5)), (2, (2, 1, 3), 0, 1, 1, True, (5, 4, 7)),
    (3, 1, "same", 1, 2, True, (4, 4, 5)), ((2, 4, 3), 1, "same", (2, 1, 2), 1, False, (6, 5, 4)),
    (3, 1, "valid", 1, 4, True, (3, 3, 3)), (3, (3, 1, 2), (2, 1, 0), (2, 1, 1), 2, True, (7, 3, 6)),
    (2, 1, (1, 1, 0), 1, 1, True, (1, 1, 2)),  # one-deep, one-row input
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, groups, bias, size", CONV3D)
def test_3d_convolutions_lower_to_a_2d_one_over_depth_slices(kernel, stride, padding, dilation, groups, bias, size):
    torch.manual_seed(0)
    model = nn.Conv3d(4, 8, kernel, stride, padding, dilation, groups, bias)
    x = torch.randn(2, 4, *size)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert ops(low).count("conv2d") == 1
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, *size))


@pytest.mark.parametrize("kernel, bias, size", [(2, True, (3, 5, 4)), ((1, 2, 2), False, (2, 3, 3)),
                                                (3, True, (1, 2, 1)), (1, True, (2, 2, 3))])
def test_a_3d_transposed_convolution_of_its_stride_is_one_1x1_convolution_then_a_rank_8_interleave(kernel, bias, size):
    """A 3-d U-Net's upsampling: every voxel's block of outputs from one 1x1 conv2d, put in place
    through rank-8 tensors, on the engine too."""
    torch.manual_seed(0)
    model = nn.ConvTranspose3d(4, 6, kernel, kernel, bias=bias)
    x = torch.randn(2, 4, *size)
    low = lowered(model, x)
    assert ops(low) == ["reshape", "conv2d", "reshape", "permute", "reshape"], ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, *size))
    with torch.no_grad():
        np.testing.assert_allclose(engine.Engine(low.graph)(x.numpy()), model(x).numpy(), rtol=1e-5, atol=1e-5)


# (kernel, stride, padding, output padding, dilation, groups, bias)
TRANSPOSED_3D = [
    (3, 2, 1, 1, 1, 1, True),  # a 3-d decoder's upsampling
    ((3, 4, 2), (2, 2, 1), (1, 1, 0), (1, 0, 0), 1, 1, True), (3, 2, 1, 0, 1, 2, False),
    ((2, 3, 3), (3, 1, 2), 0, (2, 0, 1), (2, 1, 1), 1, True),
    (1, 2, 0, 1, 1, 1, True),  # outputs no tap reaches: the bias alone
    (3, 1, 1, 0, 1, 1, False), ((1, 3, 3), (1, 2, 2), (0, 1, 1), (0, 1, 1), 1, 1, True), (4, 2, 1, 0, 1, 1, True),
]


@pytest.mark.parametrize("kernel, stride, padding, extra, dilation, groups, bias", TRANSPOSED_3D)
def test_any_3d_transposed_convolution_is_a_2d_one_per_output_depth_phase(kernel, stride, padding, extra, dilation,
                                                                          groups, bias):
    """Any other 3-d transposed convolution: per output depth phase, one 2-d transposed
    convolution of its taps' shifted depth slices stacked as channels, the phases interleaved;
    on the engine at any batch. They were torch calls."""
    torch.manual_seed(0)
    model = nn.ConvTranspose3d(4, 6, kernel, stride, padding, extra, groups, bias, dilation)
    x = torch.randn(2, 4, 3, 5, 4)
    low = lowered(model, x)
    assert low.unsupported == [] and "conv2d" in ops(low), low.unsupported
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 4, 3, 5, 4))
    with torch.no_grad():
        np.testing.assert_allclose(engine.Engine(low.graph)(x.numpy()), model(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, stride, padding, dilation, bias, size", [
    (3, 1, 1, 1, True, (4, 5, 6)),  # X3D's 3x3x3
    ((5, 1, 1), 1, (2, 0, 0), 1, False, (6, 3, 4)),  # X3D's stem: temporal only
    ((3, 3, 3), (2, 2, 1), (1, 0, 1), (2, 1, 1), True, (7, 6, 5)),
    ((2, 3, 1), 1, "same", 1, True, (3, 4, 6))])
def test_a_depthwise_3d_convolution_is_a_depthwise_2d_one_per_depth_tap(kernel, stride, padding, dilation, bias, size):
    """Summed: stacked as input channels, each group would be a GEMM of kd inputs and one output.
    The batch norm after it folds into every tap's weights."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(6, 6, kernel, stride, padding, dilation, 6, bias), nn.BatchNorm3d(6)).eval()
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    x = torch.randn(2, 6, *size)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    taps = [n for n in low.graph.nodes if n.op == "conv2d"]
    assert len(taps) == model[0].kernel_size[0] and all(n.attrs["groups"] == 6 for n in taps)
    assert "batch_norm" not in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 6, *size))


POOL3D = {
    "max": lambda x: F.max_pool3d(x, 3, 2, 1),
    "max_ceil_dilated": lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 3), (1, 1, 0), (2, 1, 1), ceil_mode=True),
    "max_indices_unused": lambda x: F.max_pool3d(x, 2, return_indices=True)[0],
    "avg": lambda x: F.avg_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    "avg_ceil_exclusive": lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_ceil_inclusive": lambda x: F.avg_pool3d(x, (3, 2, 3), (2, 2, 2), (1, 1, 1), ceil_mode=True),
    "avg_divisor": lambda x: F.avg_pool3d(x, 2, 2, 1, divisor_override=3),
    "adaptive_avg": lambda x: (F.adaptive_avg_pool3d(x, (3, 2, 4)), F.adaptive_avg_pool3d(x, 1)),
    "adaptive_max": lambda x: F.adaptive_max_pool3d(x, (2, 3, 3)),
}


def _unpooled(m, x):
    """SegNet's and ENet's decoders: values put back where the pooling found each maximum (ties
    by rounding: the first in the window; NaN: the last), to the input's size or the default."""
    y, i = F.max_pool2d(x, 2, return_indices=True)
    z, j = F.max_pool2d((x * 2).round().masked_fill(x > 1.5, float("nan")), 3, return_indices=True)
    return (F.max_unpool2d(y * 2, i, 2, output_size=x.shape[-2:]), torch.nan_to_num(F.max_unpool2d(z, j, 3), 5.0),
            F.max_unpool2d(y.relu(), i, 2, output_size=(x.shape[2] - x.shape[2] % 2, x.shape[3])))


@pytest.mark.parametrize("size", [(9, 6), (8, 6), (7, 12)])
def test_max_unpooling_by_a_poolings_indices_lowers(size):
    model = Fn(_unpooled)
    x = torch.randn(2, 3, *size)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert "max_unpool2d" not in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 3, *size))


@pytest.mark.parametrize("fn", [
    lambda m, x: F.max_unpool2d(*F.max_pool2d(x, 3, 2, return_indices=True), 3, 2, output_size=x.shape[-2:]),
    lambda m, x: F.max_unpool2d(*F.max_pool2d(x[..., :6], 2, return_indices=True), 2, output_size=(9, 7)),
    lambda m, x: F.max_unpool2d(*F.max_pool2d(x, 2, ceil_mode=True, return_indices=True), 2, output_size=(10, 8)),
    lambda m, x: F.max_pool2d(x, 2, return_indices=True)[1].float(),
], ids=["overlapping", "wider", "ceil_mode", "indices_read"])
def test_pooling_indices_unpooling_cannot_place_stay_in_torch(fn):
    """The pooling's indices are then computed in torch, for the torch call that reads them."""
    model = Fn(fn)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert "it uses more than the op's first output" in [reason for _, reason in low.unsupported], low.unsupported
    assert_matches(low, model, x)


@pytest.mark.parametrize("case", sorted(POOL3D))
def test_3d_pooling_lowers_to_2d_pooling_over_planes_then_depth(case):
    torch.manual_seed(0)
    model = Fn(lambda m, x: POOL3D[case](x))
    x = torch.randn(2, 3, 5, 7, 6)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert "reshape" in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(4, 3, 5, 7, 6))


@pytest.mark.parametrize("case", ["max", "max_ceil_dilated", "avg_ceil_exclusive", "adaptive_avg"])
def test_3d_pooling_of_a_rank_4_input_pools_it_as_one_unbatched_volume(case):
    """LPRNet's nn.MaxPool3d((1, 3, 3), (2, 1, 2)) on (N, C, H, W): the batch is the volume's
    channels, C its depth."""
    torch.manual_seed(0)
    model = Fn(lambda m, x: POOL3D[case](x))
    x = torch.randn(2, 6, 7, 8)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 6, 7, 8))


def _mixed_kernels(m, x):
    """CondConv and dynamic convolution: per-sample kernels mixed from experts by routing
    weights, run as one convolution grouped by sample."""
    b, c, h, w = x.shape
    route = torch.sigmoid(x.mean([2, 3]) @ m.p0)
    weight = (route @ m.p1.reshape(2, -1)).reshape(b * 5, c, 3, 3)
    y = F.conv2d(x.reshape(1, b * c, h, w), weight, (route @ m.p2).reshape(-1), padding=1, groups=b)
    return y.reshape(b, 5, h, w)


def _cross_correlation(m, x):
    """A tracker's depthwise cross-correlation: a template's features are the kernels, one a
    channel, over the search features, the batch folded into the channels."""
    b, c, h, w = x.shape
    kernel = x[:, :, 2:5, 1:4] * m.p2[0, 0]
    y = F.conv2d(x.reshape(1, b * c, h, w), kernel.reshape(b * c, 1, 3, 3), groups=b * c)
    return y.reshape(b, c, h - 2, w - 2)


@pytest.mark.parametrize("fn", [
    _mixed_kernels,
    _cross_correlation,
    lambda m, x: F.conv2d(x, m.p1.reshape(10, 6, 3, 3)[:5] * x.mean(), stride=(2, 1), dilation=(1, 2)),
    lambda m, x: F.conv2d(x, m.p1.reshape(10, 6, 3, 3)[:9, :2] * x.mean(), None, 1, "same", 1, 3),
    lambda m, x: F.conv2d(x, (m.p1.reshape(2, 5, 6, 9) * x.mean()).reshape(10, 3, 6, 3)[:4], padding=(0, 2), groups=2),
    # a dynamic 1-d convolution: per-sample kernels over each row of the image, the batch in the groups
    lambda m, x: F.conv1d(x[:, :, :2].reshape(1, -1, 8), (x[:, :, 2:4, :3] * x.mean()).reshape(-1, 2, 3),
                          x.mean((2, 3)).reshape(-1), padding=1, groups=x.shape[0] * 6).reshape(x.shape[0], 6, 8),
])
def test_convolutions_of_weights_computed_at_run_time_are_dynamic_conv2d_nodes(fn):
    model = Fn(fn)
    model.p0, model.p1, model.p2 = torch.randn(6, 2), torch.randn(2, 5 * 6 * 9), torch.randn(2, 5)
    x = torch.randn(2, 6, 7, 8)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert "dynamic_conv2d" in ops(low) and "matmul" not in ops(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, 6, 7, 8))


def test_padding_of_every_mode_runs_on_the_engine():
    """Only constant padding carries a value (the engine refuses one beside reflect or
    replicate: TResNet's anti-aliasing reflects)."""
    from pyprune.graph.engine import Engine

    model = Fn(lambda m, x: (F.pad(x, [1, 1, 1, 1], mode="reflect"), F.pad(x, [2, 0, 1, 1], mode="replicate"),
                             F.pad(x, [1, 2, 0, 1], value=0.5)))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert [n.attrs.get("value") for n in low.graph.nodes if n.op == "pad"] == [None, None, 0.5]
    for got, want in zip(Engine(low.graph)(x.numpy()), model(x)):
        torch.testing.assert_close(torch.from_numpy(got), want)


def test_convolutions_and_linear_layers():
    conv = nn.Conv2d(6, 8, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    same = nn.Conv2d(6, 4, 4, padding="same", bias=False)
    fc = nn.Linear(7, 3)
    model = Fn(lambda m, x: (m.conv(x), m.same(x), m.fc(x), F.linear(x, m.p0), torch.mm(x[0, 0], m.p1)))
    model.conv, model.same, model.fc = conv, same, fc
    model.p0, model.p1 = torch.randn(5, 7), torch.randn(7, 2)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert low.unsupported == []
    convs = [n for n in low.graph.nodes if n.op == "conv2d"]
    assert convs[0].attrs == {"stride": [2, 1], "padding": [1, 0, 1, 0], "dilation": [1, 2], "groups": 2}
    assert convs[1].attrs["padding"] == [1, 1, 2, 2]  # "same" puts the odd pixel after, as torch does
    assert len(convs[1].inputs) == 2  # no bias
    assert [n.op for n in low.graph.nodes].count("linear") == 3
    assert_matches(low, model, x)


class _FourierUnit(nn.Module):
    """LaMa's fast Fourier convolution's spectral half: the features' 2-D real FFT, its real and
    imaginary parts as channels through a 1x1 convolution, back by the inverse FFT."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 2 * channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        f = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
        f = torch.stack((f.real, f.imag), dim=-1).permute(0, 1, 4, 2, 3).contiguous().view(b, -1, h, w // 2 + 1)
        f = torch.relu(self.conv(f)).view(b, -1, 2, h, w // 2 + 1).permute(0, 1, 3, 4, 2).contiguous()
        return torch.fft.irfftn(torch.complex(f[..., 0], f[..., 1]), s=(h, w), dim=(-2, -1), norm="ortho")


def test_a_fourier_unit_runs_whole_on_the_engine():
    model = _FourierUnit(6).eval()
    low = lowered(model, torch.randn(*IMAGE))
    assert low.unsupported == [], low.unsupported
    for x in (torch.randn(*IMAGE), torch.randn(3, *IMAGE[1:])):
        torch.testing.assert_close(torch.from_numpy(engine.Engine(low.graph)(x.numpy())), model(x),
                                   rtol=1e-4, atol=1e-5)


def test_complex_tensors_the_engine_does_not_take_leave_it_through_one_torch_call():
    """A complex tensor returned, or read by an op the operator set lacks (the square root of a
    complex tensor, a concatenation with a real one), is made of its two parts by one torch call
    (torch.complex); the rest stays on the engine."""
    model = Fn(lambda m, x: (torch.fft.rfft(x), torch.sqrt(torch.fft.fft(x, dim=1)).real,
                             torch.cat([torch.fft.rfft(x, dim=3), x[..., :2]], -1).abs()))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert ops(low).count("complex") == 3 and "linear" in ops(low)
    reasons = [why for _, why in low.unsupported]
    assert "a complex tensor leaves the engine, which holds its real and imaginary parts" in reasons
    assert "aten.sqrt.default of complex tensors is not in the operator set" in reasons
    assert "cat of complex and real tensors" in reasons
    assert_matches(low, model, x)


def test_a_linear_layer_with_a_weight_vector_is_a_dot_product_over_the_last_dim():
    # Generalized Focal Loss' head: F.linear(softmax(bins), project) with project a 1-D buffer
    model = Fn(lambda m, x: (F.linear(x, m.w, m.b), F.linear(x[0, 0, 0], m.w)))
    model.w, model.b = torch.randn(7), torch.tensor(0.5)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert low.unsupported == [] and [n.op for n in low.graph.nodes].count("linear") == 2
    assert_matches(low, model, x)
    for got, want in zip(engine.Engine(low.graph)(x.numpy()), model(x)):
        torch.testing.assert_close(torch.from_numpy(got), want)
    assert "linear 7->1" in str(pyprune.convert(model, example_inputs=x).conversion_report)


def test_parameters_become_constants_named_by_state_dict():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    low = lowered(model, torch.randn(1, 3, 8, 8))
    conv = node(low, "conv2d")
    assert conv.inputs[1:] == ["0.weight", "0.bias"]
    assert all(c.dtype.name == "float32" for c in low.graph.constants.values())
    bn = node(low, "batch_norm")
    scale, shift = (low.graph.constants[t] for t in bn.inputs[1:])
    expected = model[1].weight / torch.sqrt(model[1].running_var + model[1].eps)
    assert torch.allclose(torch.from_numpy(scale), expected)
    assert "0.running_mean" not in low.graph.constants  # only what a node reads
    assert conv.name == "0" and bn.name == "1"
    assert low.origins[conv.outputs[0]][0].aten == "aten.conv2d.default"


def test_constants_computed_from_parameters_are_folded():
    class LayerScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.randn(6))

        def forward(self, x):
            return self.gamma[:, None, None] * x + self.gamma.sum()

    model = LayerScale()
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert ops(low) == ["mul", "add"]
    assert sorted(c.shape for c in low.graph.constants.values()) == [(), (6, 1, 1)]
    assert_matches(low, model, x)


def test_batch_sizes_become_reshape_entries_of_the_input():
    model = Fn(lambda m, x: x.view(x.shape[0], 2, -1).transpose(1, 2).reshape(x.size(0), -1))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    shapes = [n.attrs["shape"] for n in low.graph.nodes if n.op == "reshape"]
    assert shapes == [[-2, 2, -1], [-2, -1]]  # -2: dim 0 of the reshape's input
    assert_matches(low, model, torch.randn(4, *IMAGE[1:]))
    static = lower(torch.export.export(model, (x,), strict=False), (x,))
    assert not static.graph.dynamic_batch
    assert [n.attrs["shape"] for n in static.graph.nodes if n.op == "reshape"] == [[2, 2, -1], [2, -1]]


def test_regions_with_autocast_off_are_lowered_inline():
    """EfficientViT's attention runs under torch.autocast(enabled=False), which torch.export
    captures as a higher-order op around a subgraph: its ops are plain float32 ones."""
    def attend(m, x):
        with torch.autocast(device_type="cpu", enabled=False):
            y = torch.relu(x.float()) * 2
            z = y.sigmoid() + x
        return z - y

    model = Fn(attend)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert not low.unsupported
    assert ops(low) == ["activation", "mul", "activation", "add", "sub"]
    assert_matches(low, model, torch.randn(3, *IMAGE[1:]))


def test_a_minus_one_beside_a_multiple_of_the_batch_is_inferred():
    """MobileViT's unfolding: x.reshape(B * P, N, -1) leaves two entries unknown to a reshape
    until the -1 is seen to be a constant whatever B is (the input's size over the others)."""
    def unfold(m, x):
        b, c, h, w = x.shape
        patches = x.reshape(b * c * h // 2, 2, w // 2, 2).transpose(1, 2)
        tokens = patches.reshape(b, c, h * w // 4, 4).transpose(1, 3).reshape(b * 4, h * w // 4, -1)
        return tokens.view(b, 4, -1, c) * 2

    model = Fn(unfold)
    x = torch.randn(2, 6, 8, 12)
    low = lowered(model, x)
    assert not low.unsupported
    assert [n.attrs["shape"] for n in low.graph.nodes if n.op == "reshape"] == [
        [-1, 2, 6, 2], [-1, 6, 24, 4], [-1, 24, 6], [-1, 4, 24, 6]]
    assert_matches(low, model, torch.randn(3, 6, 8, 12))


def test_graph_inputs_keep_the_example_shape():
    x = torch.randn(1, 3, 8, 8)  # batch 1 is captured at batch 2 to keep it dynamic
    low = lowered(nn.Conv2d(3, 4, 3), x)
    assert low.graph.dynamic_batch and low.graph.inputs[0].shape == (1, 3, 8, 8)


def test_unsupported_ops_stay_torch_calls_with_a_reason():
    model = Fn(lambda m, x: torch.special.i0(torch.lgamma(torch.sigmoid(x))) * 2)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert ops(low) == ["activation", "aten.lgamma.default", "aten.special_i0.default", "mul"]
    reasons = {n.target.__name__ if hasattr(n.target, "__name__") else str(n.target): why for n, why in low.unsupported}
    assert list(reasons.values()) == ["aten.lgamma.default is not in the operator set",
                                      "aten.special_i0.default is not in the operator set"]
    assert set(low.calls) == {n.outputs[0] for n in low.graph.nodes if n.op.startswith("aten.")}
    assert_matches(low, model, x)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(3, 5, 4), (1, 2, 6), (4, 1, 1)])
def test_volumetric_grid_sampling_is_the_2d_one_of_the_stacked_depth_slices(mode, padding, align, size):
    """F.grid_sample of a 5-D volume (VoxelMorph's spatial transformer), trilinear or nearest,
    any padding: the 2-d grid_sample of the depth slices stacked along the height with a row of
    zeros after each, once per depth a point weighs; points past every edge included (the grid
    spans [-3.5, 3.5]: reflected more than once). It was a torch call."""
    model = Fn(lambda m, x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=align))
    x, grid = torch.randn(2, 3, *size), torch.rand(2, 4, 3, 5, 3) * 7 - 3.5
    low = lowered(model, x, grid)
    assert low.unsupported == [] and "grid_sample" in ops(low), low.unsupported
    assert_matches(low, model, x, grid)
    with torch.no_grad():
        np.testing.assert_allclose(engine.Engine(low.graph)(x.numpy(), grid.numpy()), model(x, grid).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_non_float_tensors_and_unused_outputs_stay_torch():
    model = Fn(lambda m, x: ((x.abs() * 4).to(torch.uint8).float() + 1,
                             F.max_pool2d(x, 2, return_indices=True)[1].float(), x.to(torch.float64) * 2))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    why = [r for _, r in low.unsupported]
    assert "integers made from float32 data other than by a cast to int64 or int32" in why
    assert any("more than the op's first output" in r for r in why)
    assert any("dtype torch.float64" in r for r in why)
    assert_matches(low, model, x)


def _picked(m, x):
    """Indices from topk/sort picking entries elsewhere: gather, index_select, x[index]."""
    order = x[0, :, 0, 0].argsort()  # a permutation of the 6 channels
    top = x.argmax(1, keepdim=True).expand(-1, 3, -1, -1)
    return (torch.gather(x, 1, top), x.index_select(2, x[0, 0, 0].argsort()[:4]), x[:, order],
            x[:, order.view(2, 3)], x.flatten(2).gather(2, x.flatten(2).topk(5, dim=-1)[1]))


def _picked_by_several(m, x):
    """RT-DETR's query selection: the batch's indices (an arange of the run-time batch) beside
    topk's; indices broadcast together; two adjacent dims indexed after a whole one."""
    b = x.shape[0]
    features = x.flatten(2).transpose(1, 2)  # (N, H * W, C)
    top = features.amax(-1).topk(5, dim=1)[1]
    batch = torch.arange(end=b, dtype=top.dtype).unsqueeze(-1).repeat(1, 5).view(-1)
    selected = features[batch, top.view(-1)].view(b, 5, -1)
    broadcast = features[torch.arange(b)[:, None], top]
    inner = x[:, x[0, :, 0, 0].argsort()[:4], x[0, 0, :, 0].argsort()[:4]]
    return selected, broadcast, inner, torch.arange(b).float()


# Index tensors the engine holds as float32: (function of (module, x), the ops they lower to)
INTEGER_CASES = {
    "topk": (lambda m, x: (torch.topk(x, 3, dim=1)[0], torch.topk(x, 2, dim=-1, largest=False)[1].float()), None),
    "argmax": (lambda m, x: (x.argmax(1).float(), x.argmin(-1, keepdim=True).float(), x[0].argmax().float(),
                             x[0].argmin(keepdim=True).float()), None),
    "max_with_indices": (lambda m, x: (*torch.max(x, 2), *[t.float() for t in x.min(1, keepdim=True)]), None),
    "sort": (lambda m, x: (*torch.sort(x, dim=-1, descending=True), x.argsort(1).float(),
                           torch.sort(x, dim=2, stable=True)[1].float()), None),
    "picked": (_picked, None),
    "picked_by_several": (_picked_by_several, None),
    # equal entries in torch's order (topk) or the first of them (arg-extremes, max and min), NaN
    # the extreme entry of argmax, argmin, max and min
    "equal_entries": (lambda m, x: ((x * 2).round().topk(4, dim=-1)[1].float(), (x * 2).round().argmax(1).float(),
                                    (x * 2).round().argmin(1).float(), torch.max((x * 2).round(), 2)[1].float(),
                                    torch.min((x * 2).round(), -1, keepdim=True)[1].float(),
                                    torch.sort((x * 2).round(), dim=2, stable=True)[1].float()), None),
    "nan": (lambda m, x: (x.masked_fill(x > 1.2, float("nan")).argmax(2).float(),
                          x.masked_fill(x > 1.2, float("nan")).argmin(2).float(),
                          torch.min(x.masked_fill(x > 1.2, float("nan")), 2)[1]), None),
    "floor_division": (lambda m, x: ((x * 4).floor_divide(1.5), torch.remainder(x * 3, -2.0),
                                     torch.div(x, 0.7, rounding_mode="floor"), 3.0 % x, torch.remainder(x, m.p0)),
                       None),
    # k-th smallest values and indices; medians (the lower middle) over a dim, over all, with NaN
    "kthvalue_median": (lambda m, x: (*torch.kthvalue(x, 2, 1), torch.kthvalue(x, 3, -1, keepdim=True)[0],
                                      x.median(2)[0], x[0].median(), torch.median(x, 3, keepdim=True)[0],
                                      torch.nan_to_num(x.masked_fill(x > 1.2, float("nan")).median(1)[0], 7.0)),
                        None),
    # YOLOv10's split of a flat (anchor, class) index, and arithmetic on indices
    "integer_arithmetic": (lambda m, x: (x.flatten(1).argmax(1) // 7, x.flatten(1).argmax(1) % 7,
                                         (x.argmax(1) * 7 + 2 - x.argmin(1) // 2).float() / 3), None),
    # integers cast from float32 data (toward zero), bounded by clamps, as the rows of an
    # embedding and indices: x[index] counts a negative one from the end, as torch does
    "casts_of_float_data": (lambda m, x: (F.embedding((x[:, 0] * 3).long().clamp(0, 5), m.p0.view(6, 1).expand(6, 4)),
                                          x[:, (x[0, :, 0, 0] * 4).long().clamp(-6, 5)],
                                          x.index_select(1, (x[0, 0, 0].abs() * 2).int().clamp(max=5)),
                                          (x * 3).long().float(), (x * 2).round().long().clamp(-3, 3) * 2), None),
    "negative_indices": (lambda m, x: (x[:, x[0, :, 0, 0].argsort() - 3],  # -3 .. 2
                                       x[:, :, 1:3].flatten(2)[:, :, x[0, 0, 0, :4].argsort() - 3]), None),
}


def test_indexing_the_operator_set_cannot_express_stays_in_torch_with_a_reason():
    def fn(m, x):
        top = x.flatten(2).amax(1).topk(3, dim=-1)[1]
        return x.flatten(2)[torch.arange(x.shape[0])[:, None], :, top], torch.arange(1, x.shape[0] + 1).float()
    model, x = Fn(fn), torch.randn(*IMAGE)
    low = lowered(model, x)
    reasons = {why for _, why in low.unsupported}
    assert "indexing by index tensors at dims that are not adjacent" in reasons
    assert "arange from a start or by a step to a size known only at run time" in reasons
    assert_matches(low, model, x)


@pytest.mark.parametrize("case", sorted(INTEGER_CASES))
def test_index_tensors_lower_and_match_torch(case):
    fn, expected = INTEGER_CASES[case]
    torch.manual_seed(0)
    model = Fn(fn, torch.randn(6, 1, 1))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    # an integer output is cast back to its dtype in torch: the only torch calls
    reasons = {why for _, why in low.unsupported}
    assert reasons <= {"an integer tensor leaves the engine, which holds it as float32"}, reasons
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(5, *IMAGE[1:]))
    converted = pyprune.convert(model, example_inputs=(x,))
    indexing = [n for n in converted.conversion_report.nodes
                if n.became.split()[0] in ("topk", "gather", "take", "floor_divide", "remainder")]
    assert indexing and all(n.runs == "pyprune" for n in indexing)
    with torch.no_grad():  # integer outputs come out in their dtype
        want, got = model(x), converted(x)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.dtype == w.dtype
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_integer_inputs_are_held_as_float32_on_the_engine():
    """uint8 pixels and int64 token ids enter the engine (as float32, exact): every node runs
    on pyprune, in convert as in the graph; int64 arithmetic that could pass 2^24 stays in torch."""
    from small_nets import Pixels, Tokens
    for model, x, dtype in ((Pixels().eval(), torch.randint(0, 256, (2, 12, 10, 3), dtype=torch.uint8), "uint8"),
                            (Tokens().eval(), torch.randint(0, 50, (2, 7)), "int64")):
        low = lowered(model, x)
        assert low.unsupported == [] and low.graph.input_dtypes == [dtype]
        converted = pyprune.convert(model, example_inputs=(x,))
        assert all(n.runs == "pyprune" for n in converted.conversion_report.nodes)
        other = torch.cat([x, x.flip(0)])
        with torch.no_grad():
            torch.testing.assert_close(converted(other), model(other), rtol=1e-5, atol=1e-5)
    ids = torch.randint(0, 50, (2, 7))
    low = lowered(Fn(lambda m, i: (i * 2**20).float()), ids)
    assert "its integers may pass 2^24 (up to 17592186044416), beyond float32's exact integers" in \
        [why for _, why in low.unsupported]  # ids up to 2^24 (engine.float_inputs checks them), times 2^20


def test_places_among_sorted_values_count_nan_past_them_all():
    bounds = torch.tensor([-1.0, 0.0, 1.0])
    model = Fn(lambda m, x: (torch.bucketize(x, bounds).float(), torch.searchsorted(bounds, x, right=True).float()))
    x = torch.tensor([[float("nan"), -1.0, 0.0, 0.5, 1.0, 2.0, -3.0, float("inf"), -float("inf")]])
    low = lowered(model, x)
    assert low.unsupported == []
    assert_matches(low, model, x)


def test_integers_that_could_pass_float32s_exact_range_stay_in_torch():
    """Products and sums past 2^24, and a count over the batch, whose size only the run knows."""
    model = Fn(lambda m, x: ((x.argmax(1) * 2**22 * 5).float(), (x.argmax(1) + 2**24).float(),
                             (x > 0).sum().float(), (x.argmax(1) * 2**21).sum((1, 2)).float()))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    reasons = [why for _, why in low.unsupported]
    assert "its integers may pass 2^24 (up to 20971520), beyond float32's exact integers" in reasons
    assert "its integers may pass 2^24 (up to 16777221), beyond float32's exact integers" in reasons
    assert "a sum of integers: dim 0 is only known at run time" in reasons
    assert "its integers may pass 2^24 (up to 660602880), beyond float32's exact integers" in reasons
    assert_matches(low, model, x)


def test_an_index_out_of_range_is_an_error_on_the_engine():
    # in range on the example; an entry above 5 makes it point past the dim
    model = Fn(lambda m, x: torch.gather(x, 1, (x[:, :1] > 5).long() * 6 + x.argmax(1, keepdim=True)))
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert low.unsupported == []
    engine.Engine(low.graph)(x.numpy())
    x[1, 0, 2, 3] = 9.0
    with pytest.raises(IndexError, match="is out of bounds for axis 1 of size 6"):
        engine.Engine(low.graph)(x.numpy())


def test_casts_of_float_data_index_on_the_engine_and_stay_in_range():
    """The engine refuses what torch refuses: an embedding's row past its table, or a negative
    one; arithmetic on casts nothing bounds stays in torch."""
    table = torch.randn(4, 3)
    model = Fn(lambda m, x: F.embedding((x[:, 0] * 2).long().clamp(max=3), table))
    x = torch.randn(*IMAGE).abs()
    low = lowered(model, x)
    assert low.unsupported == [] and "take" in ops(low)
    assert_matches(low, model, x)
    arithmetic = Fn(lambda m, x: (x * 3).long() + 1)
    unbounded = lowered(arithmetic, x)
    assert ("add of integers cast from float32 data, which nothing bounds (a clamp would)"
            in {why for _, why in unbounded.unsupported})
    assert_matches(unbounded, arithmetic, x)
    x[1, 0, 2, 3] = -1.0
    with pytest.raises(IndexError):
        model(x)
    with pytest.raises(IndexError, match="index -2 is out of bounds for axis 0 of size 4"):
        engine.Engine(low.graph)(x.numpy())


def test_a_comparison_a_torch_call_reads_is_computed_in_torch_once():
    def fn(m, x):
        positive = x > 0
        return x * positive.sum() + torch.where(positive, x, 0.0) + positive.float()  # a count over the batch

    model = Fn(fn)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    reasons = [why for _, why in low.unsupported]
    assert reasons.count("a condition read by a torch call") == 1, reasons
    assert ops(low).count("where") == 2  # the choice, and the mask as 1.0 and 0.0
    assert_matches(low, model, x)


@pytest.mark.parametrize("fn", [
    lambda m, x: torch.where(x.to(torch.uint8) > 0, x, 0.0),  # integer operands torch computes
    lambda m, x: x * (x > x.shape[0]).float(),               # a size operand
], ids=["integer", "size"])
def test_comparisons_of_other_than_float_tensors_are_computed_in_torch(fn):
    model = Fn(fn)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert "a condition read by a torch call" in [why for _, why in low.unsupported]
    assert_matches(low, model, x)


def test_inplace_op_on_a_tensor_read_again_is_functionalized():
    def fn(m, x):
        y = x * 1.0
        v = y.view(-1)
        y.relu_()  # v sees it too
        return v * 2

    model = Fn(fn)
    x = torch.randn(*IMAGE)
    low = lowered(model, x)
    assert_matches(low, model, x)


def test_batch_norm_subclass_outside_torch_nn_lowers_to_batch_norm():
    model, shape = build("bn_act")
    assert isinstance(model, BNActNet)
    low = lowered(model, torch.randn(1, *shape))
    assert ops(low).count("batch_norm") == 3
    assert [n.attrs.get("activation") for n in low.graph.nodes if n.op == "activation"] == ["relu", "silu"]


@pytest.mark.parametrize("name", sorted(n for n in ZOO if n != "detector"))
def test_zoo_lowers_whole_and_matches(name):
    model, shape, low = zoo_lowered(name)
    x = torch.randn(1, *shape)
    assert low.unsupported == [], low.unsupported
    assert low.graph.dynamic_batch
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, *shape))
    macs = sum(math.prod(low.graph.constants[n.inputs[1]].shape) for n in low.graph.nodes if n.op == "conv2d")
    assert macs > 0


class Recurrent(nn.Module):
    def __init__(self, layer=nn.LSTM, **kwargs):
        super().__init__()
        self.layer = layer(8, 6, **kwargs)

    def forward(self, x):
        y, states = self.layer(x)
        return (y, *states) if isinstance(states, tuple) else (y, states)


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU, nn.RNN, functools.partial(nn.RNN, nonlinearity="relu")],
                         ids=["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("kwargs", [{"batch_first": True}, {"num_layers": 2, "bidirectional": True, "batch_first": True},
                                    {"num_layers": 2}, {"bias": False, "bidirectional": True}])
def test_recurrent_layers_unroll_on_the_engine(layer, kwargs):
    torch.manual_seed(0)
    model, x = Recurrent(layer, **kwargs).eval(), torch.randn(2, 5, 8)
    low = lowered(model, x)
    assert low.unsupported == [], low.unsupported
    assert_matches(low, model, x)
    if low.graph.dynamic_batch:  # batch first: any batch
        assert_matches(low, model, torch.randn(3, 5, 8))
    converted = pyprune.convert(model, example_inputs=(x,))
    assert all(n.runs == "pyprune" for n in converted.conversion_report.nodes)
    with torch.no_grad():
        for got, want in zip(converted(x), model(x)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_lstm_with_projections_stays_a_torch_call():
    model, x = Recurrent(proj_size=3, batch_first=True).eval(), torch.randn(2, 5, 8)
    low = lowered(model, x)
    # the LSTM, then the three picks of its outputs
    assert [why for _, why in low.unsupported] == ["an LSTM with projections or weights computed at run time"] + [
        "its container is computed in torch"] * 3
    assert_matches(low, model, x)
