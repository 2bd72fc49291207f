"""Small networks and the scikit-learn digits data set for tests and benchmarks."""

from __future__ import annotations

import warnings
from functools import lru_cache

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def hook_weight_norm(module: nn.Module) -> nn.Module:
    """torch.nn.utils.weight_norm: deprecated, but in many vocoders' code (the weights it computes
    are no graph leaves, which copy.deepcopy refuses)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(module)


class Squeezed(nn.Module):
    """squeeze() with no dim (a separation model's decoder output, a binary classifier's logit):
    a batch of one is squeezed away too, which a graph for any batch cannot do."""

    def __init__(self) -> None:
        super().__init__()
        self.dec, self.fc = nn.ConvTranspose1d(4, 1, 4, 2), nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.squeeze(self.dec(x)), torch.sigmoid(self.fc(x.mean(-1)).squeeze())


class Labels(nn.Module):
    """A segmentation head's outputs: the logits, each pixel's label and the three strongest
    places (as int32), indices of the input itself, so no rounding can move them."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.head(x), x.argmax(1), torch.topk(x.flatten(1), 3).indices.to(torch.int32)


class Pixels(nn.Module):
    """A camera frame as it comes, uint8 pixels in HWC: made float and normalised in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, 5)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / 0.25
        return self.head(self.features(x).mean((2, 3)))


class Tokens(nn.Module):
    """Token ids (int64) through an embedding and a 1-d convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 16)
        self.conv = nn.Conv1d(16, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).transpose(1, 2)
        return self.head(torch.relu(self.conv(x)).amax(-1))


class VGGStyle(nn.Module):
    """Plain conv stack; the head sees a 2x2 map flattened, so each channel is 4 features."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, widths: tuple[int, ...] = (8, 16, 32)) -> None:
        super().__init__()
        a, b, c = widths
        self.features = nn.Sequential(conv_bn(in_channels, a), conv_bn(a, b), nn.MaxPool2d(2), conv_bn(b, c))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(c * 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential() if stride == 1 and cin == cout else \
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNetStyle(nn.Module):
    """A stem and three residual stages (identity shortcuts, then 1x1 downsample shortcuts)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = conv_bn(in_channels, width)
        self.layer1 = nn.Sequential(BasicBlock(width, width, 1), BasicBlock(width, width, 1))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.layer2(self.layer1(self.stem(x)))).flatten(1))


@lru_cache(maxsize=1)
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits (shipped with it, offline): train x, train y, test x, test y."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def train(model: nn.Module, epochs: int, lr: float = 3e-3, seed: int = 0) -> None:
    x, y, _, _ = digits()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()


def accuracy(model: nn.Module) -> float:
    _, _, x, y = digits()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
