"""Pretrained torchvision weights with an honest offline fallback, and transfer learning.

- `pretrained`: notebooks/04_alexnet_filters_feature_maps.ipynb (used again in
  notebooks/08_what_the_network_looks_at.ipynb)
- `transfer`, `classifier_head`: notebooks/07_training_dogs_vs_cats.ipynb

Weights are downloaded once into PyTorch's cache (TORCH_HOME). Where they cannot be had (no
internet, or COURSE_OFFLINE=1) the helper says so in one line and returns the same architecture with
random weights, named in `model.weights_source`.
"""

from __future__ import annotations

import socket
from typing import Any

import torch
from torch import nn

from ._download import why_no_download

__all__ = ["OFFLINE_FALLBACK", "pretrained", "classifier_head", "transfer"]

OFFLINE_FALLBACK = "random weights (offline fallback)"


def _why_unreachable(url: str) -> str | None:
    """None when the weights are cached or can be downloaded; otherwise the reason."""
    from pathlib import Path
    from urllib.parse import urlparse

    return why_no_download(url, cached=Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name)


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
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a corrupt file a RuntimeError
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
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
    """The last linear layer of a classification model and its path (`fc` or `classifier.N`)."""
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return fc, "fc"
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential) and len(classifier) and isinstance(classifier[-1], nn.Linear):
        return classifier[-1], f"classifier.{len(classifier) - 1}"
    raise ValueError(f"cannot find the final linear layer of {type(model).__name__}; expected .fc or .classifier[-1]")


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
    new = nn.Linear(old.in_features, num_classes)
    if "." in path:
        first, index = path.split(".")
        getattr(model, first)[int(index)] = new
    else:
        setattr(model, path, new)
    return model
