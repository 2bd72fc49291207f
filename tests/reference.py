"""Plain numpy oracles, independent of the C++ code (and of torch, which may be absent)."""

import numpy as np


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, lo=-np.inf, hi=np.inf):
    """NCHW depthwise convolution in float64, clamped to [lo, hi] with NaN kept."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - k) // stride + 1
    ow = (w + 2 * padding - k) // stride + 1
    acc = np.zeros((n, c, oh, ow))
    if bias is not None:
        acc += bias.astype(np.float64)[None, :, None, None]
    for i in range(k):
        for j in range(k):
            window = xp[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
            acc += weight[:, 0, i, j].astype(np.float64)[None, :, None, None] * window
    return np.minimum(np.maximum(acc, lo), hi)


def tolerance(taps):
    return 1e-5 * np.sqrt(taps)


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1, lo=-np.inf, hi=np.inf):
    """NCHW convolution (dense or grouped) in float64, clamped to [lo, hi] with NaN kept. Tap by
    tap, each a matrix product over the input channels: as fast as numpy's BLAS, and no bigger
    than the input in memory (a product over the whole window would copy it k * k times)."""
    n, cin, h, w = x.shape
    cout, cin_g, k, _ = weight.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - k) // stride + 1
    ow = (w + 2 * padding - k) // stride + 1
    acc = np.zeros((n, cout, oh, ow))
    per_group = cout // groups
    for g in range(groups):
        xg = xp[:, g * cin_g : (g + 1) * cin_g]
        wg = weight[g * per_group : (g + 1) * per_group].astype(np.float64)
        out = acc[:, g * per_group : (g + 1) * per_group]
        for i in range(k):
            for j in range(k):
                window = xg[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
                out += np.moveaxis(np.tensordot(window, wg[:, :, i, j], axes=([1], [1])), -1, 1)
    if bias is not None:
        acc += bias.astype(np.float64)[None, :, None, None]
    return np.minimum(np.maximum(acc, lo), hi)
