"""Figures the notebooks share: images, grids of images, matrices with their numbers, projector style.

`show_matrix` is the picture of every by-hand lesson (notebooks 02 and 03); `show_image(s)` first
appear in notebooks/00_setup.ipynb; `show_filters` and `show_feature_maps` in
notebooks/04_alexnet_filters_feature_maps.ipynb; `block_diagram` in notebooks/05_architectures.ipynb.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.patches import Rectangle

from . import _arguments

__all__ = [
    "show_image", "show_images", "show_matrix", "show_filters", "show_feature_maps", "colour_bar",
    "overlay_colour_bar", "plot_history", "confusion_matrix", "plot_confusion_matrix", "block_diagram",
    "use_presentation_style", "to_displayable", "normalise_each", "PRESENTATION_STYLE", "contrast_ratio",
    "text_colour_on",
]

# Heat maps (saliency, Grad-CAM, occlusion) use a perceptually uniform map that reads the same to
# colour-blind eyes and in grey: dark is little, bright is much. (Not "jet", whose bright bands in the
# middle make edges that are not in the data.) Signed values use DIVERGING_CMAP, centred at zero.
HEATMAP_CMAP = "inferno"
DIVERGING_CMAP = "RdBu_r"

PRESENTATION_STYLE = {
    "figure.figsize": (10.0, 6.0),
    "figure.dpi": 110,
    "font.size": 16,
    "axes.titlesize": 20,
    "axes.labelsize": 18,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
    "legend.fontsize": 15,
    "lines.linewidth": 3.0,
    "lines.markersize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def _to_numpy(array: Any, name: str) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    try:
        return np.asarray(array)
    except Exception as error:  # noqa: BLE001 - whatever np.asarray fails with, the message is the same
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(array).__name__}") from error


def _figure_size(name: str, value: Any) -> float:
    """Inches for one picture of a grid: enough to see, small enough to fit on a screen."""
    return _arguments.number(name, value, 0, 20, above=True)


def _colour_map(name: str, value: Any, optional: bool = True):
    if (value is None and optional) or isinstance(value, Colormap):
        return value
    if not isinstance(value, str) or value not in mpl.colormaps:
        raise ValueError(f"{name} must be the name of a matplotlib colour map, such as 'gray' or 'viridis', got {value!r}")
    return value


def _limit(name: str, value: Any) -> float | None:
    return None if value is None else _arguments.number(name, value)


def _title(name: str, value: Any) -> str | None:
    return _arguments.text(name, value)


def to_displayable(image: Any, name: str = "image") -> np.ndarray:
    """Return `image` as an HxW or HxWx3 array that `imshow` shows correctly.

    Accepts HxW, HxWxC (C = 1, 3, 4) and CxHxW (C = 1 or 3, as PyTorch stores images), with an
    optional leading batch dimension of 1. uint8 stays as it is; floats already in [0, 1] stay;
    other floats (normalised images, filters, feature maps) are rescaled to [0, 1] by min and max.
    """
    name = _arguments.text("name", name, optional=False)
    array = _to_numpy(image, name)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3, 4):
        array = np.transpose(array, (1, 2, 0))  # CHW -> HWC
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(
            f"{name} has shape {tuple(array.shape)}; expected HxW, HxWx3, HxWx4 or 3xHxW "
            f"(a single image, optionally with a batch dimension of 1)"
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if np.isinf(array).any():
        raise ValueError(f"{name} holds infinite values, which no colour can show; clip them first (np.clip)")
    if not np.isfinite(array).any():
        raise ValueError(f"{name} holds no number to show: every value is NaN")
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if 0.0 <= low and high <= 1.0:
        return array
    if high == low:
        return np.zeros_like(array)
    return (array - low) / (high - low)


def show_image(image: Any, title: str | None = None, ax: plt.Axes | None = None, cmap: str | None = None,
               vmin: float | None = None, vmax: float | None = None) -> plt.Axes:
    """Draw one image (array or tensor, HWC or CHW) without axes ticks; return its Axes.

    A 2-D image is drawn in `cmap` (grey by default) from `vmin` to `vmax` (its own range unless given).
    """
    title, cmap = _title("title", title), _colour_map("cmap", cmap)
    vmin, vmax = _limit("vmin", vmin), _limit("vmax", vmax)
    array = to_displayable(image)
    if array.ndim == 2 and array.dtype != np.uint8:
        # A one-channel map is coloured by imshow from its own range anyway: drawing the values as they
        # are (not rescaled to [0, 1]) keeps a colour bar in the map's units.
        raw = np.squeeze(_to_numpy(image, "image")).astype(np.float32)
        array = raw if raw.shape == array.shape else array
    if ax is None:
        _, ax = plt.subplots()
    if cmap is None and array.ndim == 2:
        cmap = "gray"
    ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    cmap: str | None = None,
    suptitle: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> plt.Figure:
    """Draw images in a grid of `ncols` columns (a batch tensor NxCxHxW works too); return the figure.
    `vmin` and `vmax` give 2-D images one shared colour scale (each its own range otherwise)."""
    if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim >= 3:
        images = list(images)  # a batch
    if isinstance(images, (str, bytes, torch.Tensor, np.ndarray)) or not hasattr(images, "__iter__"):
        raise TypeError(f"images must be a list of images (arrays or tensors) or a batch tensor, got {type(images).__name__}")
    images = list(images)
    if not images:
        raise ValueError("images is empty; pass at least one image")
    ncols = _arguments.whole("ncols", ncols, 1, 100)
    size, suptitle = _figure_size("size", size), _title("suptitle", suptitle)
    if titles is not None:
        titles = _arguments.sequence("titles", titles, "titles (text), one per image", empty=True)
        if not all(isinstance(t, str) for t in titles):
            raise TypeError(f"titles must be text, one per image, got {titles!r:.80}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries but there are {len(images)} images; give one title per image")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index < len(images):
            try:
                show_image(images[index], title=None if titles is None else titles[index], ax=ax, cmap=cmap,
                           vmin=vmin, vmax=vmax)
            except (TypeError, ValueError) as error:  # say which of the images it was
                plt.close(fig)
                raise type(error)(f"images[{index}]: {error}") from None
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_matrix(
    matrix: Any,
    ax: plt.Axes | None = None,
    title: str | None = None,
    highlight: tuple[int, int, int, int] | None = None,
    highlight_color: str = "tab:red",
    fmt: str | None = None,
    cmap: str = "Blues",
    cell_size: float = 0.8,
) -> plt.Axes:
    """Draw a 2-D matrix as a grid with the number written in each cell; return its Axes.

    `highlight=(row, col, height, width)` outlines a window, such as the patch a kernel covers.
    """
    title, cmap = _title("title", title), _colour_map("cmap", cmap, optional=False)
    cell_size = _figure_size("cell_size", cell_size)
    if fmt is not None:
        try:
            if not isinstance(fmt, str):
                raise TypeError
            fmt.format(1.5)
        except (TypeError, ValueError, IndexError, KeyError):
            raise ValueError(f"fmt must be a format for one number, such as '{{:.2f}}', got {fmt!r}") from None
    if highlight is not None:
        if not isinstance(highlight, (tuple, list)) or len(highlight) != 4:
            raise ValueError(f"highlight must be (row, col, height, width), got {highlight!r}")
        highlight = tuple(_arguments.whole(f"highlight's {what}", v, 0, 100_000)
                          for what, v in zip(("row", "col", "height", "width"), highlight))
    array = _to_numpy(matrix, "matrix")
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ValueError(f"matrix must be 1-D or 2-D, got shape {tuple(array.shape)}; pick one channel first")
    if array.size == 0:
        raise ValueError("matrix is empty; it needs at least one row and one column")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise TypeError(f"matrix must hold numbers, got dtype {array.dtype}")
    rows, cols = array.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(max(cols * cell_size, 1.2), max(rows * cell_size, 1.2)))
    values = array.astype(float)
    finite = values[np.isfinite(values)]  # NaN cells are drawn empty (an output not computed yet)
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low if high > low else 1.0
    # The colour range stretched past the largest value: light cells, on which black numbers read best.
    shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=high + 0.6 * span)
    if fmt is None:
        integral = np.allclose(finite, np.round(finite))
        fmt = "{:.0f}" if integral else "{:.2f}"
    for r in range(rows):
        for c in range(cols):
            if np.isfinite(values[r, c]):
                ax.text(c, r, fmt.format(values[r, c] + 0.0), ha="center", va="center",  # + 0.0: -0 as 0
                        color=text_colour_on(shown.cmap(shown.norm(values[r, c]))))  # a dark map's low cells: white
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="gray", linewidth=1)
    ax.grid(which="major", visible=False)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if highlight is not None:
        row, col, height, width = highlight
        if height < 1 or width < 1 or row < 0 or col < 0 or row + height > rows or col + width > cols:
            raise ValueError(
                f"highlight={highlight!r} does not fit inside a {rows}x{cols} matrix; "
                f"row + height must be <= {rows} and col + width <= {cols}"
            )
        ax.add_patch(
            Rectangle((col - 0.5, row - 0.5), width, height, fill=False, edgecolor=highlight_color, linewidth=3.5)
        )
    if title is not None:
        ax.set_title(title)
    return ax


def _luminance(colour: Any) -> float:
    """WCAG 2.1's relative luminance of a colour (0 black, 1 white)."""
    rgb = np.asarray(mpl.colors.to_rgb(colour))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(foreground: Any, background: Any) -> float:
    """WCAG 2.1's contrast ratio of two colours, from 1 (the same) to 21 (black on white); text needs
    at least 4.5 (3 when large)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(background: Any) -> str:
    """"black" or "white", whichever reads better on `background` (higher WCAG contrast)."""
    return "black" if contrast_ratio("black", background) >= contrast_ratio("white", background) else "white"


def use_presentation_style(scale: float = 1.0) -> dict[str, Any]:
    """Make figures large and readable on a projector (fonts times `scale`); return the settings applied."""
    scale = _arguments.number("scale", scale, 0, 10, above=True)
    settings = dict(PRESENTATION_STYLE)
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
        settings[key] = settings[key] * scale
    mpl.rcParams.update(settings)
    return settings


def normalise_each(filters: np.ndarray) -> np.ndarray:
    """Rescale every item of a stack (first axis) to [0, 1] by its own min and max."""
    filters = _to_numpy(filters, "filters")
    if filters.ndim < 2 or filters.size == 0 or not np.issubdtype(filters.dtype, np.number):
        raise ValueError(f"filters must be a stack of numbers (first axis: one item each), got {filters.dtype} of "
                         f"shape {filters.shape}")
    if not np.isfinite(filters).all():
        raise ValueError("filters holds NaN or infinite values; each item is rescaled by its minimum and maximum")
    flat = filters.reshape(len(filters), -1).astype(np.float32)
    low = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - low
    span[span == 0] = 1.0
    return ((flat - low) / span).reshape(filters.shape)


def show_filters(weight: Any, n: int | None = None, ncols: int = 8, size: float = 1.1,
                 title: str | None = None) -> plt.Figure:
    """Draw conv filters (out_channels x in_channels x kh x kw), each rescaled to be visible on its own.

    Filters with 3 input channels are drawn in colour (as RGB), others show their first channel.
    """
    array = _to_numpy(weight, "weight")
    if array.ndim != 4:
        raise ValueError(f"weight must be out_channels x in_channels x height x width, got shape {tuple(array.shape)}")
    count = len(array) if n is None else _arguments.whole("n", n, 1, max(1, len(array)))
    array = normalise_each(array[:count])
    images = [np.transpose(f, (1, 2, 0)) if f.shape[0] == 3 else f[0] for f in array]
    return show_images(images, titles=[str(i) for i in range(count)], ncols=ncols, size=size, suptitle=title)


def show_feature_maps(maps: Any, n: int = 32, ncols: int = 8, size: float = 1.4, title: str | None = None,
                      cmap: str = "gray", scale: str = "shared") -> plt.Figure:
    """Draw the first `n` channels of a feature map (channels x height x width, or a batch of one),
    with a colour bar.

    `scale="shared"` draws every channel on one colour scale, so that a weak channel looks weak;
    `scale="each"` stretches each channel to its own minimum and maximum, to show the pattern of a weak
    one (the colour bar then runs from each map's minimum, 0, to its maximum, 1).
    """
    if not isinstance(scale, str) or scale not in ("shared", "each"):
        raise ValueError(f'scale must be "shared" (one colour scale for all channels) or "each" (each channel '
                         f'stretched to its own range), got {scale!r}')
    array = _to_numpy(maps, "maps")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"maps must be channels x height x width (or 1 x channels x height x width), got shape {tuple(array.shape)}")
    count = min(_arguments.whole("n", n, 1, 100_000), len(array))
    if count < 1:
        raise ValueError("maps has no channel to show")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array[:count]).all():
        raise ValueError(f"maps must hold finite numbers, got {array.dtype} with NaN or infinite values")
    array = array[:count].astype(np.float32)
    if scale == "each":
        array, low, high, label = normalise_each(array), 0.0, 1.0, "each map: its minimum (0) to its maximum (1)"
    else:
        low, high, label = float(array.min()), float(array.max()), "activation"
        high = high if high > low else low + 1.0
    fig = show_images(list(array), titles=[str(i) for i in range(count)], ncols=ncols, size=size, cmap=cmap,
                      suptitle=title, vmin=low, vmax=high)
    colour_bar(fig, fig.axes[0].images[0], label, axes=fig.axes)
    return fig


def colour_bar(fig: plt.Figure, shown: Any, label: str, axes: Any = None) -> Any:
    """Add a colour bar for `shown` (what imshow returned) beside `axes` (default: the one it is drawn in)."""
    axes = shown.axes if axes is None else axes
    bar = fig.colorbar(shown, ax=axes, shrink=0.85, pad=0.02)
    bar.set_label(label)
    bar.ax.locator_params(nbins=5)
    bar.formatter.set_powerlimits((-2, 3))  # 1.2e-4 as 1.2 with "1e-4" above the bar, not 0.000120 at every tick
    bar.update_ticks()
    return bar


def overlay_colour_bar(fig: plt.Figure, axes: Any, cmap: str = HEATMAP_CMAP) -> Any:
    """The colour bar of heat maps laid over images (`explain.overlay`), which scales each map from its
    minimum (0) to its maximum (1)."""
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.85, pad=0.02)
    bar.set_label("map: 0 at its minimum,\n1 at its maximum")  # two lines: no taller than the figure
    return bar


def plot_history(history) -> plt.Figure:
    """Loss and accuracy per epoch, training and validation, side by side; return the figure."""
    rows = getattr(history, "epochs", None)
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "epoch" in row for row in rows):
        raise TypeError(f"history must be what training.fit returns (a History), got {type(history).__name__}")
    epochs = [row["epoch"] for row in history.epochs]
    if not epochs:
        raise ValueError("history has no epochs to plot; train for at least one epoch first")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        ax.plot(epochs, [row[f"train_{key}"] for row in history.epochs], "o-", label="training")
        if any(row[f"val_{key}"] is not None for row in history.epochs):
            ax.plot(epochs, [row[f"val_{key}"] for row in history.epochs], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(targets: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """Counts[i, j] = how many examples of class i were predicted as class j (scikit-learn's
    `confusion_matrix` over the classes 0 to num_classes - 1, after checking the inputs)."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    num_classes = _arguments.whole("num_classes", num_classes, 1, 10_000)
    targets, predictions = _class_indices("targets", targets), _class_indices("predictions", predictions)
    if targets.shape != predictions.shape:
        raise ValueError(f"targets and predictions differ in length: {targets.size} and {predictions.size}")
    for name, values in (("targets", targets), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must be class indices from 0 to {num_classes - 1}")
    if targets.size == 0:
        return np.zeros((num_classes, num_classes), dtype=int)
    return sklearn_confusion_matrix(targets, predictions, labels=np.arange(num_classes)).astype(int)


def _class_indices(name: str, values: Any) -> np.ndarray:
    array = _to_numpy(values, name)
    if not np.issubdtype(array.dtype, np.number):  # booleans and text are no class indices
        raise TypeError(f"{name} must be class indices (whole numbers such as 0, 1, 2), got {array.dtype} values")
    if array.size and (not np.isfinite(array).all() or not np.array_equal(array, np.round(array))):
        raise ValueError(f"{name} must be class indices (whole numbers such as 0, 1, 2), not fractions, NaN or infinity")
    return array.astype(np.int64).ravel()


def plot_confusion_matrix(targets: Any, predictions: Any, class_names: Sequence[str]) -> plt.Figure:
    """The confusion matrix with counts written in the cells (rows: true class, columns: predicted)."""
    class_names = _arguments.sequence("class_names", class_names, "class names (text)")
    if not all(isinstance(name, str) for name in class_names):
        raise TypeError(f"class_names must be text, one name per class, got {class_names!r:.80}")
    counts = confusion_matrix(targets, predictions, len(class_names))
    size = max(3.5, 0.45 * len(class_names) + 1.5)  # 10 classes: 6 inches, which a slide shows at full size
    fig, ax = plt.subplots(figsize=(size, size))
    show_matrix(counts, ax=ax, cmap="Blues")
    ax.set_xticks(range(len(class_names)), labels=class_names, rotation=45 if len(class_names) > 10 else 0)
    ax.set_yticks(range(len(class_names)), labels=class_names)
    ax.tick_params(which="major", labelbottom=True, labelleft=True)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"accuracy {accuracy:.4f} on {counts.sum()} examples")
    fig.tight_layout()
    return fig


def block_diagram(branches: Sequence[Sequence[str]], merge: str, title: str | None = None, top: str = "input",
                  ax: plt.Axes | None = None) -> plt.Axes:
    """Draw a block of a network as boxes and arrows: `top` feeds every branch (a column of layer
    names, read downwards) and the branches meet in `merge` (such as "concatenate" or "add").

    An empty branch is drawn as a plain line: the identity shortcut of a residual block."""
    example = "such as [['1x1, 64'], ['3x3, 128']]"
    branches = _arguments.sequence("branches", branches, f"branches, each a list of layer names, {example}")
    if any(isinstance(branch, str) or not isinstance(branch, (list, tuple)) or not all(isinstance(name, str) for name in branch)
           for branch in branches):
        raise ValueError(f"branches is a list of branches, each a list of layer names (text), {example}")
    merge, top = _arguments.text("merge", merge, optional=False), _arguments.text("top", top, optional=False)
    title = _title("title", title)
    depth = max(1, max(len(branch) for branch in branches))
    longest = max((len(name) for branch in branches for name in branch), default=0)
    width, gap, height = max(2.6, 0.12 * longest), 0.5, 0.6  # a box wide enough for its longest name
    total = len(branches) * width + (len(branches) - 1) * gap
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.25 * total), 0.75 * (depth + 2) + 0.6))
    rows = depth + 2  # the input, the branches' layers, the merge

    def box(x: float, row: int, text: str, colour: str, box_width: float = width) -> None:
        y = rows - 1 - row
        ax.add_patch(Rectangle((x - box_width / 2, y - height / 2), box_width, height, facecolor=colour,
                               edgecolor="black", linewidth=1.2))
        ax.text(x, y, text, ha="center", va="center", fontsize=11)

    def arrow(x0: float, row0: float, x1: float, row1: float) -> None:
        ax.annotate("", xy=(x1, rows - 1 - row1 + height / 2), xytext=(x0, rows - 1 - row0 - height / 2),
                    arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2})

    centre = total / 2
    box(centre, 0, top, "#eeeeee", box_width=total)
    box(centre, rows - 1, merge, "#fde0b6", box_width=total)
    for index, branch in enumerate(branches):
        x = width / 2 + index * (width + gap)
        if not branch:  # the identity: one line from the input to the merge
            arrow(centre if len(branches) == 1 else x, 0, x, rows - 1)
            ax.text(x + 0.1, (rows - 1) / 2, "identity", ha="left", va="center", fontsize=10, style="italic")
            continue
        arrow(centre, 0, x, 1)
        for row, name in enumerate(branch, start=1):
            box(x, row, name, "#cfe3f6")
            if row > 1:
                arrow(x, row - 1, x, row)
        arrow(x, len(branch), x, rows - 1)
    ax.set_xlim(-0.3, total + 0.3)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
