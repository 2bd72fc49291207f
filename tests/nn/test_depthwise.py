"""pyprune.nn.DepthwiseConv2d against the torch modules it replaces."""

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomized_bn  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.activation import Activation  # noqa: E402
from pyprune.nn import DepthwiseConv2d, fold_batchnorm  # noqa: E402


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("with_bias", [False, True])
def test_from_torch_matches_conv(k, stride, with_bias):
    g = torch.Generator().manual_seed(k * 10 + stride)
    for padding in range(k // 2 + 1):
        conv = nn.Conv2d(6, 6, k, stride, padding, groups=6, bias=with_bias).eval()
        x = torch.randn(2, 6, 15, 12, generator=g)
        module = DepthwiseConv2d.from_torch(conv)
        with torch.inference_mode():
            torch.testing.assert_close(module(x), conv(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("act,torch_act", [(nn.ReLU(), nn.ReLU()), (nn.ReLU6(), nn.ReLU6()), ("relu6", nn.ReLU6()), (None, nn.Identity())])
def test_batchnorm_and_activation_are_fused(act, torch_act):
    g = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)
    bn = randomized_bn(8, seed=1)
    reference = nn.Sequential(conv, bn, torch_act).eval()
    module = DepthwiseConv2d.from_torch(conv, bn=bn, activation=act)
    x = 3 * torch.randn(1, 8, 20, 20, generator=g)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), reference(x), rtol=1e-4, atol=1e-4)


def test_fold_batchnorm_matches_conv_then_bn():
    g = torch.Generator().manual_seed(2)
    conv = nn.Conv2d(4, 4, 5, 2, 2, groups=4, bias=True)
    bn = randomized_bn(4, seed=2)
    w, b = fold_batchnorm(conv.weight, conv.bias, bn)
    x = torch.randn(1, 4, 9, 9, generator=g)
    with torch.inference_mode():
        want = bn(conv(x))
        got = torch.nn.functional.conv2d(x, w, b, 2, 2, groups=4)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_gradients_and_other_dtypes_go_through_torch():
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3)
    module = DepthwiseConv2d.from_torch(conv, activation="relu")
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    y = module(x)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    torch.testing.assert_close(module(x.detach().double()), conv.double()(x.double()).relu(), rtol=1e-6, atol=1e-6)


def test_state_dict_round_trip():
    module = DepthwiseConv2d.from_torch(nn.Conv2d(5, 5, 3, groups=5))
    clone = DepthwiseConv2d(torch.zeros(5, 1, 3, 3), torch.zeros(5))
    clone.load_state_dict(module.state_dict())
    x = torch.randn(1, 5, 7, 7)
    torch.testing.assert_close(clone(x), module(x))
    assert "kernel_size=3" in repr(module)


@pytest.mark.parametrize(
    "conv,match",
    [
        (nn.Conv2d(4, 8, 3, groups=4), "must be depthwise"),
        (nn.Conv2d(4, 4, 3), "must be depthwise"),
        (nn.Conv2d(4, 4, 3, groups=4, dilation=2), "dilation 1"),
        (nn.Conv2d(4, 4, (3, 5), groups=4), "square kernel"),
        (nn.Conv2d(4, 4, 3, stride=(1, 2), groups=4), "equal strides"),
        (nn.Conv2d(4, 4, 3, padding=(1, 0), groups=4), "symmetric numeric padding"),
        (nn.Conv2d(4, 4, 3, padding="same", groups=4), "symmetric numeric padding"),
        (nn.Conv2d(4, 4, 3, padding=1, groups=4, padding_mode="reflect"), "pad with zeros"),
        (nn.Conv2d(4, 4, 11, groups=4), "kernel size must be 3, 5, 7 or 9"),
        (nn.Conv2d(4, 4, 3, stride=3, groups=4), "stride must be 1 or 2"),
        (nn.Conv2d(4, 4, 3, padding=2, groups=4), "padding must be in \\[0, 1\\]"),
    ],
)
def test_unsupported_convolutions_are_refused(conv, match):
    with pytest.raises(ValueError, match=match):
        DepthwiseConv2d.from_torch(conv)


def test_wrong_module_types_are_refused():
    with pytest.raises(TypeError, match="conv must be an nn.Conv2d"):
        DepthwiseConv2d.from_torch(nn.Linear(3, 3))
    with pytest.raises(TypeError, match="bn must be an nn.BatchNorm2d"):
        DepthwiseConv2d.from_torch(nn.Conv2d(3, 3, 3, groups=3), bn=nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match="bn has 4 features"):
        DepthwiseConv2d.from_torch(nn.Conv2d(3, 3, 3, groups=3), bn=nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="unsupported activation"):
        DepthwiseConv2d.from_torch(nn.Conv2d(3, 3, 3, groups=3), activation=nn.Softplus())
    assert DepthwiseConv2d.from_torch(nn.Conv2d(3, 3, 3, groups=3), activation=nn.Hardtanh(-1, 2)).activation == Activation(-1, 2)
