"""pyprune.nn.Conv2d, PointwiseConv2d and SeparableConv2d against the torch modules."""

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomized_bn  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.nn import Conv2d, DepthwiseConv2d, PointwiseConv2d, SeparableConv2d, SparseConv2d  # noqa: E402


@pytest.mark.parametrize(
    "cin,cout,k,stride,padding,groups",
    [(3, 32, 3, 2, 1, 1), (16, 24, 1, 1, 0, 1), (12, 24, 1, 1, 0, 3), (8, 8, 3, 1, 1, 2), (6, 10, 5, 2, 2, 1), (4, 6, 2, 1, 0, 1)],
)
@pytest.mark.parametrize("with_bn", [False, True])
def test_conv2d_from_torch(cin, cout, k, stride, padding, groups, with_bn):
    conv = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=not with_bn)
    bn = randomized_bn(cout, cin) if with_bn else None
    reference = nn.Sequential(conv, *([bn] if bn else []), nn.ReLU6()).eval()
    module = Conv2d.from_torch(conv, bn, nn.ReLU6())
    x = torch.randn(2, cin, 19, 17)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), reference(x), rtol=1e-4, atol=1e-4)


def test_pointwise_from_torch_and_refusals():
    conv = nn.Conv2d(8, 16, 1)
    module = PointwiseConv2d.from_torch(conv, activation="relu")
    x = torch.randn(1, 8, 7, 9)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), conv(x).relu(), rtol=1e-4, atol=1e-4)
    for bad in (nn.Conv2d(8, 16, 3), nn.Conv2d(8, 16, 1, stride=2), nn.Conv2d(8, 16, 1, groups=2)):
        with pytest.raises(ValueError, match="must be pointwise"):
            PointwiseConv2d.from_torch(bad)


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_separable_matches_torch_and_unfused(k, stride):
    dw = nn.Conv2d(24, 24, k, stride, k // 2, groups=24, bias=False)
    pw = nn.Conv2d(24, 40, 1, bias=False)
    dw_bn, pw_bn = randomized_bn(24, 1), randomized_bn(40, 2)
    reference = nn.Sequential(dw, dw_bn, nn.ReLU6(), pw, pw_bn, nn.ReLU()).eval()
    fused = SeparableConv2d.from_torch(dw, pw, dw_bn, pw_bn, nn.ReLU6(), nn.ReLU())
    unfused = nn.Sequential(DepthwiseConv2d.from_torch(dw, dw_bn, nn.ReLU6()), PointwiseConv2d.from_torch(pw, pw_bn, nn.ReLU()))
    x = torch.randn(2, 24, 31, 29)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), reference(x), rtol=1e-4, atol=1e-4)
        if fused._packed.ukernel.startswith(unfused[0]._packed.ukernel + " "):
            torch.testing.assert_close(fused(x), unfused(x), rtol=0, atol=0)  # the same arithmetic
        else:  # a "same"-padding depthwise kernel: its own order of additions
            torch.testing.assert_close(fused(x), unfused(x), rtol=1e-5, atol=1e-6)
    x.requires_grad_(True)
    fused(x).sum().backward()  # falls back to torch for gradients
    assert x.grad is not None


def test_modules_survive_copy_pickle_and_state_dict():
    conv = Conv2d.from_torch(nn.Conv2d(4, 6, 3, padding=1))
    sep = SeparableConv2d.from_torch(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 6, 1))
    x = torch.randn(1, 4, 8, 8)
    for module in (conv, sep):
        want = module(x)
        torch.testing.assert_close(copy.deepcopy(module)(x), want)
        torch.testing.assert_close(pickle.loads(pickle.dumps(module))(x), want)
    fresh = Conv2d(torch.zeros(6, 4, 3, 3), torch.zeros(6), padding=1)
    fresh.load_state_dict(conv.state_dict())  # repacks the weights
    torch.testing.assert_close(fresh(x), conv(x))


def test_bad_modules_are_refused():
    with pytest.raises(TypeError, match="conv must be an nn.Conv2d"):
        Conv2d.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="symmetric numeric padding"):
        Conv2d.from_torch(nn.Conv2d(2, 2, 3, padding="same"))
    with pytest.raises(ValueError, match="groups must be at least 1 and divide"):
        Conv2d(torch.zeros(5, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match="pointwise takes 8 channels but depthwise gives 4"):
        SeparableConv2d(DepthwiseConv2d(torch.zeros(4, 1, 3, 3)), PointwiseConv2d(torch.zeros(6, 8, 1, 1)))


@pytest.mark.parametrize("module", [Conv2d, DepthwiseConv2d, PointwiseConv2d, SparseConv2d])
def test_channel_counts_in_place_of_weights_are_refused_naming_from_torch(module):
    # nn.Conv2d's arguments by habit: the modules take a trained layer's weights.
    with pytest.raises(TypeError, match=rf"weight must be a torch.Tensor .* got int: .*{module.__name__}.from_torch"):
        module(8, 16)
    with pytest.raises(ValueError, match=r"weight must have shape .*, got \(8, 3, 3\)"):
        module(torch.zeros(8, 3, 3))
    with pytest.raises(TypeError, match="bias must be a torch.Tensor or None, got float"):
        module(torch.zeros(8, 1, 1, 1), bias=0.5)
