"""course_utils.plotting: what is drawn matches the data, and bad input is named."""

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from course_utils import plotting

pytestmark = pytest.mark.usefixtures("close_figures")


def _cell_texts(ax):
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 7), (6, 2)])
def test_show_matrix_writes_every_number_in_its_cell(shape):
    rng = np.random.default_rng(sum(shape))
    matrix = rng.integers(-20, 20, size=shape)
    ax = plotting.show_matrix(matrix)
    texts = _cell_texts(ax)
    assert len(texts) == matrix.size
    for (r, c), value in np.ndenumerate(matrix):
        assert texts[(r, c)] == str(value)


def test_show_matrix_formats_fractions_and_accepts_tensors():
    ax = plotting.show_matrix(torch.tensor([[0.5, 1.25], [2.0, -3.0]]))
    assert _cell_texts(ax) == {(0, 0): "0.50", (0, 1): "1.25", (1, 0): "2.00", (1, 1): "-3.00"}


def test_show_matrix_outlines_the_highlighted_window():
    ax = plotting.show_matrix(np.arange(25).reshape(5, 5), highlight=(1, 2, 3, 2))
    (patch,) = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert patch.get_xy() == (1.5, 0.5)  # column 2 and row 1, at the cell's corner
    assert (patch.get_width(), patch.get_height()) == (2, 3)


@pytest.mark.parametrize("highlight", [(0, 0, 4, 1), (2, 2, 2, 2), (-1, 0, 1, 1), (0, 0, 0, 1), (0, 0, 1)])
def test_show_matrix_rejects_a_window_that_does_not_fit(highlight):
    with pytest.raises(ValueError, match="highlight"):
        plotting.show_matrix(np.zeros((3, 3)), highlight=highlight)


def test_show_matrix_rejects_three_dimensions():
    with pytest.raises(ValueError, match=r"matrix must be 1-D or 2-D, got shape \(2, 3, 3\)"):
        plotting.show_matrix(np.zeros((2, 3, 3)))


def test_show_image_shows_uint8_pixels_unchanged():
    image = np.random.default_rng(0).integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    ax = plotting.show_image(image, title="photo")
    shown = ax.get_images()[0].get_array()
    assert np.array_equal(np.asarray(shown), image)
    assert ax.get_title() == "photo"


def test_show_image_moves_pytorch_channels_last_and_rescales():
    tensor = torch.randn(3, 8, 5) * 4  # a normalised image: values outside [0, 1]
    shown = np.asarray(plotting.show_image(tensor).get_images()[0].get_array())
    assert shown.shape == (8, 5, 3)
    assert shown.min() == pytest.approx(0.0)
    assert shown.max() == pytest.approx(1.0)
    expected = tensor.permute(1, 2, 0).numpy()
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    assert np.allclose(shown, expected, atol=1e-6)


def test_show_image_gray_and_batch_of_one():
    ax = plotting.show_image(torch.rand(1, 1, 6, 6))
    image = ax.get_images()[0]
    assert np.asarray(image.get_array()).shape == (6, 6)
    assert image.get_cmap().name == "gray"


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (8, 8, 2), (5,)])
def test_show_image_rejects_shapes_that_are_not_one_image(shape):
    with pytest.raises(ValueError, match=r"image has shape"):
        plotting.show_image(np.zeros(shape))


def test_show_images_grid_and_titles():
    batch = torch.rand(10, 3, 6, 6)
    fig = plotting.show_images(batch, titles=[str(i) for i in range(10)], ncols=4)
    axes = fig.get_axes()
    assert len(axes) == 12  # 3 rows of 4; the last two empty
    assert [ax.get_title() for ax in axes[:10]] == [str(i) for i in range(10)]
    assert all(not ax.get_images() and not ax.axison for ax in axes[10:])


def test_show_images_checks_its_arguments():
    with pytest.raises(ValueError, match="titles has 1 entries but there are 2 images"):
        plotting.show_images([np.zeros((4, 4))] * 2, titles=["a"])
    with pytest.raises(ValueError, match="images is empty"):
        plotting.show_images([])
    with pytest.raises(ValueError, match="ncols"):
        plotting.show_images([np.zeros((4, 4))], ncols=0)


def test_presentation_style_enlarges_fonts():
    with matplotlib.rc_context():
        applied = plotting.use_presentation_style(scale=1.5)
        assert matplotlib.rcParams["font.size"] == pytest.approx(24.0) == applied["font.size"]
        assert matplotlib.rcParams["figure.figsize"] == [10.0, 6.0]
    with pytest.raises(ValueError, match="scale"):
        plotting.use_presentation_style(scale=0)


