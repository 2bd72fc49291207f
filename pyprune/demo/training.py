"""Training and evaluation loops of the demo (plain torch, seeded, batched)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from pyprune.demo.data import Digits
from pyprune.progress import progress_bar

__all__ = ["accuracy", "train"]


@contextlib.contextmanager
def channels_last(model: nn.Module) -> Iterator[nn.Module]:
    """The model's convolution weights channels-last for the duration: torch's CPU depthwise
    convolutions (and their gradients) run about twice as fast so. Then the default layout again,
    which the pruning and packing code expects."""
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


def train(model: nn.Module, data: Digits, epochs: int, lr: float = 2e-3, batch_size: int = 64, seed: int = 0,
          progress: bool = False, desc: str = "train") -> nn.Module:
    """Adam with cosine decay over `epochs` passes of the training set, in a fixed order per
    seed; `progress` shows a bar labelled `desc` that moves with every batch."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(data.train_y) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
    model.train()
    with channels_last(model), progress_bar(steps, desc, "batch", progress) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(data.train_y), generator=generator)
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(model(data.train_x[batch]), data.train_y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: Digits, batch_size: int = 256) -> float:
    """Top-1 accuracy on the test set, in percent."""
    was_training = model.training
    model.eval()
    correct = 0
    with channels_last(model):
        for start in range(0, len(data.test_y), batch_size):
            logits = model(data.test_x[start:start + batch_size])
            correct += int((logits.argmax(1) == data.test_y[start:start + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / len(data.test_y)
