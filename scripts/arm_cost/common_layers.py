"""The common convolutions of CNNs one at a time, each a one-layer network (the convolution,
with the ReLU that usually follows it fused), at the sizes the named networks run them: the
first layers, depthwise 3x3/5x5/7x7/9x9 at strides 1 and 2, dilated and large depthwise,
grouped, dilated, 1x1 with stride 2 and dense 3x3 with stride 2. Counted through pyprune's runtime (the `layers` section) and through
ncnn (`ncnn-layers`), exported and packed like the whole models (whole_models.py)."""

from __future__ import annotations

from arm_cost.counter import CountError
from arm_cost.whole_models import Model

# name: (in channels, out channels, kernel, stride, groups, dilation, ReLU after, input H = W).
LAYERS = {
    "first 3x3 s2 3->16 @224 (MobileNetV3)": (3, 16, 3, 2, 1, 1, True, 224),
    "first 7x7 s2 3->64 @224 (ResNet)": (3, 64, 7, 2, 1, 1, True, 224),
    "depthwise 3x3 s1 144 @56": (144, 144, 3, 1, 144, 1, True, 56),
    "depthwise 3x3 s2 144 @56": (144, 144, 3, 2, 144, 1, True, 56),
    "depthwise 5x5 s1 240 @28 (EfficientNet)": (240, 240, 5, 1, 240, 1, True, 28),
    "depthwise 5x5 s1 240 @14 (EfficientNet)": (240, 240, 5, 1, 240, 1, True, 14),
    "depthwise 5x5 s1 1152 @7 (EfficientNet)": (1152, 1152, 5, 1, 1152, 1, True, 7),
    "depthwise 5x5 s2 72 @56 (MobileNetV3)": (72, 72, 5, 2, 72, 1, True, 56),
    "depthwise 7x7 s1 96 @56 (ConvNeXt)": (96, 96, 7, 1, 96, 1, False, 56),
    "depthwise 7x7 s1 384 @14 (ConvNeXt)": (384, 384, 7, 1, 384, 1, False, 14),
    "depthwise 7x7 s2 192 @28": (192, 192, 7, 2, 192, 1, False, 28),
    "depthwise 9x9 s1 256 @28 (ConvMixer)": (256, 256, 9, 1, 256, 1, False, 28),
    "depthwise 9x9 s2 128 @56": (128, 128, 9, 2, 128, 1, False, 56),
    "depthwise 3x3 d2 576 @28 (DeepLab's MobileNetV2)": (576, 576, 3, 1, 576, 2, True, 28),
    "depthwise 7x7 d3 64 @56 (VAN)": (64, 64, 7, 1, 64, 3, False, 56),
    "depthwise 13x13 256 @14 (RepLKNet)": (256, 256, 13, 1, 256, 1, False, 14),
    "grouped 3x3 g32 128 @56 (ResNeXt)": (128, 128, 3, 1, 32, 1, True, 56),
    "grouped 3x3 g32 256 @28 (ResNeXt)": (256, 256, 3, 1, 32, 1, True, 28),
    "grouped 3x3 g32 s2 256 @56 (ResNeXt)": (256, 256, 3, 2, 32, 1, True, 56),
    "grouped 3x3 g8 128 @28 (RegNet)": (128, 128, 3, 1, 8, 1, True, 28),
    "grouped 1x1 g3 240 @28 (ShuffleNetV1)": (240, 240, 1, 1, 3, 1, True, 28),
    "dilated 3x3 d2 256 @28 (DeepLab)": (256, 256, 3, 1, 1, 2, True, 28),
    "1x1 s2 256->512 @28 (ResNet)": (256, 512, 1, 2, 1, 1, True, 28),
    "3x3 s2 128->256 @28 (ResNet)": (128, 256, 3, 2, 1, 1, True, 28),
}


def build() -> list[Model]:
    try:
        import torch

        from pyprune import stats
    except ImportError as e:
        raise CountError(f"building the layers needs torch and pyprune on the host ({e}): "
                         "run with the development venv, .venv/bin/python (make install)") from None
    built = []
    for name, (cin, cout, k, stride, groups, dilation, relu, size) in LAYERS.items():
        torch.manual_seed(0)
        conv = torch.nn.Conv2d(cin, cout, k, stride, padding=dilation * (k // 2), dilation=dilation, groups=groups)
        module = torch.nn.Sequential(conv, *([torch.nn.ReLU()] if relu else [])).eval()
        x = torch.rand(1, cin, size, size)
        built.append(Model(name, module, x, stats.count(module, x).macs))
    return built
