"""Models of the course, written for reading, in torchvision's shape (features, avgpool, classifier),
plus loading pretrained torchvision weights with an honest offline fallback.

- `AlexNet` (torchvision's and the 2012 paper's variant), `stage_outputs`, `pretrained`:
  notebooks/04_alexnet_filters_feature_maps.ipynb
- `AlphaGoPolicyNet`: notebooks/04 (why no pooling) and 05 (architectures)
"""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

__all__ = ["AlexNet", "AlphaGoPolicyNet", "pretrained", "stage_outputs", "OFFLINE_FALLBACK"]

OFFLINE_FALLBACK = "random weights (offline fallback)"


class AlexNet(nn.Module):
    """AlexNet. `variant="torchvision"` (64-192-384-256-256 filters, 224 input, 61.1M parameters)
    or `variant="paper"` (Krizhevsky et al. 2012: 96-256-384-384-256 filters, 227 input, local
    response normalisation, without the paper's split over two GPUs)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, variant: str = "torchvision"):
        super().__init__()
        if variant not in ("torchvision", "paper"):
            raise ValueError(f"variant must be 'torchvision' or 'paper', got {variant!r}")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
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


class AlphaGoPolicyNet(nn.Module):
    """AlphaGo's policy network (Silver et al. 2016): 19x19x48 board features, a 5x5 convolution
    and eleven 3x3 convolutions with k filters (padding keeps 19x19, no pooling anywhere), then a
    1x1 convolution to one plane with a separate bias for each of the 361 points, and a softmax
    over the 361 moves (returned as log-probabilities)."""

    def __init__(self, filters: int = 192, planes: int = 48, board: int = 19):
        super().__init__()
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


def stage_outputs(model: nn.Module, x: torch.Tensor, names: list[str] | None = None) -> "OrderedDict[str, torch.Tensor]":
    """Run `model` on `x` and return the output of every leaf layer (or of `names`), by module name.

    Outputs are copied as they are produced, so an in-place ReLU that follows a convolution does not
    overwrite the convolution's stored output.
    """
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
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return OrderedDict((name, outputs[name]) for name in names if name in outputs)


def _offline() -> bool:
    return os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _why_unreachable(url: str, timeout: float = 3.0) -> str | None:
    """None when the weights are cached or their server answers; otherwise the reason."""
    from pathlib import Path
    from urllib.parse import urlparse

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if cached.is_file():
        return None
    host = urlparse(url).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as error:
        return f"no connection to {host}: {type(error).__name__}"
    return None


def pretrained(name: str, weights: str = "DEFAULT", **kwargs: Any) -> nn.Module:
    """A torchvision model with its ImageNet weights, downloaded once into the torch cache.

    Where the weights cannot be had (no internet, or COURSE_OFFLINE=1) it says so in one line and
    returns the same architecture with random weights. Either way `model.weights_source` names what
    was loaded, and `model.is_pretrained` tells whether the predictions mean anything.
    """
    import torchvision

    try:
        builder = torchvision.models.get_model_builder(name)
        weight_enum = torchvision.models.get_model_weights(name)
    except ValueError as error:
        raise ValueError(f"unknown model name {name!r}; try 'alexnet', 'vgg16', 'googlenet' or 'resnet34'") from error
    chosen = weight_enum.DEFAULT if weights == "DEFAULT" else weight_enum[weights]
    reason = "COURSE_OFFLINE is set" if _offline() else _why_unreachable(chosen.url)
    model = None
    if reason is None:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)  # an unreachable server fails in seconds instead of hanging
        try:
            model = builder(weights=chosen, **kwargs)
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a corrupt file a RuntimeError
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
        finally:
            socket.setdefaulttimeout(previous)
    if model is None:
        print(f"Could not load the pretrained {name} weights ({reason}); using {OFFLINE_FALLBACK}: "
              "shapes and code run the same, predictions are meaningless.")
        model = builder(weights=None, **kwargs)
        model.weights_source = OFFLINE_FALLBACK
        model.is_pretrained = False
    else:
        model.weights_source = f"ImageNet ({chosen})"
        model.is_pretrained = True
    model.weights_meta = chosen.meta
    return model.eval()
