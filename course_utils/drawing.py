"""A digit drawn by hand, as a trained LeNet sees it: notebook 06's "Try it yourself" and notebook 08's
explanations of the student's own drawing.

- `rasterise`: the strokes of a drawing (lists of (x, y) points on the canvas) to a grey image, ink = 1.
- `like_mnist`: any grey image of one digit to MNIST's framing: the digit's bounding box scaled to fit
  20x20 (keeping its shape), then placed in 28x28 with its centre of mass in the middle.
- `network_view`: the network's input, its class probabilities, the feature maps of every convolution
  and pooling stage, and a saliency map, for one picture.
- `explain_value`: one number of a feature map written out: its receptive field on the input and, for a
  convolution, the patch, the kernel and their products, whose sum plus the bias is that number.
- `view_figure`, `explanation_figure`: the same as matplotlib figures (CI, the site, the slides).

The widget itself is `widgets.drawing_explorer`; its browser half is drawing.js beside this file.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from . import _arguments, explain
from .by_hand import corr2d_multi_in, pad2d, pool2d
from .datasets import MNIST_MEAN, MNIST_STD
from .models import model_device, stage_outputs

__all__ = [
    "CANVAS",
    "PEN",
    "Stage",
    "rasterise",
    "like_mnist",
    "to_input",
    "stages_of",
    "network_view",
    "explain_value",
    "view_figure",
    "explanation_text",
    "explanation_figure",
]

CANVAS = 280  # the drawing canvas's side, in its own pixels (ten per MNIST pixel)
PEN = 22  # the pen's width on the canvas: about two MNIST pixels once a digit of the canvas's height is reduced
BOX, SIDE = 20, 28  # MNIST: each digit scaled to fit 20x20, centred in 28x28
INK = 0.1  # a pixel at least this dark counts as part of the digit when its bounding box is found


def rasterise(strokes, size: int = CANVAS, width: float = PEN) -> np.ndarray:
    """Draw `strokes` (a list of strokes, each a list of (x, y) points in canvas pixels) with a round pen
    of `width` pixels on a size x size canvas; returns floats in [0, 1], 1 where there is ink."""
    from PIL import Image, ImageDraw

    size = _arguments.whole("size", size, 1, 4096)
    width = _arguments.number("width", width, 0, None, above=True)
    if isinstance(strokes, (str, bytes)) or not hasattr(strokes, "__iter__"):
        raise TypeError(f"strokes must be a list of strokes, each a list of (x, y) points, got {type(strokes).__name__}")
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    for s, stroke in enumerate(strokes):
        points = _points(stroke, f"strokes[{s}]")
        if len(points) > 1:
            pen.line(points, fill=255, width=round(width), joint="curve")
        r = width / 2
        for x, y in points:  # round ends and single dots (PIL's box includes its last pixel: one fewer)
            pen.ellipse((x - r + 1, y - r + 1, x + r, y + r), fill=255)
    return np.asarray(canvas, dtype=np.float32) / 255


def _points(stroke, name: str) -> list[tuple[float, float]]:
    if isinstance(stroke, (str, bytes)) or not hasattr(stroke, "__iter__"):
        raise TypeError(f"{name} must be a list of (x, y) points, got {type(stroke).__name__}")
    points = []
    for p, point in enumerate(stroke):
        if isinstance(point, (str, bytes)) or not hasattr(point, "__len__") or len(point) != 2:
            raise ValueError(f"{name}[{p}] must be an (x, y) pair of numbers, got {point!r}")
        x, y = point
        if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            raise ValueError(f"{name}[{p}] must be an (x, y) pair of finite numbers, got {point!r}")
        points.append((float(x), float(y)))
    return points


def _grey(picture, name: str) -> np.ndarray:
    if isinstance(picture, torch.Tensor):
        picture = picture.detach().cpu().numpy()
    try:
        picture = np.asarray(picture, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 2-D array of grey values (height x width), got {type(picture).__name__}") from None
    if picture.ndim == 3 and picture.shape[0] == 1:
        picture = picture[0]
    if picture.ndim != 2 or min(picture.shape) < 1:
        raise ValueError(f"{name} must be a 2-D array of grey values (height x width, ink = 1), got shape {picture.shape}")
    if not np.isfinite(picture).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return picture


def like_mnist(picture) -> np.ndarray:
    """MNIST's framing of one digit: crop to the digit's bounding box (pixels of at least INK), scale it
    so that its longer side is 20 pixels (area averaging, so thin strokes turn grey as in MNIST), and
    place it in a 28x28 image with its centre of mass on the image's centre (shifted by whole pixels,
    and never so far that ink leaves the image). Ink is 1, paper 0; returns a 28x28 float array."""
    picture = np.clip(_grey(picture, "picture"), 0, 1)
    rows, cols = np.nonzero(picture >= INK)
    if len(rows) == 0:
        raise ValueError("the drawing is empty: draw a digit (or pick a sample digit) first")
    digit = picture[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = digit.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = torch.nn.functional.interpolate(torch.as_tensor(digit, dtype=torch.float32)[None, None], size=size,
                                            mode="area" if max(h, w) >= BOX else "bilinear")[0, 0].numpy()
    mass = small.sum()
    centre_row = (small.sum(axis=1) * np.arange(size[0])).sum() / mass
    centre_col = (small.sum(axis=0) * np.arange(size[1])).sum() / mass
    middle = (SIDE - 1) / 2  # 13.5: the centre of a 28-pixel side, in pixel indices
    top = int(np.clip(round(middle - centre_row), 0, SIDE - size[0]))
    left = int(np.clip(round(middle - centre_col), 0, SIDE - size[1]))
    framed = np.zeros((SIDE, SIDE), dtype=np.float32)
    framed[top : top + size[0], left : left + size[1]] = small
    return framed


def to_input(picture) -> torch.Tensor:
    """A 28x28 picture (ink 1, paper 0) as the network's input: 1 x 28 x 28, normalised as MNIST was."""
    picture = _grey(picture, "picture")
    if picture.shape != (SIDE, SIDE):
        raise ValueError(f"picture must be 28x28 (like_mnist makes one), got {picture.shape[0]}x{picture.shape[1]}")
    return ((torch.as_tensor(picture, dtype=torch.float32) - MNIST_MEAN[0]) / MNIST_STD[0])[None]


