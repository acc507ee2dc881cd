"""Interactive demos for the notebooks. Each has a plain function that returns its figure (for CI,
slides and printed notes) and a widget version that redraws it as sliders move.

- `sliding_window_figure` / `sliding_window_stepper`: notebooks/02_convolution_by_hand.ipynb
- `output_size_figure` / `output_size_calculator`: notebooks/03_padding_stride_pooling.ipynb
- `function_figure` / `function_explorer`: notebooks/01_mlp_to_cnn.ipynb (activations and derivatives)
- `feature_map_figure` / `feature_map_explorer`: notebooks/04_alexnet_filters_feature_maps.ipynb
- `explanation_figure` / `explanation_explorer`: notebooks/08_what_the_network_looks_at.ipynb
- `drawing_figure` / `drawing_explorer`: notebooks/06_training_lenet_mnist.ipynb (draw a digit) and 08

Only what ipywidgets 7.7 (Colab) and 8 (JupyterLab 4) both provide is used; the drawing explorer is an
anywidget (a custom widget that works in both), its browser half in drawing.js.
"""

from __future__ import annotations

import base64
import functools
import io
import textwrap
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from . import _arguments, drawing, explain
from .by_hand import SEED_EXAMPLES, corr2d, pad2d
from .data import imagenet_preprocess
from .models import stage_outputs
from .plotting import HEATMAP_CMAP, colour_bar, normalise_each, overlay_colour_bar, show_image, show_matrix
from .shapes import conv_output_size, explain_output_size

__all__ = [
    "sliding_window_figure",
    "sliding_window_stepper",
    "output_size_figure",
    "output_size_calculator",
    "function_and_derivative",
    "function_figure",
    "function_explorer",
    "feature_map_figure",
    "feature_map_explorer",
    "explanation_figure",
    "explanation_explorer",
    "drawing_figure",
    "drawing_explorer",
]

def sliding_window_figure(X, K, stride: int = 1, padding: int = 0, step: int = 0) -> plt.Figure:
    """Draw one step of a 2-D cross-correlation: the window on the (padded) input, the kernel,
    the products and their sum, and the output filled up to this step. Returns the figure."""
    X, K = np.asarray(X), np.asarray(K)
    if X.ndim != 2 or K.ndim != 2:
        raise ValueError(f"X and K must be 2-D, got shapes {X.shape} and {K.shape}")
    full = corr2d(X.astype(float), K.astype(float), stride=stride, padding=padding)  # checks the arguments
    out_h, out_w = full.shape
    steps = out_h * out_w
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or not 0 <= step < steps:
        raise ValueError(f"step must be between 0 and {steps - 1} (the output has {out_h}x{out_w} cells), got {step!r}")
    row, col = divmod(step, out_w)
    padded = pad2d(X, padding).astype(float)
    kh, kw = K.shape
    top, left = row * stride, col * stride
    products = padded[top : top + kh, left : left + kw] * K
    output = np.full((out_h, out_w), np.nan)  # filled up to this step, in reading order
    output.flat[: step + 1] = full.flat[: step + 1]

    widths = [padded.shape[1], kw, kw, out_w]
    fig, axes = plt.subplots(1, 4, figsize=(2.2 + 0.55 * sum(widths), 0.6 * max(padded.shape[0], 3) + 1.2),
                             gridspec_kw={"width_ratios": widths})
    show_matrix(padded, ax=axes[0], highlight=(top, left, kh, kw),
                title="input" + (f" (padded by {padding})" if padding else ""))
    if padding:  # outline the original input inside the zeros that padding added
        axes[0].add_patch(Rectangle((padding - 0.5, padding - 0.5), X.shape[1], X.shape[0], fill=False,
                                    edgecolor="black", linewidth=2.5, linestyle="--"))
    show_matrix(K, ax=axes[1], title="kernel K", cmap="Oranges")
    # two-line titles: the panels of a 2- or 3-wide kernel are narrower than one line at the slides' font size
    show_matrix(products, ax=axes[2], title=f"products\nsum = {np.sum(products):g}", cmap="Greens")
    show_matrix(output, ax=axes[3], highlight=(row, col, 1, 1), title=f"output\n[{row}, {col}]", cmap="Purples")
    fig.suptitle(f"step {step + 1} of {steps}: stride {stride}, padding {padding}")
    fig.tight_layout()
    return fig


