"""Which pixels made the network decide: gradient saliency, SmoothGrad, occlusion and Grad-CAM, and
a heat map laid over the image.

Taught in notebooks/08_what_the_network_looks_at.ipynb, where each method is first written out in a
few lines and checked against Captum; the tests compare these versions with Captum's `Saliency`,
`NoiseTunnel`, `Occlusion` and `LayerGradCam` on random models and inputs.

Every function takes one image (C x H x W, normalised as the model expects), the index of the
class to explain, and returns a map on the CPU: H x W for the pixel methods, the layer's h x w for
Grad-CAM before it is enlarged. The model is run in evaluation mode and left in the mode it had.
"""

from __future__ import annotations

import math
from typing import Callable

import matplotlib as mpl
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _arguments
from .models import evaluation_mode, model_device
from .plotting import HEATMAP_CMAP, to_displayable

__all__ = ["saliency", "smoothgrad", "occlusion", "grad_cam", "overlay", "METHODS", "layer_names", "find_layer",
           "probabilities"]


# ----------------------------------------------------------------------------- checks
def _check_image(image) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch tensor of shape C x H x W, got {type(image).__name__}; "
                         "use the dataset's or the preprocessing's tensor, not the photo's array")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or not image.is_floating_point():
        raise ValueError(f"image must be one float image of shape C x H x W (or 1 x C x H x W), got "
                         f"{image.dtype} of shape {tuple(image.shape)}")
    return image


def _check_target_kind(target) -> None:
    """A class index, before the model runs: None or text would fail deep inside autograd."""
    if isinstance(target, torch.Tensor) and target.numel() == 1:
        return
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise ValueError(f"target must be a class index (an integer such as 0), got {target!r}")


def _check_target(target, num_classes: int) -> int:
    if isinstance(target, torch.Tensor) and target.numel() == 1:
        target = target.item()
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < num_classes:
        raise ValueError(f"target must be a class index between 0 and {num_classes - 1}, got {target!r}")
    return int(target)


def layer_names(model: nn.Module) -> list[str]:
    """The names `grad_cam` accepts for `layer`: every submodule of the model."""
    _arguments.module("model", model)
    return [name for name, _ in model.named_modules() if name]


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule called `layer`; a name that is not there is a ValueError listing what is."""
    _arguments.module("model", model)
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or not layer or layer not in modules:
        names = layer_names(model)
        convs = [name for name, module in modules.items() if isinstance(module, nn.Conv2d)]
        hint = f"the last convolution is {convs[-1]!r}; " if convs else ""
        raise ValueError(f"layer {layer!r} is not a layer of {type(model).__name__}: {hint}"
                         f"names look like {names[:3]} ... {names[-3:]}")
    return modules[layer]


def _scores(model: nn.Module, batch: torch.Tensor, target=None) -> torch.Tensor:
    """The model's class scores for a batch; with `target`, the checked target's column."""
    output = model(batch)
    if isinstance(output, (tuple, list)):  # GoogLeNet with auxiliary classifiers: the main output
        output = output[0]
    if output.dim() != 2:
        raise ValueError(f"model must return class scores of shape N x classes, it returned shape {tuple(output.shape)}")
    return output if target is None else output[:, _check_target(target, output.shape[1])]


def _input_gradients(model: nn.Module, batch: torch.Tensor, target) -> torch.Tensor:
    """d score[target] / d input for every image of the batch (parameter gradients are left alone)."""
    batch = batch.detach().clone().requires_grad_(True)
    scores = _scores(model, batch, target)
    (gradient,) = torch.autograd.grad(scores.sum(), batch)  # each score depends on its own image only
    return gradient


def probabilities(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The model's class probabilities (softmax of its scores) for one image, on the CPU."""
    _arguments.module("model", model)
    with evaluation_mode(model), torch.no_grad():
        image = _check_image(image).to(model_device(model))
        return torch.softmax(_scores(model, image[None]), dim=1)[0].cpu()


# ----------------------------------------------------------------------------- methods
def saliency(model: nn.Module, image: torch.Tensor, target: int) -> torch.Tensor:
    """Gradient saliency (Simonyan et al., 2013): |d score / d pixel|, the largest over the colour
    channels; an H x W map."""
    _arguments.module("model", model)
    _check_target_kind(target)
    image = _check_image(image).to(model_device(model))
    with evaluation_mode(model):
        gradient = _input_gradients(model, image[None], target)[0]
    return gradient.abs().amax(dim=0).cpu()


def smoothgrad(model: nn.Module, image: torch.Tensor, target: int, samples: int = 25, noise_level: float = 0.15,
               batch_size: int = 32, generator: torch.Generator | None = None) -> torch.Tensor:
    """SmoothGrad (Smilkov et al., 2017): the mean saliency of `samples` noisy copies of the image;
    an H x W map. The noise is Gaussian with a standard deviation of `noise_level` x (max - min) of
    the image, drawn all at once before the copies are run `batch_size` at a time."""
    _arguments.module("model", model)
    _check_target_kind(target)
    samples, batch_size = _arguments.whole("samples", samples), _arguments.whole("batch_size", batch_size)
    if not isinstance(noise_level, (int, float)) or isinstance(noise_level, bool) or not 0 <= noise_level < math.inf:
        raise ValueError(f"noise_level must be a number >= 0 (a fraction of the image's range, such as 0.15), got {noise_level!r}")
    image = _check_image(image).to(model_device(model))
    with evaluation_mode(model):
        sigma = noise_level * (image.max() - image.min()).item()
        noise = torch.randn((samples, *image.shape), generator=generator).to(image.device) * sigma
        total = torch.zeros_like(image)
        for start in range(0, samples, batch_size):
            noisy = image[None] + noise[start:start + batch_size]
            total += _input_gradients(model, noisy, target).abs().sum(dim=0)
    return (total / samples).amax(dim=0).cpu()


