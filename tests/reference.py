"""Plain numpy oracles, independent of the C++ code (and of torch, which may be absent)."""

import numpy as np


def _taps(x, k, stride, padding):
    """[(i, j, window)] for each tap of a k x k window: the elements of the float64, zero-padded
    input that tap multiplies, one per output pixel (n, c, oh, ow)."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (xp.shape[2] - k) // stride + 1
    ow = (xp.shape[3] - k) // stride + 1
    return [(i, j, xp[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride])
            for i in range(k) for j in range(k)]


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, lo=-np.inf, hi=np.inf):
    """NCHW depthwise convolution in float64, clamped to [lo, hi] with NaN kept."""
    taps = _taps(x, weight.shape[-1], stride, padding)
    acc = np.zeros(taps[0][2].shape)
    if bias is not None:
        acc += bias.astype(np.float64)[None, :, None, None]
    for i, j, window in taps:
        acc += weight[:, 0, i, j].astype(np.float64)[None, :, None, None] * window
    return np.minimum(np.maximum(acc, lo), hi)


def tolerance(taps):
    return 1e-5 * np.sqrt(taps)


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1, lo=-np.inf, hi=np.inf):
    """NCHW convolution (dense or grouped) in float64, clamped to [lo, hi] with NaN kept. Tap by
    tap, each a matrix product over a group's input channels: as fast as numpy's BLAS, and no
    bigger than the input in memory (a product over the whole window would copy it k * k times)."""
    cout, cin_g = weight.shape[:2]
    taps = _taps(x, weight.shape[-1], stride, padding)
    n, _, oh, ow = taps[0][2].shape
    acc = np.zeros((n, cout, oh, ow))
    per_group = cout // groups
    for i, j, window in taps:
        for g in range(groups):
            w = weight[g * per_group : (g + 1) * per_group, :, i, j].astype(np.float64)
            product = np.tensordot(window[:, g * cin_g : (g + 1) * cin_g], w, axes=([1], [1]))
            acc[:, g * per_group : (g + 1) * per_group] += np.moveaxis(product, -1, 1)
    if bias is not None:
        acc += bias.astype(np.float64)[None, :, None, None]
    return np.minimum(np.maximum(acc, lo), hi)