def _show(fig: plt.Figure, alt: str) -> None:
    """Show a widget's figure with a text alternative. JupyterLab's own image output has no alt
    attribute, so the figure goes out twice in one bundle: as an HTML image with its alt (what JupyterLab
    and Colab show) and as a PNG (what the exported slides and the site take)."""
    import html

    import matplotlib
    from IPython.display import display

    if "inline" not in matplotlib.get_backend():  # no notebook to show it in (a script, the tests): as plt.show()
        plt.show()
        plt.close(fig)
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode()
    picture = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'
    display({"text/html": picture, "image/png": png, "text/plain": alt}, raw=True)


def _widgets():
    # Imported when a widget is built, not with the module: the figure functions are used (by CI, the
    # slides and the site) where no widget is ever drawn, and ipywidgets takes a while to import.
    import ipywidgets

    return ipywidgets


# Every control shows its whole label (ipywidgets' default width cuts a long one off, all the more at a
# lecture's font size), a drop-down is as wide as its longest choice, and a row of controls wraps where
# the screen is narrower than the row.
LABEL = {"description_width": "initial"}
WIDE_ENOUGH = {"width": "auto"}
ROW = {"flex_flow": "row wrap"}


def sliding_window_stepper(example: str = "3x3 input, 2x2 kernel") -> Any:
    """Widget: choose a worked example, stride and padding, then step the window across the input."""
    widgets = _widgets()
    if not isinstance(example, str) or example not in SEED_EXAMPLES:
        raise ValueError(f"example must be one of {list(SEED_EXAMPLES)}, got {example!r}")
    choose = widgets.Dropdown(options=list(SEED_EXAMPLES), value=example, description="example", style=LABEL, layout=WIDE_ENOUGH)
    stride = widgets.IntSlider(value=1, min=1, max=3, description="stride", style=LABEL)
    padding = widgets.IntSlider(value=0, min=0, max=2, description="padding", style=LABEL)
    step = widgets.IntSlider(value=0, min=0, max=0, description="step", style=LABEL)
    output = widgets.Output()

    def steps_available() -> int:
        X, K = SEED_EXAMPLES[choose.value]
        out_h = conv_output_size(X.shape[0], K.shape[0], stride.value, padding.value)
        out_w = conv_output_size(X.shape[1], K.shape[1], stride.value, padding.value)
        return out_h * out_w

    def redraw(*_):
        step.max = steps_available() - 1
        step.value = min(step.value, step.max)
        X, K = SEED_EXAMPLES[choose.value]
        output.clear_output(wait=True)
        with output:
            fig = sliding_window_figure(X, K, stride.value, padding.value, step.value)
            _show(fig, f"Step {step.value + 1} of {step.max + 1} of the example {choose.value} with stride {stride.value} "
                       f"and padding {padding.value}: the input with the window outlined, the kernel, the products "
                       "and their sum, and the output filled so far.")

    for control in (choose, stride, padding, step):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([choose, stride, padding], layout=ROW), step, output])


MAX_DRAWN_CELLS = 300  # one axis of AlexNet's padded 228-pixel input fits


