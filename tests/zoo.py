"""Architectures written the way their reference implementations write them (no torchvision or
timm): the subjects of the capture, lowering and conversion tests; ResNet-18 and YOLOv8 are
pyprune.models' (the benchmarks' too). Small widths and inputs keep the tests fast; the code paths (Python control flow, functional calls, views, module
subclasses) are the published ones'.

ZOO maps a name to (factory, example input shape); every model comes out in eval mode with
BatchNorm statistics that are not the identity, so folding them is really checked.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from batchnorm import randomize_batchnorms
from torch import nn

from pyprune.models import ResNet18, YOLOv8


def _divisible(v: float, divisor: int = 8) -> int:
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


# ---- MobileNetV3 ----------------------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """torchvision's: avgpool -> 1x1 -> activation -> 1x1 -> scale activation, times the input."""

    def __init__(self, channels: int, squeeze: int, activation=nn.ReLU, scale_activation=nn.Hardsigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


def conv_norm_act(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act=nn.ReLU) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class MobileNetV3Block(nn.Module):
    def __init__(self, cin: int, k: int, expanded: int, cout: int, se: bool, act, stride: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        layers = []
        if expanded != cin:
            layers.append(conv_norm_act(cin, expanded, 1, act=act))
        layers.append(conv_norm_act(expanded, expanded, k, stride, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcitation(expanded, _divisible(expanded // 4)))
        layers.append(conv_norm_act(expanded, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


class MobileNetV3(nn.Module):
    """MobileNetV3-Small's layout (Hardswish, squeeze-excitation with Hardsigmoid)."""

    # kernel, expanded, out, SE, activation, stride
    SETTINGS = ((3, 16, 16, True, nn.ReLU, 2), (3, 72, 24, False, nn.ReLU, 2), (3, 88, 24, False, nn.ReLU, 1),
                (5, 96, 40, True, nn.Hardswish, 2), (5, 240, 40, True, nn.Hardswish, 1),
                (5, 120, 48, True, nn.Hardswish, 1), (5, 288, 96, True, nn.Hardswish, 2))

    def __init__(self, num_classes: int = 10, width: float = 0.5) -> None:
        super().__init__()
        cin = _divisible(16 * width)
        layers = [conv_norm_act(3, cin, 3, 2, act=nn.Hardswish)]
        for k, expanded, cout, se, act, stride in self.SETTINGS:
            cout = _divisible(cout * width)
            layers.append(MobileNetV3Block(cin, k, _divisible(expanded * width), cout, se, act, stride))
            cin = cout
        last = 6 * cin
        layers.append(conv_norm_act(cin, last, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last, 128), nn.Hardswish(inplace=True), nn.Dropout(0.2, inplace=True),
                                        nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---- EfficientNet ---------------------------------------------------------------------------------


def stochastic_depth(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """torchvision.ops.stochastic_depth, row mode."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
    noise = noise.bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


class StochasticDepth(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(x, self.p, self.training)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, p: float) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [conv_norm_act(cin, hidden, 1, act=nn.SiLU)]
        layers += [conv_norm_act(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
                   SqueezeExcitation(hidden, max(1, cin // 4), nn.SiLU, nn.Sigmoid),
                   conv_norm_act(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout
        self.stochastic_depth = StochasticDepth(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += x
        return result


class EfficientNet(nn.Module):
    """EfficientNet-B0's first stages: MBConv with SiLU, squeeze-excitation and stochastic depth."""

    # expand, kernel, stride, out, repeats
    SETTINGS = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 2))

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers = [conv_norm_act(3, 32, 3, 2, act=nn.SiLU)]
        cin, blocks, total = 32, 0, sum(s[-1] for s in self.SETTINGS)
        for expand, k, stride, cout, repeats in self.SETTINGS:
            for i in range(repeats):
                layers.append(MBConv(cin, cout, k, stride if i == 0 else 1, expand, 0.2 * blocks / total))
                cin, blocks = cout, blocks + 1
        layers.append(conv_norm_act(cin, 4 * cin, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2, inplace=True), nn.Linear(4 * cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---- YOLOv3 ---------------------------------------------------------------------------------------


class DarknetConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.1, inplace=True))


class DarknetResidual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = DarknetConv(channels, channels // 2, 1)
        self.conv2 = DarknetConv(channels // 2, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class Darknet(nn.Module):
    """YOLOv3's Darknet-53 pattern: strided 3x3 downsampling, then residual pairs of 1x1 and 3x3
    convolutions with LeakyReLU(0.1); a detection head per the last two scales."""

    def __init__(self, outputs: int = 18, w: int = 8, repeats: tuple[int, ...] = (1, 2, 2)) -> None:
        super().__init__()
        layers: list[nn.Module] = [DarknetConv(3, w, 3)]
        cin = w
        for n in repeats:
            layers.append(DarknetConv(cin, 2 * cin, 3, 2))
            cin *= 2
            layers += [DarknetResidual(cin) for _ in range(n)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(DarknetConv(cin, 2 * cin, 3), nn.Conv2d(2 * cin, outputs, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ---- ShuffleNetV2 ---------------------------------------------------------------------------------


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, num_channels, height, width)


class InvertedResidualV2(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                                         nn.Conv2d(inp, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(True))
        else:
            self.branch1 = nn.Sequential()
        cin = inp if stride > 1 else branch
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(True),
            nn.Conv2d(branch, branch, 3, stride, 1, groups=branch, bias=False), nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, num_classes: int = 10, channels: tuple[int, ...] = (24, 48, 96, 192, 512),
                 repeats: tuple[int, ...] = (2, 3, 2)) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = channels[0]
        stages = []
        for n, cout in zip(repeats, channels[1:-1]):
            stages.append(nn.Sequential(InvertedResidualV2(cin, cout, 2), *[InvertedResidualV2(cout, cout, 1)
                                                                            for _ in range(n - 1)]))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = nn.Sequential(nn.Conv2d(cin, channels[-1], 1, bias=False), nn.BatchNorm2d(channels[-1]),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


# ---- GhostNet -------------------------------------------------------------------------------------


class GhostModule(nn.Module):
    def __init__(self, inp: int, oup: int, ratio: int = 2, dw_size: int = 3, relu: bool = True) -> None:
        super().__init__()
        self.oup = oup
        init_channels = math.ceil(oup / ratio)
        new_channels = init_channels * (ratio - 1)
        self.primary_conv = nn.Sequential(nn.Conv2d(inp, init_channels, 1, bias=False), nn.BatchNorm2d(init_channels),
                                          nn.ReLU(inplace=True) if relu else nn.Sequential())
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(init_channels, new_channels, dw_size, 1, dw_size // 2, groups=init_channels, bias=False),
            nn.BatchNorm2d(new_channels), nn.ReLU(inplace=True) if relu else nn.Sequential())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        out = torch.cat([x1, x2], dim=1)
        return out[:, :self.oup, :, :]


class GhostBottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, stride: int) -> None:
        super().__init__()
        self.ghost1 = GhostModule(cin, mid)
        self.conv_dw = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False) if stride > 1 else None
        self.bn_dw = nn.BatchNorm2d(mid) if stride > 1 else None
        self.ghost2 = GhostModule(mid, cout, relu=False)
        if cin == cout and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                          nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        x = self.ghost1(x)
        if self.conv_dw is not None:
            x = self.bn_dw(self.conv_dw(x))
        x = self.ghost2(x)
        return x + self.shortcut(residual)


class GhostNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = nn.ReLU(inplace=True)
        # odd output widths, so the slice out[:, :oup] really cuts
        self.blocks = nn.Sequential(GhostBottleneck(16, 16, 16, 1), GhostBottleneck(16, 48, 23, 2),
                                    GhostBottleneck(23, 72, 23, 1), GhostBottleneck(23, 72, 41, 2))
        self.global_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.conv_head = nn.Conv2d(41, 128, 1, 1, 0, bias=True)
        self.act2 = nn.ReLU(inplace=True)
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.act1(self.bn1(self.conv_stem(x))))
        x = self.act2(self.conv_head(self.global_pool(x)))
        return self.classifier(x.view(x.size(0), -1))


# ---- ConvNeXt -------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """ConvNeXt's: channels_last is F.layer_norm, channels_first is written out."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6, data_format: str = "channels_last") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale_init_value: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None
        self.drop_path = StochasticDepth(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.pwconv2(x)
        if self.gamma is not None:
            x = self.gamma * x
        x = x.permute(0, 3, 1, 2)
        return shortcut + self.drop_path(x)


class ConvNeXt(nn.Module):
    def __init__(self, num_classes: int = 10, depths: tuple[int, ...] = (1, 1, 2), dims: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm(dims[0], 1e-6, "channels_first"))]
            + [nn.Sequential(LayerNorm(dims[i], 1e-6, "channels_first"), nn.Conv2d(dims[i], dims[i + 1], 2, 2))
               for i in range(len(dims) - 1)])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(d, 0.1) for _ in range(n)])
                                    for d, n in zip(dims, depths))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)
        with torch.no_grad():  # layer scales and norms away from their identity initialisation
            g = torch.Generator().manual_seed(1)
            for m in self.modules():
                if isinstance(m, ConvNeXtBlock):
                    m.gamma.uniform_(0.5, 1.5, generator=g)
                if isinstance(m, (LayerNorm, nn.LayerNorm)):
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    m.bias.normal_(0, 0.2, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.head(self.norm(x.mean([-2, -1])))


# ---- TF "SAME" padding ----------------------------------------------------------------------------


def get_same_padding(x: int, k: int, s: int, d: int) -> int:
    return max((math.ceil(x / s) - 1) * s + (k - 1) * d + 1 - x, 0)


class Conv2dSame(nn.Conv2d):
    """timm's Conv2dSame: TensorFlow's "SAME" padding computed from the input's size."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        pad_h = get_same_padding(ih, kh, self.stride[0], self.dilation[0])
        pad_w = get_same_padding(iw, kw, self.stride[1], self.dilation[1])
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)


class SameNet(nn.Module):
    """EfficientNet-TF style: stride-2 SAME convolutions (asymmetric padding) on odd and even sizes."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            Conv2dSame(3, 16, 3, stride=2, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            Conv2dSame(16, 16, 3, stride=2, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            Conv2dSame(16, 32, 1), nn.ReLU6(),
            Conv2dSame(32, 32, 5, stride=2, groups=32), nn.ReLU6(),
            Conv2dSame(32, 48, 2, stride=1))
        self.fc = nn.Linear(48, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))


# ---- a Python branch on the input's size ----------------------------------------------------------


class ShapeBranch(nn.Module):
    """Large inputs are pooled before the head, small ones are not: export keeps the branch the
    example takes."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_norm_act(3, 16, 3, 2)
        self.pool = nn.MaxPool2d(2)
        self.body = conv_norm_act(16, 32, 3)
        self.fc = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        if x.shape[-1] > 8:
            x = self.pool(x)
        x = F.adaptive_avg_pool2d(self.body(x), 4)
        return self.fc(x.flatten(1))


# ---- transformers: a block between convolutions, a vision transformer -------------------------------


class MobileViT(nn.Module):
    """MobileViT's block: a local 3x3 and a 1x1 to the embedding, the feature map resized (in a
    branch on its size) to whole patches and unfolded into tokens, a transformer layer
    (nn.MultiheadAttention, LayerNorm, a GELU MLP), folded back and fused with the input. A
    spatial attention gate (CBAM's: mean and max over the channels, a 7x7 convolution, a
    sigmoid) scales the result."""

    def __init__(self, channels: int = 16, dim: int = 24, patch: int = 2, heads: int = 4,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.patch = patch
        self.stem = conv_norm_act(3, channels, 3, 2, act=nn.SiLU)
        self.local = nn.Sequential(conv_norm_act(channels, channels, 3, act=nn.SiLU), nn.Conv2d(channels, dim, 1))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.proj = conv_norm_act(dim, channels, 1, act=nn.SiLU)
        self.fuse = conv_norm_act(2 * channels, channels, 3, act=nn.SiLU)
        self.gate = nn.Conv2d(2, 1, 7, padding=3)
        self.fc = nn.Linear(channels, num_classes)

    def transformer(self, y: torch.Tensor) -> torch.Tensor:
        b, c, h, w = y.shape
        p = self.patch
        new_h, new_w = math.ceil(h / p) * p, math.ceil(w / p) * p
        if new_h != h or new_w != w:
            y = F.interpolate(y, size=(new_h, new_w), mode="bilinear", align_corners=False)
        nh, nw = new_h // p, new_w // p
        t = y.reshape(b * c * nh, p, nw, p).transpose(1, 2).reshape(b, c, nh * nw, p * p)
        t = t.transpose(1, 3).reshape(b * p * p, nh * nw, c)
        q = self.norm1(t)
        t = t + self.attn(q, q, q, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        y = t.reshape(b, p * p, nh * nw, c).transpose(1, 3).reshape(b * c * nh, nw, p, p)
        y = y.transpose(1, 2).reshape(b, c, new_h, new_w)
        if new_h != h or new_w != w:
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.fuse(torch.cat([x, self.proj(self.transformer(self.local(x)))], 1))
        y = y * torch.sigmoid(self.gate(torch.cat([y.mean(1, keepdim=True), y.amax(1, keepdim=True)], 1)))
        return self.fc(y.mean((2, 3)))


class TokenAttention(nn.Module):
    """timm's Attention: one qkv Linear, heads split by reshape/permute/unbind, then
    F.scaled_dot_product_attention or the same written out."""

    def __init__(self, dim: int, heads: int, fused: bool) -> None:
        super().__init__()
        self.num_heads, self.head_dim, self.fused = heads, dim // heads, fused
        self.scale = self.head_dim**-0.5
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class ViT(nn.Module):
    """A vision transformer the way timm writes one: patch embedding by a strided convolution, a
    class token expanded to the batch, position embeddings, pre-norm blocks with layer scale, the
    class token's features to the head."""

    def __init__(self, dim: int = 24, depth: int = 2, patch: int = 4, image: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, (image // patch) ** 2 + 1, dim))
        self.norms = nn.ModuleList([nn.LayerNorm(dim, eps=1e-6) for _ in range(2 * depth)])
        self.attns = nn.ModuleList([TokenAttention(dim, 4, fused=i % 2 == 0) for i in range(depth)])
        self.scales = nn.ParameterList([nn.Parameter(0.1 * torch.ones(dim)) for _ in range(depth)])
        self.mlps = nn.ModuleList([nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"),
                                                 nn.Linear(2 * dim, dim)) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        for i, (attn, scale, mlp) in enumerate(zip(self.attns, self.scales, self.mlps)):
            x = x + scale * attn(self.norms[2 * i](x))
            x = x + mlp(self.norms[2 * i + 1](x))
        return self.head(self.norm(x)[:, 0])


# ---- Swin: shifted windows ----------------------------------------------------------------------


class ShiftedWindowAttention(nn.Module):
    """torchvision's shifted_window_attention: the (B, H, W, C) map padded to whole windows,
    rolled back by `shift`, split into windows; attention with a relative position bias gathered
    from a table, and, when shifted, a mask built in the forward (-100 between pixels that came
    from different regions); rolled forward again and cropped."""

    def __init__(self, dim: int, window: int, shift: int, heads: int) -> None:
        super().__init__()
        self.window, self.shift, self.heads = window, shift, heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(0.02 * torch.randn((2 * window - 1) ** 2, heads))
        grid = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("index", (relative[..., 0] * (2 * window - 1) + relative[..., 1]).flatten(), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        win, heads = self.window, self.heads
        x = F.pad(x, (0, 0, 0, (win - w % win) % win, 0, (win - h % win) % win))
        _, ph, pw, _ = x.shape
        shift = 0 if win >= min(ph, pw) else self.shift
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        n = (ph // win) * (pw // win)
        x = x.view(b, ph // win, win, pw // win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(b * n, win * win, c)
        qkv = self.qkv(x).reshape(x.size(0), x.size(1), 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.bias_table[self.index].view(win * win, win * win, -1).permute(2, 0, 1).contiguous()
        attn = attn + bias.unsqueeze(0)
        if shift:
            mask = x.new_zeros((ph, pw))
            regions = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
            count = 0
            for hs in regions:
                for ws in regions:
                    mask[hs, ws] = count
                    count += 1
            mask = mask.view(ph // win, win, pw // win, win).permute(0, 2, 1, 3).reshape(n, win * win)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = attn.view(x.size(0) // n, n, heads, win * win, win * win) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, win * win, win * win)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(x.size(0), x.size(1), c)
        x = self.proj(x).view(b, ph // win, pw // win, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()


class PatchMerging(nn.Module):
    """Each 2x2 block of pixels concatenated, normalised and reduced to twice the channels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm, self.reduction = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, 0, x.shape[-2] % 2, 0, x.shape[-3] % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class Swin(nn.Module):
    """Swin-T's layout in small: a 4x4 patch embedding, a block with windows and one with shifted
    windows, channels last throughout, then patch merging and the pooled head."""

    def __init__(self, dim: int = 16, window: int = 4, num_classes: int = 10) -> None:
        super().__init__()
        self.embed, self.embed_norm = nn.Conv2d(3, dim, 4, 4), nn.LayerNorm(dim)
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(4)])
        self.attns = nn.ModuleList([ShiftedWindowAttention(dim, window, shift, 2) for shift in (0, window // 2)])
        self.mlps = nn.ModuleList([nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
                                   for _ in range(2)])
        self.merge = PatchMerging(dim)
        self.norm, self.head = nn.LayerNorm(2 * dim), nn.Linear(2 * dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed_norm(self.embed(x).permute(0, 2, 3, 1))
        for i, (attn, mlp) in enumerate(zip(self.attns, self.mlps)):
            x = x + attn(self.norms[2 * i](x))
            x = x + mlp(self.norms[2 * i + 1](x))
        x = self.norm(self.merge(x)).permute(0, 3, 1, 2)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---- segmentation: an encoder-decoder with transposed convolutions ----------------------------------


class UNet(nn.Module):
    """A U-Net with an ESPCN-style sub-pixel head: PReLU (a slope per channel, and one for all),
    Mish and ELU activations, transposed convolutions to upsample (2x2 stride 2, and 4x4 stride 2
    padding 1), skip connections concatenated, a pixel shuffle to the output."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.PReLU(8))
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.Mish())
        self.enc3 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ELU())
        self.up3 = nn.ConvTranspose2d(32, 16, 2, 2)
        self.dec2 = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.PReLU())
        self.up2 = nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False)
        self.dec1 = conv_norm_act(16, 8, 3, act=nn.SiLU)
        self.head = nn.Sequential(nn.Conv2d(8, 4 * classes, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d2 = self.dec2(torch.cat([self.up3(self.enc3(e2)), e2], 1))
        return self.head(self.dec1(torch.cat([self.up2(d2), e1], 1)))


# ---- a BatchNorm2d subclass from outside torch.nn -------------------------------------------------


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: BatchNorm2d with the activation in the same module, its forward
    calling F.batch_norm itself."""

    def __init__(self, num_features: int, act_layer=nn.ReLU) -> None:
        super().__init__(num_features)
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training or not self.track_running_stats, self.momentum or 0.0, self.eps)
        return self.act(x)


class BNActNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn1 = BatchNormAct2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.bn2 = BatchNormAct2d(16, nn.SiLU)
        self.conv3 = nn.Conv2d(16, 32, 1, bias=False)
        self.bn3 = BatchNormAct2d(32, nn.Identity)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn3(self.conv3(self.bn2(self.conv2(self.bn1(self.conv1(x))))))
        return self.fc(x.mean((2, 3)))


# ---- video -----------------------------------------------------------------------------------------


def conv3d_norm_relu(cin: int, cout: int, k: tuple[int, int, int], stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, k, stride, tuple(d // 2 for d in k), bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


class R2Plus1dBlock(nn.Module):
    """torchvision's R(2+1)D residual block: each 3x3x3 convolution factored into a 1x3x3
    spatial and a 3x1x1 temporal one."""

    def __init__(self, cin: int, cout: int, mid: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(conv3d_norm_relu(cin, mid, (1, 3, 3), (1, stride, stride)),
                                   conv3d_norm_relu(mid, cout, (3, 1, 1), (stride, 1, 1)))
        self.conv2 = nn.Sequential(conv3d_norm_relu(cout, mid, (1, 3, 3), (1, 1, 1)),
                                   nn.Conv3d(mid, cout, (3, 1, 1), padding=(1, 0, 0), bias=False), nn.BatchNorm3d(cout))
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.down is None else self.down(x)
        return torch.relu(self.conv2(self.conv1(x)) + skip)


class R2Plus1d(nn.Module):
    """A video classifier on (N, 3, frames, H, W) clips in R(2+1)D's layout: a factored stem, a
    3-d max pooling, residual blocks, global 3-d average pooling and a Linear head."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv3d_norm_relu(3, 16, (1, 7, 7), (1, 2, 2)), conv3d_norm_relu(16, 16, (3, 1, 1), (1, 1, 1)))
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer1 = R2Plus1dBlock(16, 16, 24, 1)
        self.layer2 = R2Plus1dBlock(16, 32, 32, 2)
        self.head = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.pool(self.stem(x))))
        return self.fc(self.head(x).flatten(1))


# ---- detection with data-dependent post-processing ------------------------------------------------


class Detector(nn.Module):
    """A backbone and a head torch.export captures, then post-processing it cannot: scores above a
    threshold picked by boolean indexing and a Python loop over the detections that survive."""

    def __init__(self, classes: int = 4, threshold: float = 0.5) -> None:
        super().__init__()
        self.backbone = nn.Sequential(conv_norm_act(3, 16, 3, 2), conv_norm_act(16, 16, 3, 1, groups=16),
                                      conv_norm_act(16, 32, 1), conv_norm_act(32, 32, 3, 2))
        self.head = nn.Sequential(conv_norm_act(32, 32, 3), nn.Conv2d(32, 4 + classes, 1))
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.head(self.backbone(x))
        boxes, scores = out[:, :4], out[:, 4:].sigmoid()
        detections = []
        for b in range(x.shape[0]):
            best, label = scores[b].max(0)
            keep = best > self.threshold
            found = torch.cat([boxes[b][:, keep].t(), best[keep][:, None], label[keep][:, None].float()], 1)
            for i in range(int(keep.sum())):  # data-dependent: how many objects were found
                found[i, :4] = found[i, :4].clamp(min=0)
            detections.append(found)
        return detections


class OneToOneDetector(nn.Module):
    """YOLOv10's NMS-free detection in small: per-level heads of box distances and class logits,
    flattened over the anchors and decoded against the anchor grid, then YOLOv10's
    post-processing: the max_det anchors of the best class scores, gathered, then the max_det best
    (anchor, class) pairs among them, split into the anchor and the label by // and %."""

    def __init__(self, classes: int = 5, max_det: int = 12) -> None:
        super().__init__()
        self.classes, self.max_det = classes, max_det
        self.stem = conv_norm_act(3, 16, 3, 2, act=nn.SiLU)
        self.stages = nn.ModuleList([conv_norm_act(16, 32, 3, 2, act=nn.SiLU), conv_norm_act(32, 32, 3, 2, act=nn.SiLU)])
        self.heads = nn.ModuleList([nn.Conv2d(32, 4 + classes, 1) for _ in self.stages])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, anchors, strides = [], [], []
        f = self.stem(x)
        for stage, head in zip(self.stages, self.heads):
            f = stage(f)
            y = head(f)
            h, w = y.shape[2:]
            outs.append(y.flatten(2))
            sy, sx = torch.meshgrid(torch.arange(h, dtype=x.dtype) + 0.5, torch.arange(w, dtype=x.dtype) + 0.5,
                                    indexing="ij")
            anchors.append(torch.stack([sx, sy], -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), x.shape[2] / h, dtype=x.dtype))
        out = torch.cat(outs, 2).permute(0, 2, 1)  # (N, anchors, 4 + classes)
        anchor, stride = torch.cat(anchors), torch.cat(strides)
        distances, logits = out.split([4, self.classes], -1)
        left_top, right_bottom = distances.relu().chunk(2, -1)
        boxes = torch.cat([anchor - left_top, anchor + right_bottom], -1) * stride
        scores = logits.sigmoid()
        best, index = torch.topk(scores.amax(dim=-1), self.max_det, dim=-1)
        index = index.unsqueeze(-1)
        boxes = torch.gather(boxes, 1, index.repeat(1, 1, boxes.shape[-1]))
        scores = torch.gather(scores, 1, index.repeat(1, 1, scores.shape[-1]))
        scores, index = torch.topk(scores.flatten(1), self.max_det, dim=-1)
        labels = index % self.classes
        index = index // self.classes
        boxes = boxes.gather(1, index.unsqueeze(-1).repeat(1, 1, boxes.shape[-1]))
        return torch.cat([boxes, scores.unsqueeze(-1), labels.unsqueeze(-1).to(boxes.dtype)], -1)


class DeformableSampler(nn.Module):
    """RT-DETR's / Deformable-DETR's multi-scale deformable attention in small: every pixel of the
    finer map is a query that samples `points` locations per head around its reference point in
    each level (offsets and weights from Linear layers), by F.grid_sample of the per-head value
    maps; the samples are weighted by a softmax over levels and points."""

    def __init__(self, dim: int = 16, heads: int = 2, points: int = 3) -> None:
        super().__init__()
        self.dim, self.heads, self.points = dim, heads, points
        self.stem = nn.Sequential(conv_norm_act(3, dim, 3, 2), conv_norm_act(dim, dim, 3, 1))
        self.down = conv_norm_act(dim, dim, 3, 2)
        self.value = nn.Linear(dim, dim)
        self.offsets = nn.Linear(dim, heads * 2 * points * 2)
        self.weights = nn.Linear(dim, heads * 2 * points)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = [self.stem(x)]
        levels.append(self.down(levels[0]))
        n, _, h, w = levels[0].shape
        queries = levels[0].flatten(2).transpose(1, 2)  # (N, Lq, C)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
        reference = torch.stack([(xs.flatten() + 0.5) / w, (ys.flatten() + 0.5) / h], -1)  # (Lq, 2) in [0, 1]
        offsets = self.offsets(queries).view(n, h * w, self.heads, 2, self.points, 2)
        weights = self.weights(queries).view(n, h * w, self.heads, 2 * self.points).softmax(-1)
        weights = weights.view(n, h * w, self.heads, 2, self.points)
        sampled = []
        for level, f in enumerate(levels):
            lh, lw = f.shape[2:]
            value = self.value(f.flatten(2).transpose(1, 2))  # (N, L, C)
            value = value.transpose(1, 2).reshape(n * self.heads, self.dim // self.heads, lh, lw)
            location = reference[None, :, None, None, :] + offsets[:, :, :, level] / torch.tensor([lw, lh], dtype=x.dtype)
            grid = (2 * location - 1).transpose(1, 2).flatten(0, 1)  # (N * heads, Lq, points, 2)
            samples = F.grid_sample(value, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            attention = weights[:, :, :, level].transpose(1, 2).reshape(n * self.heads, 1, h * w, self.points)
            sampled.append((samples * attention).sum(-1))  # (N * heads, C / heads, Lq)
        out = torch.stack(sampled).sum(0).view(n, self.dim, h * w).transpose(1, 2)
        return self.out(out)


class LSTM2d(nn.Module):
    """Sequencer2D's block: bidirectional LSTMs along each row and each column of the (B, H, W, C)
    map, their outputs concatenated and fused by a Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.rows = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.columns = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.fuse = nn.Linear(4 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        rows, _ = self.rows(x.reshape(b * h, w, c))
        columns, _ = self.columns(x.permute(0, 2, 1, 3).reshape(b * w, h, c))
        rows = rows.reshape(b, h, w, -1)
        columns = columns.reshape(b, w, h, -1).permute(0, 2, 1, 3)
        return self.fuse(torch.cat([rows, columns], -1))


class Sequencer(nn.Module):
    """Sequencer2D in small: a patch embedding, LSTM2d token mixing and an MLP, each residual with
    LayerNorm, then a pooled Linear head."""

    def __init__(self, dim: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, 4)
        self.norm1, self.mix = nn.LayerNorm(dim), LSTM2d(dim, 8)
        self.norm2, self.mlp = nn.LayerNorm(dim), nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).permute(0, 2, 3, 1)
        x = x + self.mix(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return self.head(x.mean((1, 2)))


# ---- Inception-v3 ----------------------------------------------------------------------------------


def basic_conv(cin: int, cout: int, kernel, stride: int = 1, padding=0) -> nn.Sequential:
    """Inception's BasicConv2d: a convolution of any (also rectangular) kernel, BN, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout, eps=0.001),
                         nn.ReLU(inplace=True))


class InceptionA(nn.Module):
    """1x1, 5x5 and double 3x3 branches and an average-pooled one, concatenated."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = basic_conv(cin, 16, 1)
        self.branch5x5 = nn.Sequential(basic_conv(cin, 12, 1), basic_conv(12, 16, 5, padding=2))
        self.branch3x3dbl = nn.Sequential(basic_conv(cin, 16, 1), basic_conv(16, 24, 3, padding=1),
                                          basic_conv(24, 24, 3, padding=1))
        self.branch_pool = basic_conv(cin, pool, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x), pooled], 1)


class InceptionC(nn.Module):
    """The factorised 7x7: 1x7 then 7x1 convolutions; the pooled branch does not count the
    padding (count_include_pad=False)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = basic_conv(cin, 32, 1)
        self.branch7x7 = nn.Sequential(basic_conv(cin, c7, 1), basic_conv(c7, c7, (1, 7), padding=(0, 3)),
                                       basic_conv(c7, 32, (7, 1), padding=(3, 0)))
        self.branch_pool = basic_conv(cin, 32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), self.branch7x7(x), self.branch_pool(pooled)], 1)


class Inception(nn.Module):
    """Inception-v3's layout in small: unpadded stem convolutions, ceil-mode max pooling, an A
    block, a strided reduction, a C block, the pooled head with dropout."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(basic_conv(3, 32, 3, stride=2), basic_conv(32, 32, 3),
                                  nn.MaxPool2d(3, 2, ceil_mode=True))
        self.mixed_a = InceptionA(32, 8)
        self.reduction = basic_conv(64, 64, 3, stride=2)
        self.mixed_c = InceptionC(64, 16)
        self.fc = nn.Linear(96, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mixed_c(self.reduction(self.mixed_a(self.stem(x))))
        x = F.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1), 0.5, self.training)
        return self.fc(x)


# ---- DeepLabV3 ------------------------------------------------------------------------------------


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, 3x3 branches dilated 2, 4 and 6, and the
    globally pooled features resized back to the map's size; concatenated and projected."""

    def __init__(self, cin: int, cout: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList([conv_norm_act(cin, cout, 1)] + [
            nn.Sequential(nn.Conv2d(cin, cout, 3, padding=r, dilation=r, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
            for r in (2, 4, 6)])
        self.pooling = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                                     nn.BatchNorm2d(cout), nn.ReLU())
        self.project = nn.Sequential(conv_norm_act(5 * cout, cout, 1), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(self.pooling(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.project(torch.cat([conv(x) for conv in self.convs] + [pooled], 1))


class DeepLabV3(nn.Module):
    """torchvision's segmentation model in small: a dilated backbone, ASPP, a classifier, the
    logits resized to the input and returned in a dict."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.backbone = nn.Sequential(conv_norm_act(3, 16, stride=2), conv_norm_act(16, 32, stride=2),
                                      nn.Sequential(nn.Conv2d(32, 48, 3, padding=2, dilation=2, bias=False),
                                                    nn.BatchNorm2d(48), nn.ReLU()))
        self.classifier = nn.Sequential(ASPP(48), nn.Conv2d(32, num_classes, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.classifier(self.backbone(x))
        return {"out": F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)}


# ---- RetinaNet ------------------------------------------------------------------------------------


class RetinaHead(nn.Module):
    """torchvision's RetinaNet heads: convolutions with GroupNorm, shared by every level, each
    level's outputs permuted to (N, H * W * anchors, K) and concatenated."""

    def __init__(self, channels: int = 32, anchors: int = 3, classes: int = 5) -> None:
        super().__init__()

        def tower(outputs: int) -> nn.Sequential:
            layers = []
            for _ in range(2):
                layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(8, channels), nn.ReLU()]
            return nn.Sequential(*layers, nn.Conv2d(channels, anchors * outputs, 3, padding=1))

        self.cls_logits, self.bbox_regression, self.classes = tower(classes), tower(4), classes

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        scores, boxes = [], []
        for f in features:
            n, _, h, w = f.shape
            scores.append(self.cls_logits(f).view(n, -1, self.classes, h, w).permute(0, 3, 4, 1, 2)
                          .reshape(n, -1, self.classes))
            boxes.append(self.bbox_regression(f).view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4))
        return torch.cat(scores, 1).sigmoid(), torch.cat(boxes, 1)


class RetinaNet(nn.Module):
    """A backbone's three stages, a feature pyramid (lateral 1x1s, nearest upsampling to the
    finer level's size, 3x3 outputs, a strided P6) and the GroupNorm heads."""

    def __init__(self) -> None:
        super().__init__()
        self.c3, self.c4, self.c5 = conv_norm_act(3, 16, stride=4), conv_norm_act(16, 32, stride=2), conv_norm_act(
            32, 64, stride=2)
        self.lateral = nn.ModuleList([nn.Conv2d(c, 32, 1) for c in (16, 32, 64)])
        self.output = nn.ModuleList([nn.Conv2d(32, 32, 3, padding=1) for _ in range(3)])
        self.p6 = nn.Conv2d(32, 32, 3, 2, 1)
        self.head = RetinaHead()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c3 = self.c3(x)
        c4 = self.c4(c3)
        features = [c3, c4, self.c5(c4)]
        inner = self.lateral[2](features[2])
        levels = [self.output[2](inner)]
        for i in (1, 0):
            inner = self.lateral[i](features[i]) + F.interpolate(inner, size=features[i].shape[-2:], mode="nearest")
            levels.insert(0, self.output[i](inner))
        return self.head(levels + [self.p6(levels[-1])])


# ---- CRNN (text recognition) -----------------------------------------------------------------------


class CRNN(nn.Module):
    """A convolutional text recogniser: its feature map's columns as a sequence through a
    bidirectional GRU, per-column class log-probabilities (as CTC reads them)."""

    def __init__(self, classes: int = 11) -> None:
        super().__init__()
        self.cnn = nn.Sequential(conv_norm_act(1, 16), nn.MaxPool2d(2, 2), conv_norm_act(16, 32), nn.MaxPool2d((2, 1), (2, 1)),
                                 conv_norm_act(32, 32), nn.AdaptiveAvgPool2d((1, None)))
        self.rnn = nn.GRU(32, 24, bidirectional=True)
        self.fc = nn.Linear(48, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = self.cnn(x).squeeze(2).permute(2, 0, 1)  # (W, N, C)
        out, _ = self.rnn(columns)
        return self.fc(out).log_softmax(2)


# ---- the zoo --------------------------------------------------------------------------------------

ZOO = {
    "mobilenet_v3": (MobileNetV3, (3, 64, 64)),
    "efficientnet": (EfficientNet, (3, 64, 64)),
    "yolov8": (functools.partial(YOLOv8, outputs=16, width=8), (3, 64, 64)),
    "darknet": (Darknet, (3, 32, 32)),
    "resnet18": (functools.partial(ResNet18, num_classes=10), (3, 64, 64)),
    "shufflenet_v2": (ShuffleNetV2, (3, 64, 64)),
    "ghostnet": (GhostNet, (3, 64, 64)),
    "convnext": (ConvNeXt, (3, 64, 64)),
    "mobilevit": (MobileViT, (3, 29, 29)),
    "unet": (UNet, (3, 20, 24)),
    "vit": (ViT, (3, 16, 16)),
    "swin": (Swin, (3, 20, 28)),
    "same_padding": (SameNet, (3, 37, 50)),
    "shape_branch": (ShapeBranch, (3, 32, 32)),
    "bn_act": (BNActNet, (3, 32, 32)),
    "r2plus1d": (R2Plus1d, (3, 4, 24, 24)),
    "detector": (Detector, (3, 32, 32)),
    "one_to_one_detector": (OneToOneDetector, (3, 32, 32)),
    "deformable_sampler": (DeformableSampler, (3, 24, 20)),
    "sequencer": (Sequencer, (3, 16, 20)),
    "inception": (Inception, (3, 75, 75)),
    "deeplab_v3": (DeepLabV3, (3, 65, 65)),
    "retinanet": (RetinaNet, (3, 96, 96)),
    "crnn": (CRNN, (1, 16, 24)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    """The model (eval mode, seeded, BatchNorm statistics randomised) and its input shape
    without the batch."""
    factory, shape = ZOO[name]
    torch.manual_seed(seed)
    return randomize_batchnorms(factory(), seed), shape
