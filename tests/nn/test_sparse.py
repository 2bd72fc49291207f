"""pyprune.nn.SparseConv2d against torch on pruned weights, SparsePolicy, and convert's choice
between the sparse and the dense modules."""

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomize_batchnorms, randomized_bn  # noqa: E402
from torch import nn  # noqa: E402

import pyprune  # noqa: E402
from pyprune.models import MobileNetV1  # noqa: E402
from pyprune.nn import SparseConv2d, SparsePolicy  # noqa: E402
from pyprune.kernels import stored_weights  # noqa: E402


def prune_(conv: nn.Conv2d, sparsity: float, block: int = 1, seed: int = 0) -> nn.Conv2d:
    """Zero `sparsity` of the (block x 1) groups of output channels of conv, at random."""
    g = torch.Generator().manual_seed(seed)
    w = conv.weight.data
    groups = -(-w.shape[0] // block)
    keep = torch.rand((groups, *w.shape[1:]), generator=g) >= sparsity
    w *= keep.repeat_interleave(block, dim=0)[: w.shape[0]]
    return conv


@pytest.mark.parametrize("cin,cout,k,stride,padding", [(16, 24, 1, 1, 0), (3, 32, 3, 2, 1), (8, 12, 3, 1, 1), (6, 10, 5, 2, 2), (12, 8, 1, 2, 0)])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("block", [1, 4])
def test_from_torch_matches_the_pruned_torch_conv(cin, cout, k, stride, padding, sparsity, block):
    conv = prune_(nn.Conv2d(cin, cout, k, stride, padding, bias=False), sparsity, block)
    bn = randomized_bn(cout, cin)
    reference = nn.Sequential(conv, bn, nn.ReLU6()).eval()
    module = SparseConv2d.from_torch(conv, bn, nn.ReLU6(), block=block)
    x = torch.randn(2, cin, 19, 17)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), reference(x), rtol=1e-4, atol=1e-4)
    assert module.density == stored_weights(conv.weight, block) / conv.weight.numel()


def test_density_counts_stored_weights():
    conv = prune_(nn.Conv2d(64, 64, 1, bias=False), 0.75, block=4)
    unstructured = SparseConv2d.from_torch(conv)
    blocked = SparseConv2d.from_torch(conv, block=4)
    assert unstructured.density == pytest.approx(float((conv.weight != 0).float().mean()))
    assert blocked.density == pytest.approx(unstructured.density)  # whole blocks are zero
    assert SparseConv2d.from_torch(conv, block=8).density > blocked.density


def test_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="groups=1"):
        SparseConv2d.from_torch(nn.Conv2d(8, 8, 3, groups=8))
    with pytest.raises(ValueError, match="block must be one of"):
        SparseConv2d.from_torch(nn.Conv2d(8, 8, 1), block=3)
    with pytest.raises(ValueError, match="square kernel"):
        SparseConv2d.from_torch(nn.Conv2d(8, 8, (1, 3)))


def test_fallback_gradient_copy_pickle_state_dict():
    conv = prune_(nn.Conv2d(4, 6, 3, padding=1), 0.7)
    module = SparseConv2d.from_torch(conv, activation="relu")
    x = torch.randn(1, 4, 9, 9, requires_grad=True)
    module(x).sum().backward()  # gradients go through torch
    assert x.grad is not None
    with torch.inference_mode():
        want = module(x.detach())
        for other in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
            torch.testing.assert_close(other(x.detach()), want, rtol=0, atol=0)
        fresh = SparseConv2d(torch.zeros(6, 4, 3, 3), torch.zeros(6), padding=1, activation="relu")
        fresh.load_state_dict(module.state_dict())
        torch.testing.assert_close(fresh(x.detach()), want, rtol=0, atol=0)
        torch.testing.assert_close(module(x.detach().double()), want.double(), rtol=1e-5, atol=1e-5)
    assert f"density={module.density:.3f}" in repr(module) and 0 < module.density < 0.5


