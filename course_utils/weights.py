"""Pretrained torchvision weights with an honest offline fallback, and transfer learning.

- `pretrained`: notebooks/04_alexnet_filters_feature_maps.ipynb (used again in
  notebooks/08_what_the_network_looks_at.ipynb)
- `transfer`, `classifier_head`: notebooks/07_training_dogs_vs_cats.ipynb

Weights are downloaded once into PyTorch's cache (TORCH_HOME). Where they cannot be had (no
internet, or COURSE_OFFLINE=1) the helper says so in one line and returns the same architecture with
random weights, named in `model.weights_source`.
"""

from __future__ import annotations

import pickle
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from . import _arguments
from ._download import why_no_download

__all__ = ["OFFLINE_FALLBACK", "pretrained", "classifier_head", "transfer"]

OFFLINE_FALLBACK = "random weights (offline fallback)"


def _cached_file(url: str) -> Path:
    """Where torch keeps the weights downloaded from `url`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def _why_unreachable(url: str) -> str | None:
    """None when the weights are cached or can be downloaded; otherwise the reason."""
    return why_no_download(url, cached=_cached_file(url))


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
    reason = _why_unreachable(chosen.url)
    model = None
    if reason is None:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)  # an unreachable server fails in seconds instead of hanging
        try:
            model = builder(weights=chosen, **kwargs)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:  # no network, or a damaged file
            reason = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:80]}"
            cached = _cached_file(chosen.url)
            if cached.is_file():  # an empty or cut-off download stays in the cache and fails every time
                reason += f"; the cached file {cached} looks damaged: delete it to download it again"
        finally:
            socket.setdefaulttimeout(previous)
    if model is None:
        print(f"Could not load the pretrained {name} weights ({reason}); using {OFFLINE_FALLBACK}: "
              "shapes and code run the same, predictions are meaningless.")
        if name in ("googlenet", "inception_v3"):  # the same architecture torchvision builds for its weights
            kwargs = {"aux_logits": False, "init_weights": False, "transform_input": True, **kwargs}
        model = builder(weights=None, **kwargs)
        model.weights_source = OFFLINE_FALLBACK
        model.is_pretrained = False
    else:
        model.weights_source = f"ImageNet ({chosen})"
        model.is_pretrained = True
    model.weights_meta = chosen.meta
    return model.eval()


def classifier_head(model: nn.Module) -> tuple[nn.Module, str]:
    """The last linear layer of a classification model and its path: `fc` (ResNet, GoogLeNet),
    `classifier` (DenseNet), `classifier.N` (AlexNet, VGG, MobileNet) or, failing those, the last
    linear layer the model registers (`heads.head` for a vision transformer)."""
    _arguments.module("model", model)
    for path in ("fc", "classifier"):
        layer = getattr(model, path, None)
        if isinstance(layer, nn.Linear):
            return layer, path
    linears = [(path, module) for path, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no linear layer to replace (its classifier is "
                         f"{type(getattr(model, 'classifier', None)).__name__}); transfer needs a model whose "
                         "last layer is nn.Linear, such as resnet18, densenet121 or vgg16")
    path, layer = linears[-1]
    return layer, path


def transfer(name: str, num_classes: int, freeze: bool = True) -> nn.Module:
    """Transfer learning: torchvision's pretrained `name`, a new final layer for `num_classes`, and
    (with `freeze`) every other weight frozen so that only the new layer trains.

    Offline the pretrained weights fall back to random ones (said in one line, and named in
    `model.weights_source`), so the code path is the same but the features are not learned ones.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    model = pretrained(name)
    old, path = classifier_head(model)
    if freeze:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, nn.Linear(old.in_features, num_classes))
    return model
