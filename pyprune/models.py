"""Reference networks with the standard architectures' shapes (224x224 input), built from
plain torch modules: the test, benchmark and demo subjects."""

from __future__ import annotations

from pyprune._optional import require

torch = require("torch", "torch", __name__)

from torch import nn  # noqa: E402

__all__ = ["MobileNetV1", "MobileNetV2", "ShuffleNetV1", "init_weights"]


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


def init_weights(model: nn.Module) -> nn.Module:
    """He initialisation of the convolutions over their true fan-in (k * k for a depthwise
    filter), unit BatchNorm, small linear weights: in eval mode, where BatchNorm does not
    renormalise, activations keep their scale through every layer, so a randomly initialised
    network computes outputs that depend on its input (and checks of converted copies mean
    something)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return model


def _scaled(channels: int, width: float) -> int:
    return max(8, int(channels * width + 4) // 8 * 8)


class MobileNetV1(nn.Module):
    """Howard et al. 2017: a 3x3 stem, 13 depthwise-separable blocks, pooling, a linear head."""

    # (output channels, stride) of the 13 blocks
    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))

    def __init__(self, num_classes: int = 1000, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        cin = _scaled(32, width)
        layers = [_conv_bn(in_channels, cin, 3, 2)]
        for cout, stride in self.BLOCKS:
            cout = _scaled(cout, width)
            layers.append(nn.Sequential(_conv_bn(cin, cin, 3, stride, groups=cin), _conv_bn(cin, cout, 1)))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> 3x3 depthwise -> 1x1 linear projection (+ input)."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [_conv_bn(cin, hidden, 1, act=nn.ReLU6)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6), _conv_bn(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """Sandler et al. 2018: inverted residual blocks with linear bottlenecks."""

    # (expansion, output channels, repeats, stride of the first)
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        cin = _scaled(32, width)
        layers: list[nn.Module] = [_conv_bn(in_channels, cin, 3, 2, act=nn.ReLU6)]
        for expand, channels, repeats, stride in self.SETTINGS:
            cout = _scaled(channels, width)
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        last = _scaled(1280, max(1.0, width))
        layers.append(_conv_bn(cin, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet unit: grouped 1x1 -> channel shuffle -> 3x3 depthwise -> grouped 1x1; added to
    the input (stride 1) or concatenated with its 3x3 average pool (stride 2)."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int, first_groups: int) -> None:
        super().__init__()
        self.stride, self.groups = stride, first_groups
        branch = cout - cin if stride == 2 else cout
        mid = cout // 4
        self.reduce = _conv_bn(cin, mid, 1, groups=first_groups)
        self.depthwise = _conv_bn(mid, mid, 3, stride, groups=mid, act=None)
        self.expand = _conv_bn(mid, branch, 1, groups=groups, act=None)
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(self.depthwise(channel_shuffle(self.reduce(x), self.groups)))
        if self.pool is not None:
            return torch.relu(torch.cat([self.pool(x), y], 1))
        return torch.relu(x + y)


class ShuffleNetV1(nn.Module):
    """Zhang et al. 2018 (groups = 3 by default): grouped pointwise convolutions and channel
    shuffles around depthwise convolutions."""

    STAGE_CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}

    def __init__(self, num_classes: int = 1000, groups: int = 3, repeats: tuple[int, ...] = (4, 8, 4),
                 width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        first = 24  # divisible by every group count
        layers: list[nn.Module] = [_conv_bn(in_channels, first, 3, 2), nn.MaxPool2d(3, 2, 1)]
        cin = first
        cout = int(self.STAGE_CHANNELS[groups] * width) // (4 * groups) * 4 * groups
        for stage, n in enumerate(repeats):
            for i in range(n):
                # The first unit's 1x1 is ungrouped: the stem's channels are too few to split.
                layers.append(ShuffleUnit(cin, cout, 2 if i == 0 else 1, groups, 1 if stage == 0 and i == 0 else groups))
                cin = cout
            cout *= 2
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
