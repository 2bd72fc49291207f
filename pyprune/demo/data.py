"""The demo's data: scikit-learn's handwritten digits (1797 real 8x8 images, shipped with
scikit-learn, nothing downloaded), upsampled so the network's layers do real work."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pyprune._optional import require

__all__ = ["Digits", "load_digits"]


@dataclass(frozen=True)
class Digits:
    train_x: torch.Tensor  # (N, 1, size, size) float32, normalised
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]


def load_digits(size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> Digits:
    """The digits, split into train and test sets (stratified by shuffling with `seed`),
    upsampled from 8x8 to size x size and normalised to zero mean and unit variance."""
    datasets = require("sklearn.datasets", "demo", "the demo's data")
    bunch = datasets.load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    images, labels = images[order], labels[order]
    n_test = int(round(len(labels) * test_fraction))
    train_x, test_x = images[n_test:], images[:n_test]
    mean, std = train_x.mean(), train_x.std()
    return Digits((train_x - mean) / std, labels[n_test:], (test_x - mean) / std, labels[:n_test])
