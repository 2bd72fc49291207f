"""Weight sharing (Deep Compression, Han et al. 2016): per tensor, one-dimensional k-means of
the non-zero weights into at most 2^bits centroids, linearly initialised over [min, max] (the
initialisation the paper found best: it keeps the rare large weights). Exact zeros stay exactly
zero: when a tensor has any, codebook[0] is 0.0 and the non-zeros share the other 2^bits - 1
entries, so every weight is codebook[index] with a bits-wide index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SharedTensor", "kmeans_1d", "share_weights"]

MAX_BITS = 8  # indices are uint8


@dataclass(frozen=True)
class SharedTensor:
    """weight == codebook[indices]; codebook float32 (ascending but for a leading zero),
    indices uint8 of the weight's shape."""

    codebook: np.ndarray
    indices: np.ndarray
    has_zero: bool

    def unpack(self) -> np.ndarray:
        return self.codebook[self.indices]


def kmeans_1d(values: np.ndarray, k: int, iterations: int = 1000) -> np.ndarray:
    """Centroids (ascending float64, empty clusters dropped) of Lloyd's k-means on 1-D data,
    from k centroids spread linearly over [min, max]; data with at most k distinct values is
    its own codebook. The data is sorted once; each iteration
    then costs O(k log n): clusters are contiguous runs of the sorted data, summed by prefix
    sums. Deterministic."""
    x = np.sort(np.asarray(values, np.float64).ravel())
    if len(x) == 0:
        return np.zeros(0)
    distinct = np.unique(x)
    if len(distinct) <= k:  # already shared (e.g. a codebook-tuned layer): keep it exactly
        return distinct
    centroids = np.linspace(x[0], x[-1], k) if k > 1 else np.array([x.mean()])
    prefix = np.concatenate([[0.0], np.cumsum(x)])
    for _ in range(iterations):
        bounds = np.concatenate([[0], np.searchsorted(x, (centroids[1:] + centroids[:-1]) / 2), [len(x)]])
        counts = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        updated = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.array_equal(updated, centroids):
            break
        centroids = updated
    bounds = np.concatenate([[0], np.searchsorted(x, (centroids[1:] + centroids[:-1]) / 2), [len(x)]])
    return np.unique(centroids[np.diff(bounds) > 0])


def _nearest(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest of the ascending centroids for each value."""
    return np.searchsorted((centroids[1:] + centroids[:-1]) / 2, values)


def share_weights(weight: np.ndarray, bits: int, iterations: int = 1000) -> SharedTensor:
    """The shared form of `weight` with bits-wide indices (1 <= bits <= 8)."""
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an int in [1, {MAX_BITS}], got {bits!r}")
    w = np.asarray(weight, np.float32)
    if not np.isfinite(w).all():
        raise ValueError("weight must be finite to be shared")
    nonzero = w != 0
    has_zero = not nonzero.all()
    k = 2**bits - int(has_zero)
    centroids = kmeans_1d(w[nonzero], k, iterations) if k > 0 else np.zeros(0)
    codebook = np.concatenate([[0.0] if has_zero else [], centroids]).astype(np.float32)
    indices = np.zeros(w.shape, np.uint8)
    if len(centroids):
        indices[nonzero] = _nearest(w[nonzero], centroids) + int(has_zero)
    return SharedTensor(codebook, indices, has_zero)
