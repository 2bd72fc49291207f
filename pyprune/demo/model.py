"""The demo's network: a small MobileNet (standard first convolution, then depthwise-separable
blocks), the kind of model pyprune is for."""

from __future__ import annotations

from torch import nn

__all__ = ["DigitsMobileNet"]


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DigitsMobileNet(nn.Module):
    """MobileNetV1-style classifier: 3x3 convolution, five depthwise-separable blocks
    (depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU), global pooling, linear head."""

    # (output channels, stride) of the depthwise-separable blocks, before the width multiplier.
    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1))

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: float = 1.0) -> None:
        super().__init__()
        cin = max(8, int(32 * width))
        layers = [_conv_bn_relu(in_channels, cin, 3)]
        for cout, stride in self.BLOCKS:
            cout = max(8, int(cout * width))
            layers.append(nn.Sequential(_conv_bn_relu(cin, cin, 3, stride, groups=cin), _conv_bn_relu(cin, cout, 1)))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))