class Stage(NamedTuple):
    """One stage of a LeNet-like network's features: a convolution (with the ReLU after it) or a pooling layer."""

    name: str  # conv1, pool1, ...
    layer: str  # the module whose output is the stage's feature maps (the ReLU after a convolution)
    module: nn.Module  # the Conv2d or the pooling layer
    input_layer: str | None  # the module whose output is the stage's input (None: the image)


def stages_of(model: nn.Module) -> list[Stage]:
    """The stages of `model.features` (Conv2d, ReLU and MaxPool2d layers, as models.LeNet5() has them)."""
    _arguments.module("model", model)
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ValueError(f"model must have a `features` nn.Sequential of Conv2d, ReLU and MaxPool2d layers, as "
                         f"models.LeNet5() has; got a {type(model).__name__} without one")
    stages: list[Stage] = []
    counts = {"conv": 0, "pool": 0}
    previous = None
    for index, module in enumerate(features):
        name = f"features.{index}"
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.dilation != (1, 1) or module.padding_mode != "zeros":
                raise ValueError(f"{name}: only plain convolutions can be written out (groups 1, dilation 1, zero padding)")
            counts["conv"] += 1
            stages.append(Stage(f"conv{counts['conv']}", name, module, previous))
        elif isinstance(module, nn.MaxPool2d):
            counts["pool"] += 1
            stages.append(Stage(f"pool{counts['pool']}", name, module, previous))
        elif isinstance(module, nn.ReLU) and stages and isinstance(stages[-1].module, nn.Conv2d):
            stages[-1] = stages[-1]._replace(layer=name)  # a convolution's maps are shown after its ReLU
        else:
            raise ValueError(f"{name} is a {type(module).__name__}: the explorer writes out Conv2d, ReLU and MaxPool2d "
                             "layers only (models.LeNet5() without batch_norm)")
        previous = stages[-1].layer
    if not stages:
        raise ValueError("model.features holds no convolution")
    return stages


def _stage(model: nn.Module, name: str) -> Stage:
    stages = stages_of(model)
    for stage in stages:
        if stage.name == name:
            return stage
    raise ValueError(f"stage must be one of {', '.join(s.name for s in stages)}, got {name!r}")