def test_kernels_sparse_conv2d_takes_tensors():
    conv = prune_(nn.Conv2d(5, 7, 3, 2, 1), 0.6)
    x = torch.randn(2, 5, 11, 12)
    y = pyprune.kernels.sparse_conv2d(x, conv.weight.detach(), conv.bias.detach(), 2, 1, "relu", block=2)
    torch.testing.assert_close(y, conv(x).relu().detach(), rtol=1e-4, atol=1e-4)


def test_stored_weights_by_hand():
    w = torch.tensor([[0, 1, 0, 2], [0, 3, 0, 0], [4, 0, 0, 5]], dtype=torch.float32)
    assert stored_weights(w, 1) == 5
    assert stored_weights(w, 2) == 2 * 2 + 2  # block of rows 0-1 stores columns 1, 3; row 2 alone
    assert stored_weights(w, 4) == 5  # 3 rows: no full block of 4


def test_policy_thresholds_blocks_and_overrides():
    spec_of = pyprune.nn.convspec.ConvSpec.from_torch
    pointwise = prune_(nn.Conv2d(64, 64, 1), 0.9, block=4)
    dense_pw = nn.Conv2d(64, 64, 1)
    conv3 = prune_(nn.Conv2d(16, 16, 3, padding=1), 0.5)
    policy = SparsePolicy()
    assert policy.choose("a", spec_of(pointwise)) == 4  # block-pruned: blocks of 4 are cheapest
    assert policy.choose("a", spec_of(dense_pw)) is None
    assert policy.choose("a", spec_of(conv3)) is None  # 50 % is above the 45 % KxK limit
    assert SparsePolicy(conv_max_density=0.6).choose("a", spec_of(conv3)) == 1
    assert SparsePolicy(layers={"a": True}).choose("a", spec_of(dense_pw)) is not None
    assert SparsePolicy(layers={"a": False}).choose("a", spec_of(pointwise)) is None
    assert policy.choose("a", spec_of(nn.Conv2d(8, 8, 3, groups=8))) is None
    few = nn.Conv2d(16, 3, 5, padding=2)  # dense, but few outputs: tried sparse
    assert policy.choose("a", spec_of(few)) is not None
    assert SparsePolicy(few_outputs=2).choose("a", spec_of(few)) is None
    assert policy.choose("a", spec_of(nn.Conv2d(16, 3, 1))) is None  # 1x1: the GEMM reads it in place
    with pytest.raises(ValueError, match="few_outputs"):
        SparsePolicy(few_outputs=-1)
    with pytest.raises(ValueError, match="pointwise_max_density"):
        SparsePolicy(pointwise_max_density=1.5)
    with pytest.raises(ValueError, match="block_cost"):
        SparsePolicy(block_cost={3: 1.0})


def pruned_mobilenet(sparsity: float) -> nn.Module:
    torch.manual_seed(0)
    model = randomize_batchnorms(MobileNetV1(num_classes=10, width=0.5))
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1):
            prune_(m, sparsity, seed=len(name))
    return model.eval()


def pointwise_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]


def test_convert_runs_pruned_pointwise_layers_sparse():
    model = pruned_mobilenet(0.9)
    x = torch.randn(2, 3, 64, 64)
    names = pointwise_names(model)
    fast = pyprune.convert(model, x, sparse=SparsePolicy(layers={name: True for name in names}))
    rows = {n.module: n for n in fast.conversion_report.nodes}
    for name in names:  # a sparse pointwise is not fused with its depthwise
        assert rows[name].runs == "pyprune" and "conv2d 1x1 + relu, sparse block" in rows[name].became
        assert "density 0.1" in rows[name].became
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-3, atol=1e-4)
    dense = pyprune.convert(model, x, sparse=None)
    assert not any("sparse" in n.became for n in dense.conversion_report.nodes)


def test_convert_keeps_dense_layers_dense():
    model = pruned_mobilenet(0.0)
    fast = pyprune.convert(model, torch.randn(1, 3, 32, 32), fuse_separable=False)
    rows = {n.module: n for n in fast.conversion_report.nodes}
    assert not any("sparse" in n.became for n in fast.conversion_report.nodes)
    assert all(rows[name].became.startswith("conv2d 1x1") for name in pointwise_names(model))
