"""Models of the course, written for reading, in torchvision's shape (features, avgpool, classifier).
They need torch alone; pretrained weights and transfer learning are in course_utils.weights.

- `AlexNet` (torchvision's and the 2012 paper's variant), `stage_outputs`:
  notebooks/04_alexnet_filters_feature_maps.ipynb
- `LeNet5`, `vgg`, `GoogLeNet`, `resnet18/34/50`, `AlphaGoPolicyNet`: notebooks/05_architectures.ipynb
  (trained in 06 and 07)
- `DenseLayer`, `DenseBlock`, `DenseNet`, `densenet121`: the architecture after ResNet, with
  torchvision's layer names (the tests load torchvision's DenseNet-121 weights into it)

Parameter counts equal torchvision's for AlexNet, VGG and ResNet (the tests load torchvision's
weights into these classes); GoogLeNet follows the 2014 paper (5x5 branch, no batch norm). Fresh
weights are initialised as torchvision initialises each family (He initialisation for VGG's and
ResNet's convolutions, N(0, 0.01) for VGG's dense layers and for GoogLeNet), as notebook 01 teaches.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import _arguments
from ._arguments import MAX_WIDTH

__all__ = [
    "LeNet5", "AlexNet", "VGG", "vgg", "VGG_CONFIGS", "Inception", "GoogLeNet", "BasicBlock", "Bottleneck",
    "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "DenseLayer", "DenseBlock", "DenseNet",
    "densenet121", "densenet169", "densenet201",
    "AlphaGoPolicyNet", "stage_outputs", "evaluation_mode", "model_device", "count_parameters", "layer_table",
    "LayerTable", "LayerRow",
]

MAX_LAYERS = 1_000  # blocks in a stage, layers in a dense block: more is a typo


def _check_classes(num_classes) -> None:
    _arguments.whole("num_classes", num_classes)


def _widths(**widths) -> None:
    """Channel counts: whole numbers from 1 to MAX_WIDTH, each checked by its own name."""
    for name, value in widths.items():
        _arguments.whole(name, value)


def _downsample(downsample) -> None:
    if downsample is not None:
        _arguments.module("downsample", downsample)


def _init_norms(model: nn.Module) -> None:
    """Batch (and group) normalisation starts as the identity: weight 1, bias 0, as in torchvision."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class LeNet5(nn.Module):
    """LeNet-5 as the lectures write it in PyTorch: 28x28 grey input padded by 2 (LeNet's 32x32),
    two 5x5 convolutions with 2x2 max pooling, dense layers 400-120-84-num_classes, ReLU.

    `batch_norm=True` puts batch normalisation between each convolution or hidden dense layer and its
    ReLU (BatchNorm2d after a convolution, BatchNorm1d after a dense layer), as notebook 09 teaches.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, batch_norm: bool = False):
        super().__init__()
        _check_classes(num_classes)
        _widths(in_channels=in_channels)
        _arguments.flag("batch_norm", batch_norm)

        def norm(kind, channels):
            return [kind(channels)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), *norm(nn.BatchNorm2d, 6), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5), *norm(nn.BatchNorm2d, 16), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), *norm(nn.BatchNorm1d, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), *norm(nn.BatchNorm1d, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class AlexNet(nn.Module):
    """AlexNet. `variant="torchvision"` (64-192-384-256-256 filters, 224 input, 61.1M parameters)
    or `variant="paper"` (Krizhevsky et al. 2012: 96-256-384-384-256 filters, 227 input, local
    response normalisation, without the paper's split over two GPUs)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, variant: str = "torchvision"):
        super().__init__()
        _arguments.choice("variant", variant, ("torchvision", "paper"))
        _check_classes(num_classes)
        _arguments.number("dropout", dropout, 0, 1)
        self.variant = variant
        if variant == "torchvision":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
        else:
            # The paper's LRN has n=5, k=2, alpha=1e-4, beta=0.75; PyTorch divides alpha by n, hence 5e-4.
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True),
                nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# VGG: numbers are 3x3 convolutions with that many filters, (n, 1) a 1x1 convolution, "M" max pooling.
VGG_CONFIGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_VGG_DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}