def network_view(model: nn.Module, picture, classes=None) -> dict[str, Any]:
    """What the explorer shows for one 28x28 picture (ink 1): the picture, the class probabilities, the
    predicted class, each stage's feature maps (channels x h x w, on the CPU) and the gradient saliency
    of the predicted class (28x28)."""
    stages = stages_of(model)
    image = to_input(picture)
    device = model_device(model)
    outputs = stage_outputs(model, image[None].to(device), names=[s.layer for s in stages])
    probabilities = explain.probabilities(model, image)
    predicted = int(probabilities.argmax())
    if classes is None:
        classes = [str(k) for k in range(len(probabilities))]
    if len(classes) != len(probabilities):
        raise ValueError(f"classes names {len(classes)} classes, but the model has {len(probabilities)} outputs")
    return {
        "picture": np.asarray(_grey(picture, "picture"), dtype=np.float32),
        "probabilities": probabilities.numpy(),
        "predicted": predicted,
        "classes": list(classes),
        "stages": {s.name: outputs[s.layer][0].cpu().numpy() for s in stages},
        "saliency": explain.saliency(model, image, predicted).numpy(),
    }


def _window_to_input(stages: list[Stage], upto: int, top: int, bottom: int, left: int, right: int) -> tuple[int, int, int, int]:
    """The input pixels (rows top..bottom, columns left..right, inclusive) that reach the given pixels of
    stage `upto`'s output, clipped to the image: each layer's window widens the range by its kernel and
    multiplies it by its stride; padding shifts it."""
    for stage in reversed(stages[: upto + 1]):
        module = stage.module
        k, s, p = (_pair(getattr(module, attr)) for attr in ("kernel_size", "stride", "padding"))
        top, bottom = top * s[0] - p[0], bottom * s[0] - p[0] + k[0] - 1
        left, right = left * s[1] - p[1], right * s[1] - p[1] + k[1] - 1
    return max(top, 0), min(bottom, SIDE - 1), max(left, 0), min(right, SIDE - 1)


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def explain_value(model: nn.Module, picture, stage: str, channel: int, row: int, col: int) -> dict[str, Any]:
    """One number of a feature map, written out. Returns a dict with the stage and position, `value` (the
    network's own activation there), `field` (its receptive field on the 28x28 input: top, bottom, left,
    right, inclusive) and, for a convolution, the `patch` of the stage's input under the kernel (input
    channels x k x k, zeros where the window lies in the padding), the `kernel`, their `products`, the
    `bias` and `total` (the sum of the products plus the bias, by by_hand.corr2d_multi_in), which the ReLU
    turns into the value; for a pooling layer, the `patch` of the channel it pools and `total`, its largest
    number."""
    stages = stages_of(model)
    chosen = _stage(model, stage)
    index = stages.index(chosen)
    image = to_input(picture)
    device = model_device(model)
    names = [chosen.layer] + ([chosen.input_layer] if chosen.input_layer else [])
    outputs = stage_outputs(model, image[None].to(device), names=names)
    maps = outputs[chosen.layer][0].cpu().double().numpy()
    channels, height, width = maps.shape
    channel = _arguments.whole("channel", channel, 0, channels - 1)
    row = _arguments.whole("row", row, 0, height - 1)
    col = _arguments.whole("col", col, 0, width - 1)
    below = (outputs[chosen.input_layer][0] if chosen.input_layer else image).cpu().double().numpy()
    module = chosen.module
    k, s, p = (_pair(getattr(module, attr)) for attr in ("kernel_size", "stride", "padding"))
    if p[0] != p[1]:
        raise ValueError(f"{chosen.layer}: the explorer writes out square padding only, got {p}")
    padded = np.stack([pad2d(c, p[0]) for c in below])
    top, left = row * s[0], col * s[1]
    patch = padded[:, top : top + k[0], left : left + k[1]]
    result: dict[str, Any] = {"picture": np.asarray(_grey(picture, "picture"), dtype=np.float32),
                              "stage": chosen.name, "layer": chosen.layer, "channel": channel, "row": row, "col": col,
                              "value": float(maps[channel, row, col]), "patch": patch,
                              "field": _window_to_input(stages, index, row, row, col, col)}
    if isinstance(module, nn.Conv2d):
        kernel = module.weight[channel].detach().cpu().double().numpy()
        bias = float(module.bias[channel].detach()) if module.bias is not None else 0.0
        result.update(kind="conv", kernel=kernel, products=patch * kernel, bias=bias,
                      total=float(corr2d_multi_in(patch, kernel)[0, 0]) + bias)
    else:
        result.update(kind="pool", total=float(pool2d(patch[channel], k, stride=s)[0, 0]))
        result["patch"] = patch[channel]
    return result


