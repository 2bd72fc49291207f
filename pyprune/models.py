"""Reference networks with the standard architectures' shapes (224x224 input; YOLOv8 any
multiple of 32), built from plain torch modules the way their reference implementations write
them: the test, benchmark and demo subjects."""

from __future__ import annotations

from pyprune._optional import require

torch = require("torch", "torch", __name__)

from torch import nn  # noqa: E402

__all__ = ["MobileNetV1", "MobileNetV2", "ResNet18", "ShuffleNetV1", "YOLOv8", "init_weights"]


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


class BasicBlock(nn.Module):
    """ResNet's two 3x3 convolutions, added to the input (or its strided 1x1 projection)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """He et al. 2016, 18 layers: a 7x7 stem and max pooling, four stages of two basic blocks."""

    def __init__(self, num_classes: int = 1000, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(width, 1)
        self.layer2 = self._make_layer(2 * width, 2)
        self.layer3 = self._make_layer(4 * width, 2)
        self.layer4 = self._make_layer(8 * width, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        init_weights(self)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample), BasicBlock(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# YOLOv8's building blocks, under ultralytics' names.


class Conv(nn.Module):
    """conv -> BatchNorm -> SiLU ("same" padding); one SiLU module shared by every instance, as
    ultralytics writes it."""

    default_act = nn.SiLU()

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = self.default_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 3, 1)
        self.cv2 = Conv(c2, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C2f(nn.Module):
    """A 1x1 convolution split in two halves (chunk -> list), n bottlenecks chained on the
    second, every piece concatenated into a last 1x1 convolution."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three 5x5 max poolings in a row, concatenated."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class YOLOv8(nn.Module):
    """YOLOv8-n's layout (width 16: its channels): a backbone of strided convolutions and C2f
    blocks down to 1/32 with SPPF, the PAN neck (nearest upsampling + concat, strided
    convolutions back down), and one 1x1 prediction convolution per scale in place of the
    detection head. Returns the maps at 1/8, 1/16 and 1/32 as a list."""

    def __init__(self, outputs: int = 84, width: int = 16, in_channels: int = 3) -> None:
        super().__init__()
        w = width
        self.b0 = Conv(in_channels, w, 3, 2)
        self.b1 = nn.Sequential(Conv(w, 2 * w, 3, 2), C2f(2 * w, 2 * w, 1, True))
        self.b2 = nn.Sequential(Conv(2 * w, 4 * w, 3, 2), C2f(4 * w, 4 * w, 2, True))
        self.b3 = nn.Sequential(Conv(4 * w, 8 * w, 3, 2), C2f(8 * w, 8 * w, 2, True))
        self.b4 = nn.Sequential(Conv(8 * w, 16 * w, 3, 2), C2f(16 * w, 16 * w, 1, True), SPPF(16 * w, 16 * w))
        self.up = nn.Upsample(None, 2, "nearest")
        self.n1 = C2f(24 * w, 8 * w)
        self.n2 = C2f(12 * w, 4 * w)
        self.down1 = Conv(4 * w, 4 * w, 3, 2)
        self.n3 = C2f(12 * w, 8 * w)
        self.down2 = Conv(8 * w, 8 * w, 3, 2)
        self.n4 = C2f(24 * w, 16 * w)
        self.heads = nn.ModuleList(nn.Conv2d(c, outputs, 1) for c in (4 * w, 8 * w, 16 * w))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p3 = self.b2(self.b1(self.b0(x)))
        p4 = self.b3(p3)
        p5 = self.b4(p4)
        n4 = self.n1(torch.cat([self.up(p5), p4], 1))
        n3 = self.n2(torch.cat([self.up(n4), p3], 1))
        n4 = self.n3(torch.cat([self.down1(n3), n4], 1))
        n5 = self.n4(torch.cat([self.down2(n4), p5], 1))
        return [head(f) for head, f in zip(self.heads, (n3, n4, n5))]