def occlusion(model: nn.Module, image: torch.Tensor, target: int, window: int = 8, stride: int = 4,
              baseline: float = 0.0, batch_size: int = 64) -> torch.Tensor:
    """Occlusion sensitivity (Zeiler and Fergus, 2013): slide a window x window patch of `baseline`
    over the image (every channel, `stride` pixels a step) and record how much the class score drops.
    Each pixel gets the mean drop of the windows that covered it; an H x W map.

    Windows start at 0, stride, 2 x stride, ... while any part of the image is left to cover, so the
    last one may hang over the edge (as in Captum's `Occlusion`).
    """
    _arguments.module("model", model)
    _check_target_kind(target)
    window, stride = _arguments.whole("window", window), _arguments.whole("stride", stride)
    batch_size = _arguments.whole("batch_size", batch_size)
    image = _check_image(image).to(model_device(model))
    with evaluation_mode(model), torch.no_grad():
        _, height, width = image.shape
        if window > min(height, width):
            raise ValueError(f"window={window} is larger than the image ({height}x{width}); use window <= {min(height, width)}")
        if stride > window:
            raise ValueError(f"stride={stride} is larger than window={window}: some pixels would never be covered")
        original = _scores(model, image[None], target)[0]
        corners = [(top, left) for top in range(0, height - window + stride, stride)
                   for left in range(0, width - window + stride, stride)]
        drop_sum = torch.zeros(height, width, device=image.device)
        covered = torch.zeros(height, width, device=image.device)
        for start in range(0, len(corners), batch_size):
            chunk = corners[start:start + batch_size]
            batch = image.repeat(len(chunk), 1, 1, 1)
            for k, (top, left) in enumerate(chunk):
                batch[k, :, top:top + window, left:left + window] = baseline
            drops = original - _scores(model, batch, target)
            for drop, (top, left) in zip(drops, chunk):
                drop_sum[top:top + window, left:left + window] += drop
                covered[top:top + window, left:left + window] += 1
    return (drop_sum / covered).cpu()


def grad_cam(model: nn.Module, image: torch.Tensor, target: int, layer: str, upsample: bool = True) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., 2017) at the output of `layer` (a name from `layer_names`):
    weight each channel by the mean gradient of the class score over its map, add the channels and
    keep the positive part. Returns the layer's h x w map, or with `upsample` the map enlarged to
    the image's H x W (bilinear)."""
    _arguments.module("model", model)
    _check_target_kind(target)
    module = find_layer(model, layer)
    stored: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        stored["activation"] = output
        # The rest of the model runs on a copy, so that an in-place ReLU after the layer cannot
        # overwrite the activation whose gradient we ask for.
        return output.clone() if isinstance(output, torch.Tensor) else output

    image = _check_image(image).to(model_device(model))
    with evaluation_mode(model):
        handle = module.register_forward_hook(keep)
        try:
            score = _scores(model, image[None].detach().clone().requires_grad_(True), target)[0]
        finally:
            handle.remove()
        activation = stored.get("activation")
        if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
            shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
            raise ValueError(f"layer {layer!r} gives {shape}, not feature maps (N x C x h x w); choose a convolutional layer")
        (gradient,) = torch.autograd.grad(score, activation)
    weights = gradient[0].mean(dim=(1, 2))  # one weight per channel: its average gradient
    cam = F.relu((weights[:, None, None] * activation[0]).sum(dim=0)).detach()
    if upsample:
        cam = F.interpolate(cam[None, None], size=image.shape[1:], mode="bilinear", align_corners=False)[0, 0]
    return cam.cpu()


METHODS: dict[str, Callable] = {
    "saliency": saliency,
    "smoothgrad": smoothgrad,
    "occlusion": occlusion,
    "grad_cam": grad_cam,
}


# ----------------------------------------------------------------------------- showing a map
def overlay(image, heatmap, alpha: float = 0.5, cmap: str = HEATMAP_CMAP) -> np.ndarray:
    """The image (any form `plotting.show_image` takes) with `heatmap` (h x w, enlarged to the image
    if smaller) laid over it in colour; an H x W x 3 float array in [0, 1]."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be between 0 (image only) and 1 (heat map only), got {alpha!r}")
    picture = to_displayable(image)
    if picture.dtype.kind == "f" and not np.isfinite(picture).all():
        raise ValueError("image holds NaN or infinite values; the overlay would show nothing there")
    if picture.dtype == np.uint8:
        picture = picture.astype(np.float32) / 255
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    picture = picture[..., :3]
    values = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else heatmap)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise ValueError(f"heatmap must be a 2-D array or tensor of numbers, got {type(heatmap).__name__}")
    heat = torch.as_tensor(values, dtype=torch.float32)
    if heat.dim() != 2:
        raise ValueError(f"heatmap must be a 2-D map (h x w), got shape {tuple(heat.shape)}")
    if tuple(heat.shape) != picture.shape[:2]:
        heat = F.interpolate(heat[None, None], size=picture.shape[:2], mode="bilinear", align_corners=False)[0, 0]
    heat = heat - heat.min()
    heat = (heat / heat.max() if heat.max() > 0 else heat).numpy()
    coloured = mpl.colormaps[cmap](heat)[..., :3]
    return ((1 - alpha) * picture + alpha * coloured).astype(np.float32)