def output_size_figure(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> plt.Figure:
    """Draw one axis of the input (padding hatched), every window position, and the formula; up to
    MAX_DRAWN_CELLS cells (`shapes.explain_output_size` gives the numbers for any size)."""
    explanation = explain_output_size(n, kernel_size, stride, padding, dilation)  # checks the arguments
    if n + 2 * padding > MAX_DRAWN_CELLS:
        raise ValueError(f"output_size_figure draws every cell, and n + 2p = {n + 2 * padding} is more than "
                         f"{MAX_DRAWN_CELLS} (a smaller n or padding would fit); "
                         f"shapes.explain_output_size({n}, {kernel_size}, {stride}, {padding}, {dilation}) gives the numbers "
                         "without the picture")
    out = conv_output_size(n, kernel_size, stride, padding, dilation)
    total = n + 2 * padding
    span = dilation * (kernel_size - 1) + 1
    covered = (out - 1) * stride + span
    width = max(8.0, 0.45 * total + 1.5)
    lines = [wrapped for line in explanation.splitlines() for wrapped in textwrap.wrap(line, int(width * 11))]
    height = 1.9 + 0.32 * out + 0.2 * len(lines)
    fig, ax = plt.subplots(figsize=(width, height))
    for cell in range(total):
        is_pad = cell < padding or cell >= padding + n
        face = "#f4a6a0" if cell >= covered else ("0.88" if is_pad else "white")
        ax.add_patch(Rectangle((cell, 0), 1, 1, facecolor=face, edgecolor="black", hatch="//" if is_pad else None))
    colours = plt.get_cmap("tab10")
    for position in range(out):
        y = -0.6 - 0.32 * position
        start = position * stride
        for tap in range(kernel_size):
            ax.add_patch(Rectangle((start + tap * dilation + 0.1, y), 0.8, 0.22, color=colours(position % 10)))
        ax.text(start - 0.3, y + 0.11, str(position), ha="right", va="center", fontsize=9)
    ax.set_xlim(-1.2, total + 0.2)
    ax.set_ylim(-0.8 - 0.32 * out, 1.2)
    ax.axis("off")
    verdict = "the windows fit exactly" if covered == total else f"does not fit: {total - covered} cell(s) never covered (red)"
    ax.set_title(f"n={n}, k={kernel_size}, s={stride}, p={padding}, d={dilation}: output size {out}\n{verdict}",
                 fontsize=11)
    fig.text(0.02, 0.02, "\n".join(lines), fontsize=9, family="monospace", va="bottom")
    fig.subplots_adjust(top=1 - 0.65 / height, bottom=(0.2 * len(lines) + 0.2) / height)
    return fig


def output_size_calculator(n: int = 7, kernel_size: int = 3, stride: int = 3, padding: int = 0, dilation: int = 1) -> Any:
    """Widget: sliders for n, k, s, p and d; the formula with the numbers, and what would fit."""
    widgets = _widgets()
    for name, value, low, high in (("n", n, 1, 32), ("kernel_size", kernel_size, 1, 11), ("stride", stride, 1, 6),
                                   ("padding", padding, 0, 6), ("dilation", dilation, 1, 4)):
        _arguments.whole(name, value, low, high)  # the sliders' ranges
    sliders = {
        "n": widgets.IntSlider(value=n, min=1, max=32, description="n (input)", style=LABEL),
        "kernel_size": widgets.IntSlider(value=kernel_size, min=1, max=11, description="k (kernel)", style=LABEL),
        "stride": widgets.IntSlider(value=stride, min=1, max=6, description="s (stride)", style=LABEL),
        "padding": widgets.IntSlider(value=padding, min=0, max=6, description="p (padding)", style=LABEL),
        "dilation": widgets.IntSlider(value=dilation, min=1, max=4, description="d (dilation)", style=LABEL),
    }
    output = widgets.Output()

    def redraw(*_):
        output.clear_output(wait=True)
        with output:
            try:
                values = {name: slider.value for name, slider in sliders.items()}
                fig = output_size_figure(**values)
                _show(fig, "Every window position along one axis of an input of {n}, with kernel {kernel_size}, stride "
                           "{stride}, padding {padding} and dilation {dilation}, and the output size they give."
                           .format(**values))
            except ValueError as error:
                print(f"This configuration does not work: {error}")

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    controls = list(sliders.values())
    return widgets.VBox([widgets.HBox(controls[:3], layout=ROW), widgets.HBox(controls[3:], layout=ROW), output])


def function_and_derivative(function, x) -> tuple[np.ndarray, np.ndarray]:
    """Values of an elementwise torch function and of its derivative (by autograd) at the points x."""
    _arguments.function("function", function)
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("x must be numbers (a list, array or tensor of points), got a bool")
    try:
        points = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"x must be numbers (a list, array or tensor of points), got {type(x).__name__}") from None
    if points.size == 0 or points.size > 1_000_000 or not np.isfinite(points).all():
        raise ValueError(f"x must hold from 1 to 1,000,000 finite numbers, got {points.size:,} "
                         f"({'some not finite' if points.size and not np.isfinite(points).all() else 'values'})")
    x = torch.as_tensor(points).clone().requires_grad_(True)
    y = function(x)
    if y.shape != x.shape:
        raise ValueError(f"function must act elementwise: it turned shape {tuple(x.shape)} into {tuple(y.shape)}")
    (grad,) = torch.autograd.grad(y.sum(), x)
    return y.detach().numpy(), grad.numpy()


