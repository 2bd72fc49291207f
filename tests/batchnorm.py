"""BatchNorm layers with non-trivial statistics, so that folding them is really tested."""

import torch
from torch import nn


def randomize(bn: nn.BatchNorm2d, generator: torch.Generator) -> nn.BatchNorm2d:
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5, generator=generator)
        bn.bias.normal_(0, 0.5, generator=generator)
        bn.running_mean.normal_(0, 0.5, generator=generator)
        bn.running_var.uniform_(0.5, 2.0, generator=generator)
    return bn.eval()


def randomized_bn(channels: int, seed: int) -> nn.BatchNorm2d:
    return randomize(nn.BatchNorm2d(channels), torch.Generator().manual_seed(seed))


def randomize_batchnorms(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            randomize(m, g)
    return model.eval()