# ----------------------------------------------------------------------------- figures
def view_figure(view: dict[str, Any], overlay: bool = True):
    """The explorer's view as one matplotlib figure: the input, the probabilities, every stage's maps
    (each stage on one colour scale) and, with `overlay`, the saliency on the input."""
    import matplotlib.pyplot as plt

    from .plotting import HEATMAP_CMAP

    stages = view["stages"]
    columns = max(len(maps) for maps in stages.values())
    # compact enough for a 1280x720 slide at its larger fonts: the maps carry no text, only their rows' titles
    fig = plt.figure(figsize=(max(8, 0.5 * columns + 0.5), 2.2 + 0.75 * len(stages)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 0.75 * len(stages)])
    panels = top.subplots(1, 3, width_ratios=[1, 1, 1.6])
    panels[0].imshow(view["picture"], cmap="gray", vmin=0, vmax=1)
    panels[0].set_title("what the network sees")
    panels[1].imshow(view["picture"], cmap="gray", vmin=0, vmax=1)
    if overlay:
        panels[1].imshow(view["saliency"], cmap=HEATMAP_CMAP, alpha=0.6)
    panels[1].set_title("saliency" if overlay else "input")
    for ax in panels[:2]:
        ax.set_axis_off()
    probabilities, predicted = view["probabilities"], view["predicted"]
    bars = panels[2].barh(range(len(probabilities)), probabilities, color="#9ecae1")
    bars[predicted].set_color("#08519c")
    panels[2].set(yticks=range(len(probabilities)), yticklabels=view["classes"], xlim=(0, 1), xlabel="probability")
    panels[2].invert_yaxis()
    panels[2].set_title(f"prediction: {view['classes'][predicted]} ({probabilities[predicted]:.0%})")
    grid = bottom.subplots(len(stages), columns, squeeze=False)
    for r, (name, maps) in enumerate(stages.items()):
        for c in range(columns):
            ax = grid[r, c]
            ax.set_axis_off()
            if c < len(maps):
                ax.imshow(maps[c], cmap="gray", vmin=float(maps.min()), vmax=float(maps.max()) or 1)
        grid[r, 0].set_title(f"{name}: {len(maps)} maps of {maps.shape[1]}x{maps.shape[2]}", loc="left", fontsize=9)
    return fig


def explanation_figure(explanation: dict[str, Any]):
    """One number written out, as notebook 02's stepper draws a step: the receptive field on the input,
    then (for a convolution) the patch, the kernel and the products of the input channel that adds
    the most, with the whole sum in the title; for a pooling layer, the window and its largest number."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from .plotting import show_matrix

    e = explanation
    if e["kind"] == "conv":
        contributions = e["products"].sum(axis=(1, 2))
        strongest = int(np.abs(contributions).argmax())
        panels = [(e["patch"][strongest], f"patch (input channel {strongest})", "Blues"),
                  (e["kernel"][strongest], "kernel", "Oranges"),
                  (e["products"][strongest], f"products\nsum = {contributions[strongest]:.2f}", "Greens")]
    else:
        panels = [(e["patch"], "window", "Blues")]
    grow = max(1.0, plt.rcParams["font.size"] / 10)  # larger fonts (the slides', use_presentation_style) need larger cells
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(min(12.5, grow * (3 + 2.4 * len(panels))), grow * 3.4),
                             gridspec_kw={"width_ratios": [1.3] + [1] * len(panels)})
    top, bottom, left, right = e["field"]
    axes[0].imshow(e["picture"], cmap="gray", vmin=0, vmax=1)
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                                edgecolor="#d95f02", linewidth=2.5))
    axes[0].set_title(f"receptive field\n{bottom - top + 1}x{right - left + 1} input pixels")
    axes[0].set_axis_off()
    for ax, (matrix, title, cmap) in zip(axes[1:], panels):
        show_matrix(np.round(matrix, 2), ax=ax, title=title, cmap=cmap, fmt="{:.2f}" if matrix.size <= 25 else None)
    fig.suptitle("\n".join(textwrap.wrap(explanation_text(e), 90)), fontsize="medium")
    fig.tight_layout()
    return fig


def explanation_text(explanation: dict[str, Any]) -> str:
    """explain_value's result in one sentence: the sum that makes the number, and the network's own value."""
    e = explanation
    where = f"{e['stage']} map {e['channel']}, row {e['row']}, column {e['col']}"
    if e["kind"] == "conv":
        channels = len(e["products"])
        return (f"{where}: the products over {channels} input channel{'s' * (channels > 1)} add up to "
                f"{e['products'].sum():.3f}; plus the bias {e['bias']:.3f} that is {e['total']:.3f}, and after the ReLU "
                f"{max(e['total'], 0):.3f}. The network's own value: {e['value']:.3f}.")
    size = "x".join(map(str, e["patch"].shape))
    return f"{where}: the largest number of its {size} window, {e['total']:.3f}. The network's own value: {e['value']:.3f}."