def function_figure(name: str, function, x_range: tuple[float, float] = (-6.0, 6.0)) -> plt.Figure:
    """Plot f and its derivative f' (taken by autograd) side by side; return the figure."""
    name = _arguments.text("name", name, optional=False)
    _arguments.function("function", function)
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise ValueError(f"x_range must be (low, high), such as (-6, 6), got {x_range!r}")
    low, high = (_arguments.number(f"x_range's {end}", value) for end, value in zip(("low", "high"), x_range))
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    x = np.linspace(low, high, 601)
    y, dy = function_and_derivative(function, x)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, values, label, colour in ((axes[0], y, f"{name}(x)", "tab:blue"), (axes[1], dy, f"{name}'(x)", "tab:orange")):
        ax.plot(x, values, color=colour, linewidth=2.5)
        ax.axhline(0, color="0.6", linewidth=0.8)
        ax.axvline(0, color="0.6", linewidth=0.8)
        ax.set_title(label)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def function_explorer(functions: dict, x_range: tuple[float, float] = (-6.0, 6.0)) -> Any:
    """Widget: choose one of `functions` (name -> elementwise torch function) and see f and f'."""
    widgets = _widgets()
    if not isinstance(functions, dict) or not functions:
        raise ValueError(f"functions must map names to functions, such as {{'sigmoid': torch.sigmoid}}, got {functions!r:.60}")
    for name, function in functions.items():
        _arguments.text("functions' names", name, optional=False)
        _arguments.function(f"functions[{name!r}]", function)
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise ValueError(f"x_range must be (low, high), such as (-6, 6), got {x_range!r}")
    _arguments.number("x_range's high end", x_range[1], 1.0, 20.0)  # the slider's range
    choose = widgets.Dropdown(options=list(functions), description="function", style=LABEL, layout=WIDE_ENOUGH)
    width = widgets.FloatSlider(value=x_range[1], min=1.0, max=20.0, step=0.5, description="x range ±", style=LABEL)
    output = widgets.Output()

    def redraw(*_):
        output.clear_output(wait=True)
        with output:
            fig = function_figure(choose.value, functions[choose.value], (-width.value, width.value))
            _show(fig, f"The {choose.value} function and its derivative for x from -{width.value:g} to {width.value:g}.")

    choose.observe(redraw, names="value")
    width.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([choose, width], layout=ROW), output])