class VGG(nn.Module):
    """VGG (Simonyan and Zisserman 2014): stacks of 3x3 convolutions and 2x2 pooling, then three
    dense layers. Build it with `vgg(config)`."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        _arguments.module("features", features)
        _check_classes(num_classes)
        _arguments.number("dropout", dropout, 0, 1)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's VGG: He (Kaiming) normal for the convolutions, scaled by fan_out as suits ReLU
        (notebook 01 teaches why), zero biases; the linear layers N(0, 0.01)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)
        _init_norms(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg(config="D", num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG with configuration "A", "B", "C", "D" or "E" of the paper (or depth 11, 13, 16, 19)."""
    key = _VGG_DEPTHS.get(config, config) if isinstance(config, int) else str(config).upper()
    if key not in VGG_CONFIGS:
        raise ValueError(f"config must be one of {list(VGG_CONFIGS)} or a depth in {list(_VGG_DEPTHS)}, got {config!r}")
    _check_classes(num_classes)
    _arguments.flag("batch_norm", batch_norm)
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG_CONFIGS[key]:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        width, kernel = item if isinstance(item, tuple) else (item, 3)
        layers.append(nn.Conv2d(channels, width, kernel_size=kernel, padding=kernel // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU(inplace=True))
        channels = width
    return VGG(nn.Sequential(*layers), num_classes=num_classes)


def _conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """GoogLeNet's inception module: four branches side by side, concatenated along the channels:
    1x1; 1x1 reduce then 3x3; 1x1 reduce then 5x5; 3x3 max pooling then a 1x1 projection."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int, ch5x5_reduce: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        _widths(in_channels=in_channels, ch1x1=ch1x1, ch3x3_reduce=ch3x3_reduce, ch3x3=ch3x3, ch5x5_reduce=ch5x5_reduce,
                ch5x5=ch5x5, pool_proj=pool_proj)
        self.branch1 = _conv_relu(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(_conv_relu(in_channels, ch3x3_reduce, 1), _conv_relu(ch3x3_reduce, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(_conv_relu(in_channels, ch5x5_reduce, 1), _conv_relu(ch5x5_reduce, ch5x5, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class _AuxClassifier(nn.Module):
    """GoogLeNet's auxiliary classifier: 5x5/3 average pooling, 1x1 conv (128), FC 1024, dropout 0.7, FC."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))  # 14x14 with 5x5 windows at stride 3
        self.conv = _conv_relu(in_channels, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(p=0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


# (ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj) of each inception block, from the paper's table
GOOGLENET_BLOCKS = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet (Szegedy et al. 2014), as in the paper's table: a convolutional stem, nine
    inception blocks, global average pooling instead of big dense layers, dropout 0.4, one linear
    layer. With `aux_logits=True`, training mode also returns the two auxiliary classifiers'
    outputs (after 4a and 4d), which the paper adds to the loss with weight 0.3."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, dropout: float = 0.4):
        super().__init__()
        _check_classes(num_classes)
        _arguments.flag("aux_logits", aux_logits)
        _arguments.number("dropout", dropout, 0, 1)
        self.stem = nn.Sequential(
            _conv_relu(3, 64, 7, stride=2, padding=3), nn.MaxPool2d(3, stride=2, ceil_mode=True),
            _conv_relu(64, 64, 1), _conv_relu(64, 192, 3, padding=1), nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        channels = 192
        blocks: dict[str, nn.Module] = {}
        for name, widths in GOOGLENET_BLOCKS.items():
            if name in ("4a", "5a"):
                blocks[f"pool{name[0]}"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            blocks[f"inception{name}"] = Inception(channels, *widths)
            channels = blocks[f"inception{name}"].out_channels
        self.blocks = nn.ModuleDict(blocks)
        self.aux1 = _AuxClassifier(512, num_classes) if aux_logits else None
        self.aux2 = _AuxClassifier(528, num_classes) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's GoogLeNet: convolutions and linear layers from a normal of standard deviation
        0.01 cut at +-2, zero biases."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        _init_norms(self)

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        aux = []
        for name, block in self.blocks.items():
            x = block(x)
            if self.training and self.aux1 is not None and name in ("inception4a", "inception4d"):
                aux.append((self.aux1 if name == "inception4a" else self.aux2)(x))
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        x = self.fc(x)
        return (x, *aux) if aux else x


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convolutions; the input is added back (the residual connection)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        _widths(in_channels=in_channels, channels=channels)
        _arguments.whole("stride", stride, 1, 8)
        _downsample(downsample)
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50 block: 1x1 reduce, 3x3, 1x1 expand (4x), plus the input.

    A block that halves the size strides its 3x3 convolution, as torchvision does (its "ResNet v1.5",
    about 0.5% more accurate on ImageNet); `stride_in_1x1=True` strides the first 1x1 instead, as the
    paper's block does, which skips three quarters of the positions before the 3x3 sees them and costs
    less compute (notebook 05 measures both)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None,
                 stride_in_1x1: bool = False):
        super().__init__()
        _widths(in_channels=in_channels, channels=channels)
        _arguments.whole("stride", stride, 1, 8)
        _downsample(downsample)
        _arguments.flag("stride_in_1x1", stride_in_1x1)
        self.conv1 = _conv1x1(in_channels, channels, stride if stride_in_1x1 else 1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels, 1 if stride_in_1x1 else stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = _conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet (He et al. 2015): a 7x7 stem, four stages of residual blocks (64, 128, 256, 512
    channels; stages 2 to 4 halve the size), global average pooling and one linear layer."""

    def __init__(self, block: type, layers: list[int], num_classes: int = 1000, stride_in_1x1: bool = False):
        super().__init__()
        if not (isinstance(block, type) and issubclass(block, nn.Module) and hasattr(block, "expansion")):
            raise TypeError(f"block must be a residual block class such as BasicBlock or Bottleneck, got {block!r}")
        layers = _arguments.sequence("layers", layers, "blocks per stage")
        if len(layers) != 4:
            raise ValueError(f"layers must give the blocks of each of the 4 stages, such as [2, 2, 2, 2], got {layers!r}")
        for stage, count in enumerate(layers, 1):
            _arguments.whole(f"layers (stage {stage})", count, 1, MAX_LAYERS)
        _check_classes(num_classes)
        if _arguments.flag("stride_in_1x1", stride_in_1x1) and block is not Bottleneck:
            raise ValueError("stride_in_1x1 chooses where a bottleneck block strides; a basic block has no 1x1 to stride")
        self.block_options = {"stride_in_1x1": True} if stride_in_1x1 else {}
        self.in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, 64, layers[0])
        self.layer2 = self._make_stage(block, 128, layers[1], stride=2)
        self.layer3 = self._make_stage(block, 256, layers[2], stride=2)
        self.layer4 = self._make_stage(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's ResNet: He (Kaiming) normal for the convolutions, scaled by fan_out; the linear
        layer keeps PyTorch's default."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        _init_norms(self)

    def _make_stage(self, block: type, channels: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.in_channels != channels * block.expansion:
            # the shortcut must change shape too: a 1x1 convolution with the same stride
            downsample = nn.Sequential(_conv1x1(self.in_channels, channels * block.expansion, stride),
                                       nn.BatchNorm2d(channels * block.expansion))
        stage = [block(self.in_channels, channels, stride, downsample, **self.block_options)]
        self.in_channels = channels * block.expansion
        stage += [block(self.in_channels, channels, **self.block_options) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18: basic blocks, 2-2-2-2."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34: basic blocks, 3-4-6-3."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def resnet50(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-50: bottleneck blocks, 3-4-6-3 (`stride_in_1x1`: the paper's block, see Bottleneck)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, stride_in_1x1)


def resnet101(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-101: bottleneck blocks, 3-4-23-3."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, stride_in_1x1)


def resnet152(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-152: bottleneck blocks, 3-8-36-3."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, stride_in_1x1)


class DenseLayer(nn.Module):
    """One layer of a dense block: batch norm, ReLU and a 1x1 convolution to bn_size x growth_rate
    channels (the bottleneck), then batch norm, ReLU and a 3x3 convolution to `growth_rate` new
    channels. It sees every feature map made before it in its block."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4):
        super().__init__()
        _widths(in_channels=in_channels, growth_rate=growth_rate, bn_size=bn_size)
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bottleneck = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class DenseBlock(nn.ModuleDict):
    """A dense block (Huang et al. 2017): each layer's `growth_rate` new maps are concatenated to
    everything before them, so a block of n layers turns c channels into c + n x growth_rate."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4):
        super().__init__()
        _arguments.whole("num_layers", num_layers, 1, MAX_LAYERS)
        _widths(in_channels=in_channels, growth_rate=growth_rate, bn_size=bn_size)
        for index in range(num_layers):
            self[f"denselayer{index + 1}"] = DenseLayer(in_channels + index * growth_rate, growth_rate, bn_size)
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = x
        for layer in self.values():
            features = torch.cat([features, layer(features)], dim=1)  # keep everything, add the new maps
        return features


def _transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """Between dense blocks: batch norm, ReLU, a 1x1 convolution that halves the channels, and 2x2
    average pooling that halves the size."""
    return nn.Sequential(OrderedDict(
        norm=nn.BatchNorm2d(in_channels), relu=nn.ReLU(inplace=True),
        conv=nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), pool=nn.AvgPool2d(kernel_size=2, stride=2),
    ))


class DenseNet(nn.Module):
    """DenseNet-BC: a 7x7 stem, dense blocks joined by transition layers that halve channels and
    size, a final batch norm, global average pooling and one linear layer."""

    def __init__(self, growth_rate: int = 32, block_config: tuple = (6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, num_classes: int = 1000):
        super().__init__()
        _widths(growth_rate=growth_rate, num_init_features=num_init_features, bn_size=bn_size)
        block_config = _arguments.sequence("block_config", block_config, "layers per dense block")
        for index, count in enumerate(block_config, 1):
            _arguments.whole(f"block_config (block {index})", count, 1, MAX_LAYERS)
        _check_classes(num_classes)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(num_init_features), relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        channels = num_init_features
        for index, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size)
            layers[f"denseblock{index + 1}"] = block
            channels = block.out_channels
            if index != len(block_config) - 1:
                layers[f"transition{index + 1}"] = _transition(channels, channels // 2)
                channels //= 2
        layers["norm5"] = nn.BatchNorm2d(channels)
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's DenseNet: He (Kaiming) normal scaled by fan_in for the convolutions, a zero bias
        for the linear layer."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        _init_norms(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.features(x))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121: growth rate 32, blocks of 6, 12, 24 and 16 layers, 64 channels after the stem."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)


def densenet169(num_classes: int = 1000) -> DenseNet:
    """DenseNet-169: as DenseNet-121 with blocks of 6, 12, 32 and 32 layers."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes)


def densenet201(num_classes: int = 1000) -> DenseNet:
    """DenseNet-201: as DenseNet-121 with blocks of 6, 12, 48 and 32 layers."""
    return DenseNet(32, (6, 12, 48, 32), 64, num_classes=num_classes)


class AlphaGoPolicyNet(nn.Module):
    """AlphaGo's policy network (Silver et al. 2016): 19x19x48 board features, a 5x5 convolution
    and eleven 3x3 convolutions with k filters (padding keeps 19x19, no pooling anywhere), then a
    1x1 convolution to one plane with a separate bias for each of the 361 points, and a softmax
    over the 361 moves (returned as log-probabilities)."""

    def __init__(self, filters: int = 192, planes: int = 48, board: int = 19):
        super().__init__()
        _widths(filters=filters, planes=planes)
        _arguments.whole("board", board, 1, 1_000)
        layers: list[nn.Module] = [nn.Conv2d(planes, filters, kernel_size=5, padding=2), nn.ReLU(inplace=True)]
        for _ in range(11):
            layers += [nn.Conv2d(filters, filters, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(filters, 1, kernel_size=1, bias=False))
        self.features = nn.Sequential(*layers)
        self.position_bias = nn.Parameter(torch.zeros(board * board))
        self.board = board

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.flatten(self.features(x), 1) + self.position_bias
        return torch.log_softmax(logits, dim=1)


@contextmanager
def evaluation_mode(model: nn.Module):
    """Run the block with `model` in evaluation mode (dropout off, batch norm's running statistics
    used and left unchanged), then give the model back in the mode it had."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def count_parameters(model: nn.Module, trainable: bool = False) -> int:
    """How many numbers the model learns: its parameters' elements, each shared tensor once
    (`trainable=True`: only those with `requires_grad`, what a fine-tuning run changes)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    trainable = _arguments.flag("trainable", trainable)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def stage_outputs(model: nn.Module, x: torch.Tensor, names: list[str] | None = None) -> "OrderedDict[str, torch.Tensor]":
    """Run `model` on `x` and return the output of every leaf layer (or of `names`), by module name.

    Outputs are copied as they are produced, so an in-place ReLU that follows a convolution does not
    overwrite the convolution's stored output. The model runs in evaluation mode (dropout off, batch
    norm's running statistics used and left unchanged) and is given back in the mode it had.
    """
    _arguments.module("model", model)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch tensor (a batch, such as image[None]), got {type(x).__name__}")
    if names is not None:
        names = _arguments.sequence("names", names, "layer names", empty=True)
        if not all(isinstance(name, str) for name in names):
            raise TypeError(f"names must be a list of layer names (text, such as 'features.0'), got {names!r}")
    modules = dict(model.named_modules())
    if names is None:
        names = [name for name, module in modules.items() if name and not list(module.children())]
    unknown = [name for name in names if name not in modules]
    if unknown:
        raise ValueError(f"no layer called {unknown[0]!r} in the model; layer names look like {list(modules)[1:4]}")
    outputs: OrderedDict[str, torch.Tensor] = OrderedDict()
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            outputs[name] = output.detach().clone()
        handles.append(modules[name].register_forward_hook(hook))
    try:
        with evaluation_mode(model), torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return OrderedDict((name, outputs[name]) for name in names if name in outputs)


class LayerRow(NamedTuple):
    """One layer of `layer_table`: output shape without the batch dimension."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    mult_adds: int


class LayerTable(list):
    """Rows of `layer_table`, with totals; prints as an aligned table."""

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self)

    @property
    def total_mult_adds(self) -> int:
        return sum(row.mult_adds for row in self)

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "parameters", "multiply-adds")
        rows = [header] + [(r.name, r.kind, "x".join(map(str, r.output_shape)), f"{r.params:,}", f"{r.mult_adds:,}")
                           for r in self]
        rows.append(("total", "", "", f"{self.total_params:,}", f"{self.total_mult_adds:,}"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        align = ["<", "<", ">", ">", ">"]
        return "\n".join("  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)) for row in rows)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def layer_table(model, input_size) -> LayerTable:
    """Each layer's output shape, parameters and multiply-adds for one input of `input_size`.

    `input_size` is (channels, height, width). One row per call of a layer (a module without
    children), in the order the forward pass makes them: a layer used twice, such as the ReLU a
    ResNet block applies after each convolution, gets a row for each call, and its parameters are
    counted on its first row only. Layers with parameters that the pass never calls (an auxiliary
    head in evaluation mode) come last, without a shape. Multiply-adds come from PyTorch's own FLOP
    counter (torch.utils.flop_counter; one multiply-add is two FLOPs) and cover convolutions and matrix
    products; activations and pooling count zero. A layer called more than once has its count shared
    out over its calls in proportion to their outputs (exact for convolutions and linear layers, whose
    cost per output number is fixed).
    """
    _arguments.module("model", model)
    if not isinstance(input_size, (tuple, list, torch.Size)) or len(input_size) != 3:
        raise ValueError(f"input_size must be (channels, height, width), such as (3, 224, 224), got {input_size!r}")
    size = tuple(_arguments.whole(f"input_size's {what}", value, 1, high)
                 for what, value, high in zip(("channels", "height", "width"), input_size, (MAX_WIDTH, 10_000, 10_000)))
    modules = dict(model.named_modules())
    leaves = [name for name, module in modules.items() if name and not list(module.children())]
    calls: list[tuple[str, tuple]] = []  # (layer, output shape) in the order of the forward pass

    def record(name):
        def hook(module, inputs, output) -> None:  # returning a value would replace the output
            calls.append((name, tuple(output.shape[1:])))
        return hook

    handles = [modules[name].register_forward_hook(record(name)) for name in leaves]
    try:
        # mods=model: older torch (2.1) counts per layer only for the modules it is given; later versions find them
        # themselves and warn that the argument is no longer needed
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="mods argument is not needed anymore")
            counting = FlopCounterMode(mods=model, display=False)
        with evaluation_mode(model), torch.no_grad(), counting as counter:
            model(torch.zeros((1, *size), device=model_device(model)))  # the input goes where the model is
    finally:
        for handle in handles:
            handle.remove()
    return _rows(model, modules, leaves, calls, counter.get_flop_counts())


def _rows(model, modules: dict, leaves: list[str], calls: list[tuple[str, tuple]], flops: dict) -> LayerTable:
    """The table from the recorded calls and the FLOP counter's totals per layer."""
    prefix = type(model).__name__
    outputs, left = {}, {}  # per layer: output numbers over all its calls, calls still to come
    for name, shape in calls:
        outputs[name] = outputs.get(name, 0) + math.prod(shape)
        left[name] = left.get(name, 0) + 1
    table, given = LayerTable(), {}  # given: multiply-adds shared out to a layer's calls so far
    for name, shape in calls:
        module = modules[name]
        params = 0 if name in given else sum(p.numel() for p in module.parameters(recurse=False))
        total = sum(flops.get(f"{prefix}.{name}", {}).values()) // 2
        left[name] -= 1
        share = total - given.get(name, 0) if not left[name] else total * math.prod(shape) // max(outputs[name], 1)
        given[name] = given.get(name, 0) + share
        table.append(LayerRow(name, type(module).__name__, shape, params, share))
    seen = set(given)
    for name in leaves:  # parameters the forward pass did not use
        params = sum(p.numel() for p in modules[name].parameters(recurse=False))
        if name not in seen and params:
            table.append(LayerRow(name, type(modules[name]).__name__, (), params, 0))
    own = sum(p.numel() for p in model.parameters(recurse=False))  # not count_parameters: this level only
    if own:
        table.append(LayerRow("(model's own)", "Parameter", (), own, 0))
    return table
