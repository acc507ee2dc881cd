"""Text in the course's figures is readable: every label, title and number the package draws has a
WCAG 2.1 contrast of at least 4.5:1 with what lies behind it, measured on the rendered figure.

The background of each text is read from a second rendering with all texts hidden (the median colour
of the pixels inside the text's box), so a number on a dark cell of a colour map, a title over an image
or a label inside a coloured box is measured against the colour a reader sees there. The notebooks'
own figures draw their text in the presentation style's default black on white (a hygiene test
below keeps text colours out of them)."""

import re

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
import torch
from helpers import ROOT
from matplotlib.text import Text
from torch import nn

from course_utils import data, plotting, widgets
from course_utils.by_hand import SEED_EXAMPLES
from course_utils.plotting import HEATMAP_CMAP, contrast_ratio, text_colour_on
from course_utils.training import History

matplotlib.use("Agg")

LEAST = 4.5  # WCAG 2.1 AA, normal text


def text_contrasts(fig) -> list[tuple[str, float]]:
    """(text, contrast with its background) for every visible, non-empty text of a figure."""
    fig.canvas.draw()
    layout = fig.get_layout_engine()
    fig.set_layout_engine("none")  # the axes stay where they are when the texts are hidden
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [t.get_window_extent() for t in texts]
    own_box = {id(t): t.get_bbox_patch() for t in texts}
    for t in texts:
        t.set_visible(False)
    fig.canvas.draw()
    behind = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255
    for t in texts:
        t.set_visible(True)
    fig.set_layout_engine(layout)
    height, width = behind.shape[:2]
    found = []
    for t, box in zip(texts, boxes):
        if own_box[id(t)] is not None:  # a text in a box of its own: that box is its background
            background = own_box[id(t)].get_facecolor()[:3]
        else:
            x0, x1 = (int(np.clip(v, 0, width)) for v in (np.floor(box.x0), np.ceil(box.x1)))
            y0, y1 = (int(np.clip(height - v, 0, height)) for v in (np.ceil(box.y1), np.floor(box.y0)))
            if x1 <= x0 or y1 <= y0:
                continue  # outside the canvas: not drawn
            background = np.median(behind[y0:y1, x0:x1].reshape(-1, 3), axis=0)
        found.append((t.get_text(), contrast_ratio(t.get_color(), background)))
    return found


def assert_readable(fig, what: str) -> int:
    measured = text_contrasts(fig)
    plt.close(fig)
    poor = [f"{text!r:.40} at {ratio:.2f}:1" for text, ratio in measured if ratio < LEAST]
    assert not poor, f"{what}: text with less than {LEAST}:1 contrast: {poor}"
    return len(measured)


def test_the_contrast_ratio_is_wcag_s():
    """WCAG's own examples: black on white 21:1, #767676 on white just passes 4.5:1, #777777 just fails."""
    assert contrast_ratio("black", "white") == pytest.approx(21)
    assert contrast_ratio("white", "black") == pytest.approx(21)
    assert contrast_ratio("#767676", "white") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#777777", "white") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("tab:red", "tab:red") == pytest.approx(1)
    assert (text_colour_on("white"), text_colour_on("black"), text_colour_on("#1f77b4")) == ("black", "white", "white")


def test_the_check_finds_text_that_cannot_be_read():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow(np.zeros((4, 4)), cmap="gray", vmin=0, vmax=1)
    ax.text(1.5, 1.5, "dark on dark", color="#222222", ha="center")
    ax.set_title("readable")
    measured = dict(text_contrasts(fig))
    plt.close(fig)
    assert measured["dark on dark"] < 1.5 and measured["readable"] > 15


# One call for each kind of figure the package draws, with the colour maps the course uses.
FIGURES = {
    **{f"show_matrix, {cmap}": (lambda cmap=cmap: plotting.show_matrix(
        np.random.default_rng(0).integers(-9, 10, (5, 6)), cmap=cmap, highlight=(1, 1, 2, 2)).figure)
       for cmap in ("Blues", "Oranges", HEATMAP_CMAP, "gray", "viridis", plotting.DIVERGING_CMAP)},
    "sliding_window_figure": lambda: widgets.sliding_window_figure(*SEED_EXAMPLES["5x5 input, 3x3 kernel"], 1, 1, 7),
    "output_size_figure": lambda: widgets.output_size_figure(9, 3, 2, 1),
    "function_figure": lambda: widgets.function_figure("ReLU", torch.relu),
    "plot_history": lambda: plotting.plot_history(History(epochs=[
        {"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5 + e / 10, "val_loss": 1.2 / e, "val_accuracy": 0.4 + e / 10,
         "seconds": 1.0} for e in (1, 2, 3)])),
    "plot_confusion_matrix": lambda: plotting.plot_confusion_matrix(
        np.random.default_rng(1).integers(0, 10, 500), np.random.default_rng(2).integers(0, 10, 500), [str(d) for d in range(10)]),
    "block_diagram": lambda: plotting.block_diagram([["1x1, 64"], ["1x1, 96", "3x3, 128"], []], "concatenate",
                                                    title="an Inception-style block").figure,
    "show_feature_maps": lambda: plotting.show_feature_maps(torch.rand(8, 6, 6), n=8, ncols=4, title="feature maps"),
    "feature_map_figure": lambda: widgets.feature_map_figure(
        nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU()).eval(), data.sample_image("cat"), "conv", 1, stages={"conv": "0"}),
    "explanation_figure": lambda: _explanation(),
}


def _explanation():
    torch.manual_seed(0)
    dataset = data.PatternPatches(2, seed=1)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 2)).eval()
    return widgets.explanation_figure(model, dataset[0][0], 1, "grad_cam", layer="0", picture=dataset.image(0),
                                      class_names=dataset.classes, box=dataset.box(0))


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_text_the_package_draws_is_readable(name):
    with plt.rc_context(plotting.PRESENTATION_STYLE):
        made = FIGURES[name]()
    fig = made if isinstance(made, plt.Figure) else plt.gcf()
    assert assert_readable(fig, name) > 0, f"{name}: no text measured"


def test_the_notebooks_draw_text_in_the_style_s_colours():
    """A text colour set in a notebook (on a title, a label, a text or an annotation) would escape the
    check above: the notebooks leave text colours to the presentation style."""
    coloured = re.compile(r"\b(text|annotate|set_title|title|suptitle|set_xlabel|set_ylabel|xlabel|ylabel|legend)\([^)]*"
                          r"\b(color|c|labelcolor)=")
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and (coloured.search(cell.source) or "text.color" in cell.source):
                found.append(f"{path.stem}: {cell.source.splitlines()[0][:60]}")
    assert not found, f"cells that set a text colour: {found}"