def _check_photo(image) -> None:
    """A photo as the preprocessing takes it: a PIL image or an H x W x 3 array."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        return
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[-1] != 3 or image.size == 0:
        raise ValueError(f"image must be a photo (a PIL image or an H x W x 3 array, as data.sample_image gives), got "
                         f"{type(image).__name__}{' of shape ' + str(image.shape) if hasattr(image, 'shape') else ''}")


def _stage_maps(model, image, stages: dict, preprocess) -> dict:
    batch = preprocess(image).unsqueeze(0)
    outputs = stage_outputs(model, batch, names=list(stages.values()))
    return {label: outputs[name][0] for label, name in stages.items()}


def feature_map_figure(model, image, stage: str, channel: int, stages: dict | None = None, preprocess=None,
                       maps: dict | None = None) -> plt.Figure:
    """Draw the input photo, the filter behind `channel` (for a first-layer convolution) and the
    feature map of that channel at `stage`. `stages` maps labels to layer names of `model`."""
    _arguments.module("model", model)
    if stages is not None and (not isinstance(stages, dict) or not stages):
        raise TypeError(f"stages must map labels to layer names, such as {{'conv1': 'features.0'}}, got {stages!r:.80}")
    if stages is None:
        names = [name for name, _ in model.named_modules() if name]
        if not isinstance(stage, str) or stage not in names:
            raise ValueError(f"stage must be a layer name of the model, such as {names[:3]}, got {stage!r}")
        stages = {stage: stage}
    if not isinstance(stage, str) or stage not in stages:
        raise ValueError(f"stage must be one of {list(stages)}, got {stage!r}")
    if maps is None:
        _check_photo(image)
    preprocess = preprocess or imagenet_preprocess()
    maps = maps if maps is not None else _stage_maps(model, image, stages, preprocess)
    fmap = maps[stage]
    if isinstance(channel, (bool, np.bool_)) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < fmap.shape[0]:
        raise ValueError(f"channel must be between 0 and {fmap.shape[0] - 1} at stage {stage!r}, got {channel}")
    layer = dict(model.named_modules())[stages[stage]]
    weight = getattr(layer, "weight", None)
    show_kernel = weight is not None and weight.dim() == 4 and weight.shape[1] == 3
    fig, axes = plt.subplots(1, 3 if show_kernel else 2, figsize=(12 if show_kernel else 8.5, 4))
    show_image(image, ax=axes[0], title="input")
    if show_kernel:
        kernel = normalise_each(weight[channel:channel + 1].detach().cpu().numpy())[0]
        show_image(np.transpose(kernel, (1, 2, 0)), ax=axes[1], title=f"filter {channel} ({kernel.shape[1]}x{kernel.shape[2]})")
    show_image(fmap[channel].numpy(), ax=axes[-1],
               title=f"{stage}, channel {channel}: {fmap.shape[1]}x{fmap.shape[2]}")
    colour_bar(fig, axes[-1].images[0], "activation")
    fig.tight_layout()
    return fig


def feature_map_explorer(model, images: dict, stages: dict, preprocess=None) -> Any:
    """Widget: choose a photo, a stage and a channel; see the input, the filter (first layer) and the map."""

    widgets = _widgets()
    if not images or not stages:
        raise ValueError("images and stages must both be non-empty dicts (label -> photo, label -> layer name)")
    preprocess = preprocess or imagenet_preprocess()
    cache: dict = {}

    def maps_for(label):
        if label not in cache:  # run the model once per photo, not on every slider move
            cache[label] = _stage_maps(model, images[label], stages, preprocess)
        return cache[label]

    choose_image = widgets.Dropdown(options=list(images), description="image", style=LABEL, layout=WIDE_ENOUGH)
    choose_stage = widgets.Dropdown(options=list(stages), description="stage", style=LABEL, layout=WIDE_ENOUGH)
    channel = widgets.IntSlider(value=0, min=0, max=0, description="channel", style=LABEL)
    output = widgets.Output()

    def redraw(*_):
        maps = maps_for(choose_image.value)
        channel.max = maps[choose_stage.value].shape[0] - 1
        output.clear_output(wait=True)
        with output:
            shown = min(channel.value, channel.max)
            fig = feature_map_figure(model, images[choose_image.value], choose_stage.value, shown,
                                     stages=stages, preprocess=preprocess, maps=maps)
            _show(fig, f"The photo {choose_image.value!r} and channel {shown} of the network's {choose_stage.value} "
                       "feature maps for it, bright where the channel responds.")

    for control in (choose_image, choose_stage, channel):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([choose_image, choose_stage, channel], layout=ROW), output])


def _method_options(method: str, image, layer: str | None, options: dict) -> dict:
    """Keyword arguments for one `explain` method: the layer for Grad-CAM, a window of a quarter of
    the image (half of it a step) for occlusion unless `options` says otherwise."""
    if method == "grad_cam":
        if layer is None:
            raise ValueError("layer is needed for method='grad_cam': give the name of a convolutional layer")
        return {"layer": layer, **options}
    if method == "occlusion":
        window = max(2, min(image.shape[-2:]) // 4)
        return {"window": window, "stride": max(1, window // 2), **options}
    return dict(options)


# What the number behind each method's heat map measures, for the colour bar.
# The colour bars' labels, on two lines where long: a label runs along its bar, which is no taller than the image.
HEATMAP_UNITS = {"saliency": "|gradient of\nthe score|", "smoothgrad": "mean |gradient\nof the score|",
                 "occlusion": "score drop\nwhen covered", "grad_cam": "Grad-CAM:\nweighted activation"}


def explanation_figure(model, image, target: int, method: str = "grad_cam", layer: str | None = None,
                       picture=None, class_names=None, box=None, heatmap=None, **options) -> plt.Figure:
    """Draw the image, the map of `method` (a name in `explain.METHODS`) for class `target`, and the
    map laid over the image; `box` (top, left, height, width) outlines where the evidence is, when
    known. `picture` is what to show (default: the image tensor, rescaled). Returns the figure."""

    if not isinstance(method, str) or method not in explain.METHODS:
        raise ValueError(f"method must be one of {list(explain.METHODS)}, got {method!r}")
    if heatmap is None:
        heatmap = explain.METHODS[method](model, image, target, **_method_options(method, image, layer, options))
    picture = image if picture is None else picture
    name = class_names[target] if class_names is not None else f"class {target}"
    fig, axes = plt.subplots(1, 3, figsize=(11, 4), layout="constrained")  # room for the colour bars and titles
    show_image(picture, ax=axes[0], title="input")
    shown = axes[1].imshow(np.asarray(heatmap), cmap=HEATMAP_CMAP)
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    colour_bar(fig, shown, HEATMAP_UNITS.get(method, "attribution"))
    label = {"smoothgrad": "SmoothGrad", "grad_cam": "Grad-CAM"}.get(method, method)
    axes[1].set_title(f"{label}, {tuple(heatmap.shape)[0]}x{tuple(heatmap.shape)[1]}")
    show_image(explain.overlay(picture, heatmap), ax=axes[2], title=f"evidence for {name!r}")
    overlay_colour_bar(fig, axes[2])
    if box is not None:
        top, left, height, width = box
        scale = np.asarray(heatmap).shape[0] / image.shape[-2]
        for ax, factor in ((axes[0], 1.0), (axes[1], scale), (axes[2], 1.0)):
            ax.add_patch(Rectangle((left * factor - 0.5, top * factor - 0.5), width * factor, height * factor,
                                   fill=False, edgecolor="white", linewidth=2, linestyle="--"))
    return fig


def explanation_explorer(model, images, class_names, layer: str, pictures=None, boxes=None, top: int = 5) -> Any:
    """Widget: slide through `images` (tensors the model takes), choose one of the image's `top`
    classes and a method, and see its map over the image (boxes outline known evidence)."""

    widgets = _widgets()
    images = list(images)
    if not images:
        raise ValueError("images is empty: pass at least one image tensor")
    for name, values in (("pictures", pictures), ("boxes", boxes)):
        if values is not None and len(values) != len(images):
            raise ValueError(f"{name} has {len(values)} entries for {len(images)} images; give one per image or None")
    explain.find_layer(model, layer)  # a wrong layer name fails now, not at the first redraw
    cache: dict = {}

    def top_classes(index: int) -> list[tuple[str, int]]:
        if ("top", index) not in cache:
            probabilities = explain.probabilities(model, images[index])
            values, indices = probabilities.topk(min(top, len(probabilities)))
            cache[("top", index)] = [(f"{class_names[int(i)]} ({float(v):.2f})", int(i)) for v, i in zip(values, indices)]
        return cache[("top", index)]

    choose_image = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image", style=LABEL)
    choose_class = widgets.Dropdown(options=top_classes(0), description="class", style=LABEL, layout=WIDE_ENOUGH)
    choose_method = widgets.Dropdown(options=list(explain.METHODS), value="grad_cam", description="method", style=LABEL, layout=WIDE_ENOUGH)
    output = widgets.Output()

    def redraw(*_):
        index, method = choose_image.value, choose_method.value
        options = top_classes(index)
        if choose_class.options != tuple(options) and list(choose_class.options) != options:
            choose_class.unobserve(redraw, names="value")
            choose_class.options = options
            choose_class.value = options[0][1]
            choose_class.observe(redraw, names="value")
        target = choose_class.value
        key = (index, target, method)
        if key not in cache:
            cache[key] = explain.METHODS[method](model, images[index], target,
                                                 **_method_options(method, images[index], layer, {}))
        output.clear_output(wait=True)
        with output:
            fig = explanation_figure(model, images[index], target, method, layer,
                                     picture=None if pictures is None else pictures[index], class_names=class_names,
                                     box=None if boxes is None else boxes[index], heatmap=cache[key])
            name = class_names[target] if class_names is not None else f"class {target}"
            _show(fig, f"Image {index}, its {method} map for the class {name!r}, and the map laid over the image.")

    for control in (choose_image, choose_class, choose_method):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([choose_image, choose_class, choose_method], layout=ROW), output])



# ----------------------------------------------------------------------------- drawing a digit
def drawing_figure(model, picture, classes=None, overlay: bool = True) -> plt.Figure:
    """The drawing explorer's view of one 28x28 picture (ink 1, paper 0; `drawing.like_mnist` makes one
    from any drawing): the input, the probabilities, every stage's feature maps and the saliency."""
    return drawing.view_figure(drawing.network_view(model, picture, classes), overlay=overlay)