def test_show_matrix_leaves_nan_cells_empty():
    ax = plotting.show_matrix(np.array([[1.0, np.nan], [np.nan, 4.0]]))
    assert _cell_texts(ax) == {(0, 0): "1", (1, 1): "4"}


def test_show_filters_draws_each_filter_rescaled_in_colour():
    weight = torch.randn(10, 3, 5, 5)
    fig = plotting.show_filters(weight, n=6, ncols=3)
    axes_with_images = [ax for ax in fig.axes if ax.get_images()]
    assert len(axes_with_images) == 6
    first = np.asarray(axes_with_images[0].get_images()[0].get_array())
    expected = weight[0].permute(1, 2, 0).numpy()
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    assert first.shape == (5, 5, 3)
    assert np.allclose(first, expected, atol=1e-6)


def test_show_filters_gray_for_other_channel_counts_and_checks_n():
    fig = plotting.show_filters(torch.randn(4, 16, 3, 3))
    assert np.asarray(fig.axes[0].get_images()[0].get_array()).shape == (3, 3)
    with pytest.raises(ValueError, match="n must be a whole number from 1 to 4"):
        plotting.show_filters(torch.randn(4, 3, 3, 3), n=5)
    with pytest.raises(ValueError, match="weight must be"):
        plotting.show_filters(torch.randn(4, 3, 3))


def _colour_bar_label(fig):
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1, "one colour bar"
    return bars[0].get_ylabel()


def test_show_feature_maps_first_n_channels_on_one_scale_with_a_colour_bar():
    maps = torch.randn(1, 64, 13, 13)
    maps[0, 5] *= 0.01  # a weak channel
    fig = plotting.show_feature_maps(maps, n=32)
    drawn = [ax for ax in fig.axes if ax.get_images() and ax.get_label() != "<colorbar>"]
    assert len(drawn) == 32
    assert [ax.get_title() for ax in drawn[:3]] == ["0", "1", "2"]
    low, high = float(maps[0, :32].min()), float(maps[0, :32].max())
    for ax, channel in zip(drawn, maps[0]):
        image = ax.get_images()[0]
        assert image.get_clim() == pytest.approx((low, high))  # shared: the weak channel looks weak
        assert np.allclose(np.asarray(image.get_array()), channel.numpy())
    assert _colour_bar_label(fig) == "activation"


def test_show_feature_maps_each_stretches_every_channel_and_says_so():
    maps = torch.randn(8, 5, 5)
    fig = plotting.show_feature_maps(maps, n=8, scale="each")
    drawn = [ax for ax in fig.axes if ax.get_images() and ax.get_label() != "<colorbar>"]
    shown = np.asarray(drawn[5].get_images()[0].get_array())
    channel = maps[5].numpy()
    assert np.allclose(shown, (channel - channel.min()) / (channel.max() - channel.min()), atol=1e-6)
    assert _colour_bar_label(fig).startswith("each map: its minimum")
    with pytest.raises(ValueError, match="maps must be"):
        plotting.show_feature_maps(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match='scale must be "shared"'):
        plotting.show_feature_maps(maps, scale="global")


def test_block_diagram_draws_a_box_per_layer_and_a_line_for_the_identity():
    ax = plotting.block_diagram([["1x1 conv, 64"], ["1x1 conv, 96", "3x3 conv, 128"], []], merge="concatenate",
                                top="192 channels")
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if not t.get_text()]  # annotations that draw only an arrow
    assert len(boxes) == 2 + 3  # the input, the merge and one box per layer; the identity has none
    assert set(texts) == {"192 channels", "concatenate", "1x1 conv, 64", "1x1 conv, 96", "3x3 conv, 128", "identity"}
    assert len(arrows) == 2 + 1 + 2 + 1  # input to each branch, within the second, branches to merge, identity
    layer_width = boxes[2].get_width()
    top_and_merge = [b.get_width() for b in boxes[:2]]
    assert top_and_merge[0] == top_and_merge[1] > 3 * layer_width  # they span all three branches


def test_block_diagram_refuses_what_is_not_branches():
    with pytest.raises(ValueError, match="at least one of its branches"):
        plotting.block_diagram([], merge="add")
    with pytest.raises(ValueError, match="a list of branches"):
        plotting.block_diagram(["1x1 conv"], merge="add")


def test_show_matrix_writes_negative_zero_as_zero():
    # the stepper's products: 0 times a negative kernel weight is -0.0, which "{:.0f}" would write as "-0"
    ax = plotting.show_matrix(np.array([[0.0, 1.0], [2.0, 3.0]]) * np.array([[-1.0, 1.0], [1.0, -1.0]]))
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "-3"]
    matplotlib.pyplot.close(ax.figure)
