"""course_utils.drawing and widgets.drawing_explorer: a drawing becomes MNIST's 28x28 as MNIST was made,
the network's view is the network's, and each explained number is the sum that the network computed."""

import json

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from course_utils import drawing, explain, models, shapes, widgets
from course_utils.device import seed_everything

pytestmark = pytest.mark.usefixtures("close_figures")
STAGES = ("conv1", "pool1", "conv2", "pool2")


@pytest.fixture(scope="module")
def lenet():
    seed_everything(0)
    return models.LeNet5().eval()


def _seven():
    """A hand-made "7": a bar along the top and a slanted stroke down, in canvas pixels."""
    return [[(60, 50), (220, 50), (130, 250)]]


def test_a_stroke_is_drawn_with_a_round_pen_of_the_given_width():
    ink = drawing.rasterise([[(40, 140), (240, 140)]])
    assert ink.shape == (drawing.CANVAS, drawing.CANVAS) and ink.dtype == np.float32
    column = np.nonzero(ink[:, 140] > 0.5)[0]
    assert abs(len(column) - drawing.PEN) <= 1 and abs(column.mean() - 140) <= 0.5
    assert ink[140, 40 - drawing.PEN // 2 + 1] > 0.5 and ink[140, 240 + drawing.PEN // 2 - 1] > 0.5  # round ends
    assert ink[:100].max() == 0 and ink[180:].max() == 0
    dot = drawing.rasterise([[(100, 100)]], width=20)
    assert abs((dot > 0.5).sum() - np.pi * 10**2) < 0.1 * np.pi * 10**2  # one tap: a disc


def test_like_mnist_scales_the_bounding_box_to_20_and_centres_the_mass():
    rng = np.random.default_rng(0)
    for _ in range(30):
        picture = np.zeros((280, 280))
        top, left = rng.integers(0, 150, size=2)
        h, w = rng.integers(20, 130, size=2)
        picture[top : top + h, left : left + w] = rng.uniform(0.3, 1, size=(h, w))
        framed = drawing.like_mnist(picture)
        rows, cols = np.nonzero(framed > 0)
        assert framed.shape == (28, 28)
        assert max(np.ptp(rows) + 1, np.ptp(cols) + 1) == 20  # the longer side fills the 20-pixel box
        assert abs((np.ptp(rows) + 1) / (np.ptp(cols) + 1) - h / w) < 0.25 * max(h / w, 1)  # the shape is kept
        centre = ndimage.center_of_mass(framed)
        assert abs(centre[0] - 13.5) <= 0.5 and abs(centre[1] - 13.5) <= 0.5, centre


def test_like_mnist_keeps_every_stroke_inside_the_image():
    """A digit whose mass sits far off its box's centre (a thick bar on top of a hairline) would be pushed
    off the image by centring its mass: it is shifted only as far as the box allows."""
    picture = np.zeros((200, 200))
    picture[0:40, :] = 1
    picture[40:200, 99:101] = 0.5
    framed = drawing.like_mnist(picture)
    assert np.isclose(framed.sum(), drawing.like_mnist(np.pad(picture, 30)).sum())
    assert framed[0].sum() > 0 or framed[-1].sum() > 0  # pressed against an edge, none of it lost
    rows = np.nonzero(framed.sum(axis=1))[0]
    assert np.ptp(rows) + 1 == 20


def test_a_drawn_seven_looks_like_an_mnist_digit():
    framed = drawing.like_mnist(drawing.rasterise(_seven()))
    assert 0.05 < (framed > 0.5).mean() < 0.3  # MNIST digits cover roughly a tenth to a quarter of the image
    rows = np.nonzero(framed.sum(axis=1))[0]
    assert np.ptp(rows) + 1 == 20  # as tall as MNIST's box; its top-heavy mass puts it below the middle
    assert rows[0] > 27 - rows[-1]
    image = drawing.to_input(framed)
    assert image.shape == (1, 28, 28)
    assert torch.isclose(image.min(), torch.tensor(-0.1307 / 0.3081), atol=1e-4)


@pytest.mark.parametrize("bad, message", [
    ("a 7", "strokes must be a list of strokes"),
    ([[(1, 2, 3)]], r"strokes\[0\]\[0\] must be an \(x, y\) pair"),
    ([[(1, float("nan"))]], "finite"),
    ([5], r"strokes\[0\] must be a list"),
])
def test_bad_strokes_name_what_is_wrong(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        drawing.rasterise(bad)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((280, 280)), "the drawing is empty"),
    (np.ones((3, 28, 28)), r"2-D array .* got shape \(3, 28, 28\)"),
    (np.full((28, 28), np.nan), "NaN"),
    ("seven", "2-D array"),
])
def test_bad_pictures_get_a_clear_message(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        drawing.like_mnist(bad)


def test_to_input_wants_28x28():
    with pytest.raises(ValueError, match="picture must be 28x28 .* got 20x20"):
        drawing.to_input(np.zeros((20, 20)))


def test_the_view_is_the_network_s_own(lenet):
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    view = drawing.network_view(lenet, picture)
    image = drawing.to_input(picture)
    with torch.no_grad():
        expected = torch.softmax(lenet(image[None]), dim=1)[0]
    assert np.allclose(view["probabilities"], expected.numpy(), atol=1e-6)
    assert view["predicted"] == int(expected.argmax())
    assert {name: maps.shape for name, maps in view["stages"].items()} == {
        "conv1": (6, 28, 28), "pool1": (6, 14, 14), "conv2": (16, 10, 10), "pool2": (16, 5, 5)}
    x = image[None]
    with torch.no_grad():
        for name, layers in zip(STAGES, ([0, 1], [2], [3, 4], [5])):
            for index in layers:
                x = lenet.features[index](x.clone())
            assert np.allclose(view["stages"][name], x[0].numpy(), atol=1e-6), name
    assert np.allclose(view["saliency"], explain.saliency(lenet, image, view["predicted"]).numpy())


@pytest.mark.parametrize("stage", STAGES)
def test_each_explained_number_is_the_network_s_number(lenet, stage):
    """Random pixels of every stage: the sum of the products plus the bias (a convolution, then its ReLU)
    or the window's largest number (pooling) equals the network's activation; the receptive field has
    the size shapes.receptive_field gives, and pixels outside it cannot change the number."""
    rng = np.random.default_rng(STAGES.index(stage))
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    maps = drawing.network_view(lenet, picture)["stages"][stage]
    upto = {"conv1": 1, "pool1": 3, "conv2": 4, "pool2": 6}[stage]
    full_field = shapes.receptive_field(lenet.features[:upto])
    for _ in range(8):
        channel, row, col = (int(rng.integers(n)) for n in maps.shape)
        e = drawing.explain_value(lenet, picture, stage, channel, row, col)
        assert np.isclose(e["value"], maps[channel, row, col], atol=1e-6)
        made = max(e["total"], 0.0) if e["kind"] == "conv" else e["total"]
        assert np.isclose(made, e["value"], atol=1e-5), e
        if e["kind"] == "conv":
            assert np.isclose(e["products"].sum() + e["bias"], e["total"])
            assert e["patch"].shape == e["kernel"].shape == (lenet.features[0 if stage == "conv1" else 3].in_channels, 5, 5)
        top, bottom, left, right = e["field"]
        unclipped = top > 0 and left > 0 and bottom < 27 and right < 27
        if unclipped:
            assert (bottom - top + 1, right - left + 1) == (full_field, full_field)
        outside = picture.copy()
        mask = np.ones_like(outside, dtype=bool)
        mask[top : bottom + 1, left : right + 1] = False
        outside[mask] = rng.uniform(0, 1, size=mask.sum())
        changed = drawing.explain_value(lenet, outside, stage, channel, row, col)
        assert np.isclose(changed["value"], e["value"], atol=1e-5), "a pixel outside the field changed the number"


def test_a_convolution_s_sum_is_f_conv2d_s(lenet):
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    image = drawing.to_input(picture)[None]
    with torch.no_grad():
        before_relu = F.conv2d(image, lenet.features[0].weight, lenet.features[0].bias, padding=2)[0]
    for channel, row, col in [(0, 0, 0), (3, 27, 27), (5, 14, 9), (1, 0, 27)]:
        e = drawing.explain_value(lenet, picture, "conv1", channel, row, col)
        assert np.isclose(e["total"], float(before_relu[channel, row, col]), atol=1e-5)


def test_explain_value_names_a_bad_position(lenet):
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    with pytest.raises(ValueError, match="stage must be one of conv1, pool1, conv2, pool2"):
        drawing.explain_value(lenet, picture, "conv9", 0, 0, 0)
    with pytest.raises(ValueError, match="channel must be a whole number from 0 to 15"):
        drawing.explain_value(lenet, picture, "conv2", 16, 0, 0)
    with pytest.raises(ValueError, match="row must be a whole number from 0 to 4"):
        drawing.explain_value(lenet, picture, "pool2", 0, 5, 0)


def test_models_the_explorer_cannot_write_out_are_refused_clearly():
    with pytest.raises(ValueError, match="without batch_norm"):
        drawing.stages_of(models.LeNet5(batch_norm=True))
    with pytest.raises(ValueError, match="must have a `features` nn.Sequential"):
        drawing.stages_of(nn.Linear(784, 10))
    with pytest.raises(ValueError, match="without batch_norm"):
        widgets.drawing_explorer(models.LeNet5(batch_norm=True))


def test_the_figures_show_every_stage_and_the_numbers(lenet):
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    fig = widgets.drawing_figure(lenet, picture)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["conv1: 6 maps of 28x28", "pool1: 6 maps of 14x14", "conv2: 16 maps of 10x10", "pool2: 16 maps of 5x5"]
    e = drawing.explain_value(lenet, picture, "conv1", 2, 10, 14)
    fig = drawing.explanation_figure(e)
    products = fig.axes[3]
    assert products.get_title().endswith(f"sum = {e['products'][0].sum():.2f}")
    assert f"{e['total']:.3f}" in fig._suptitle.get_text().replace("\n", " ")


# ----------------------------------------------------------------------------- the widget (Python's half)
def test_drawing_explorer_answers_each_drawing(lenet):
    seed_everything(0)
    sample = drawing.like_mnist(drawing.rasterise([[(140, 40), (140, 240)]]))
    explorer = widgets.drawing_explorer(lenet, samples={"a one": sample})
    assert explorer.samples == ["a one"]
    assert "Draw a digit" in explorer.view["message"] and "stages" not in explorer.view
    explorer.strokes = [list(map(list, stroke)) for stroke in _seven()]
    explorer.request = 1
    view = explorer.view
    picture = drawing.like_mnist(drawing.rasterise(_seven()))
    expected = drawing.network_view(lenet, picture)
    assert view["request"] == 1 and view["source"] == "drawing"
    assert view["predicted"] == expected["predicted"] and f"says {expected['predicted']}" in view["message"]
    for stage in view["stages"]:  # the levels the browser draws give back the maps, to within a level
        maps = expected["stages"][stage["name"]]
        levels = np.array(stage["data"]).reshape(maps.shape)
        assert levels.min() >= 0 and levels.max() == 255
        assert np.allclose(stage["low"] + levels / 255 * (stage["high"] - stage["low"]), maps,
                           atol=(stage["high"] - stage["low"]) / 255)
    assert len(json.dumps(view)) < 200_000  # what goes to the browser for each stroke
    explorer.selected = {"stage": "conv2", "channel": 3, "row": 4, "col": 5}
    e = drawing.explain_value(lenet, picture, "conv2", 3, 4, 5)
    assert explorer.explanation["value"] == pytest.approx(e["value"]) and explorer.explanation["png"]
    assert explorer.explanation["field"] == list(e["field"]) and "plus the bias" in explorer.explanation["text"]
    explorer.sample = 0
    assert explorer.view["source"] == "sample" and explorer.explanation == {}
    assert explorer.view["predicted"] == drawing.network_view(lenet, sample)["predicted"]


def test_drawing_explorer_says_what_is_wrong_instead_of_raising(lenet):
    explorer = widgets.drawing_explorer(lenet)
    explorer.strokes = [[[-50, -50]]]  # a tap outside the canvas: nothing drawn
    explorer.request = 1
    assert explorer.view["message"].startswith("the drawing is empty") and explorer.view["request"] == 1
    explorer.strokes = [[[140, 40], [140, 240]]]
    explorer.request = 2
    explorer.selected = {"stage": "conv7", "channel": 0, "row": 0, "col": 0}
    assert explorer.explanation["text"].startswith("That number cannot be explained: stage must be one of")
    with pytest.raises(ValueError, match=r"samples\['x'\] must be a 28x28 picture"):
        widgets.drawing_explorer(lenet, samples={"x": np.zeros((8, 8))})