def _levels(maps: np.ndarray) -> tuple[list[int], float, float]:
    """A stage's maps as whole levels 0..255 on one scale for the stage (what the browser draws), and the scale."""
    low, high = min(0.0, float(maps.min())), float(maps.max())
    span = high - low if high > low else 1.0
    return np.rint(255 * (maps - low) / span).astype(int).ravel().tolist(), low, high


def _drawing_view(view: dict, request: int, source: str, message: str) -> dict:
    """network_view's result as the JSON the browser half (drawing.js) reads."""
    stages = []
    for name, maps in view["stages"].items():
        levels, low, high = _levels(maps)
        channels, height, width = maps.shape
        kind = "convolution + ReLU" if name.startswith("conv") else "max pooling"
        stages.append({"name": name, "channels": channels, "height": height, "width": width, "data": levels,
                       "low": low, "high": high, "display": int(min(52, max(36, 2 * width))),
                       "caption": f"{name}: {channels} x {height}x{width}, 0 to {high:.2f}",
                       "title": f"{name} ({kind}): {channels} maps of {height}x{width}, black 0, white {high:.2f}"})
    saliency = view["saliency"]
    saliency = saliency / saliency.max() if saliency.max() > 0 else saliency
    predicted = view["predicted"]
    return {"request": request, "source": source, "side": drawing.SIDE,
            "picture": np.round(view["picture"], 3).ravel().tolist(), "saliency": np.round(saliency, 3).ravel().tolist(),
            "probabilities": np.round(view["probabilities"].astype(float), 4).tolist(), "predicted": predicted,
            "classes": view["classes"], "stages": stages,
            "message": message or f"The network says {view['classes'][predicted]} "
                                  f"({view['probabilities'][predicted]:.0%}). Click a map to explain a number."}


@functools.cache
def _drawing_widget_class():
    import anywidget
    import traitlets

    folder = Path(__file__).parent

    class DrawingExplorer(anywidget.AnyWidget):
        """The anywidget behind `drawing_explorer`; its browser half is drawing.js."""

        _esm = (folder / "drawing.js").read_text(encoding="utf-8")
        _css = (folder / "drawing.css").read_text(encoding="utf-8")
        canvas = traitlets.Int(drawing.CANVAS).tag(sync=True)
        pen = traitlets.Float(drawing.PEN).tag(sync=True)
        samples = traitlets.List().tag(sync=True)  # the names of the sample digits, in the drop-down
        strokes = traitlets.List().tag(sync=True)  # from the browser: the drawing, [[x, y], ...] per stroke
        request = traitlets.Int(0).tag(sync=True)  # from the browser: raised with each new drawing
        sample = traitlets.Int(-1).tag(sync=True)  # from the browser: the sample digit chosen instead
        selected = traitlets.Dict().tag(sync=True)  # from the browser: the feature-map pixel clicked
        view = traitlets.Dict().tag(sync=True)  # to the browser: what the network makes of the picture
        explanation = traitlets.Dict().tag(sync=True)  # to the browser: the selected number, written out

        def __init__(self, model, samples: dict, classes):
            super().__init__(samples=list(samples))
            self._model, self._samples, self._classes = model, samples, classes
            self.picture = None  # the current 28x28 picture, as the network gets it
            self.timings: list[float] = []  # milliseconds Python took for each view, the browser's round trip aside
            self.observe(self._drawn, names="request")
            self.observe(self._sampled, names="sample")
            self.observe(self._explain, names="selected")
            self._update("drawing", None, 0)

        def _update(self, source: str, picture, request: int) -> None:
            started = getattr(self, "_started", None) or time.perf_counter()  # from the strokes' arrival, when drawn
            self._started = None
            self.picture = picture
            self.selected = {}
            self.explanation = {}
            if picture is None:
                self.view = {"request": request, "source": source, "side": drawing.SIDE,
                             "message": "Draw a digit in the box (mouse, pen or finger), or choose a sample digit."}
                return
            view = _drawing_view(drawing.network_view(self._model, picture, self._classes), request, source, "")
            self.timings.append(1000 * (time.perf_counter() - started))
            self.view = {**view, "python_ms": round(self.timings[-1], 1)}

        def _drawn(self, change) -> None:
            self._started = time.perf_counter()
            try:
                strokes = self.strokes
                picture = drawing.like_mnist(drawing.rasterise(strokes, self.canvas, self.pen)) if strokes else None
                self._update("drawing", picture, change["new"])
            except ValueError as error:  # an empty drawing (a tap outside the box), say: said, not raised
                self.view = {"request": change["new"], "source": "drawing", "side": drawing.SIDE,
                             "message": str(error)}

        def _sampled(self, change) -> None:
            names = list(self._samples)
            if 0 <= change["new"] < len(names):
                self._update("sample", self._samples[names[change["new"]]], self.request)

        def _explain(self, change) -> None:
            chosen = change["new"]
            if not chosen or self.picture is None:
                return
            try:
                e = drawing.explain_value(self._model, self.picture, chosen["stage"], chosen["channel"], chosen["row"], chosen["col"])
            except (KeyError, ValueError, TypeError) as error:
                self.explanation = {"text": f"That number cannot be explained: {error}"}
                return
            fig = drawing.explanation_figure(e)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", bbox_inches="tight", dpi=80)
            plt.close(fig)
            self.explanation = {"png": base64.b64encode(buffer.getvalue()).decode(), "field": list(e["field"]),
                                "text": drawing.explanation_text(e), "total": e["total"], "value": e["value"]}

    return DrawingExplorer


def _sample_pictures(samples) -> dict:
    if samples is None:
        return {}
    if not isinstance(samples, dict):
        raise TypeError(f"samples must be a dict of name: 28x28 picture (ink 1), got {type(samples).__name__}")
    checked = {}
    for name, picture in samples.items():
        picture = np.asarray(picture.detach().cpu() if isinstance(picture, torch.Tensor) else picture, dtype=np.float32)
        picture = picture[0] if picture.ndim == 3 and picture.shape[0] == 1 else picture
        if picture.shape != (drawing.SIDE, drawing.SIDE):
            raise ValueError(f"samples[{name!r}] must be a 28x28 picture, got shape {picture.shape}")
        checked[str(name)] = picture
    return checked


def drawing_explorer(model, samples: dict | None = None, classes=None) -> Any:
    """Widget: draw a digit with the mouse, a pen or a finger, and watch `model` (a LeNet-like network,
    as notebook 06 trains) take it in: the 28x28 input it gets, its probabilities, the feature maps of
    every stage and the saliency, redrawn while you draw; click a feature map's pixel to see its number
    written out as a sum of products. `samples` (name: 28x28 picture, ink 1) can be chosen instead of
    drawing, with the keyboard too. (In Colab, anywidget switches on Colab's custom widget manager, which
    third-party widgets such as this one need.)"""
    drawing.stages_of(model)  # a model the explorer can write out, or a clear error now
    return _drawing_widget_class()(model, _sample_pictures(samples), classes)
