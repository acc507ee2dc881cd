"""course_utils.widgets: the plain figures show the right numbers; the widgets react to their controls."""

import time

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import by_hand, plotting, widgets

pytestmark = pytest.mark.usefixtures("close_figures")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("name", list(by_hand.SEED_EXAMPLES))
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_last_step_shows_the_whole_output(name, stride, padding):
    X, K = by_hand.SEED_EXAMPLES[name]
    expected = by_hand.corr2d(X, K, stride, padding)
    fig = widgets.sliding_window_figure(X, K, stride, padding, step=expected.size - 1)
    output_ax = fig.axes[3]
    assert _texts(output_ax) == [f"{v:.0f}" for v in expected.flatten()]


def test_a_middle_step_shows_window_products_and_partial_output():
    X, K = by_hand.SEED_EXAMPLES["3x3 input, 2x2 kernel"]
    fig = widgets.sliding_window_figure(X, K, step=1)
    input_ax, kernel_ax, products_ax, output_ax = fig.axes
    assert _texts(products_ax) == ["0", "2", "8", "15"]  # window [[1, 2], [4, 5]] times K
    assert products_ax.get_title() == "products\nsum = 25"
    assert _texts(output_ax) == ["19", "25"]  # the two cells computed so far
    window = [p for p in input_ax.patches if p.get_edgecolor()[:3] != (0, 0, 0)][0]
    assert window.get_xy() == (0.5, -0.5)


@pytest.mark.parametrize("name", list(by_hand.SEED_EXAMPLES))
@pytest.mark.parametrize("padding", [0, 2])
def test_the_stepper_s_titles_do_not_overlap_at_the_slides_font_size(name, padding):
    X, K = by_hand.SEED_EXAMPLES[name]
    with plt.rc_context(plotting.PRESENTATION_STYLE):
        fig = widgets.sliding_window_figure(X, K, stride=1, padding=padding, step=0)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
        width = fig.bbox.width
    plt.close(fig)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0, f"{name}: the titles of neighbouring panels overlap ({left.x1:.0f} > {right.x0:.0f} px)"
    assert boxes[0].x0 >= 0 and boxes[-1].x1 <= width, f"{name}: a title runs off the figure"


def test_stepper_rejects_steps_past_the_end():
    X, K = by_hand.SEED_EXAMPLES["3x3 input, 2x2 kernel"]
    with pytest.raises(ValueError, match=r"step must be between 0 and 3"):
        widgets.sliding_window_figure(X, K, step=4)


def test_stepper_widget_updates_the_number_of_steps():
    box = widgets.sliding_window_stepper("5x5 input, 3x3 kernel")
    (choose, stride, padding), step = box.children[0].children, box.children[1]
    assert step.max == 8  # 3x3 output
    padding.value = 1
    assert step.max == 24  # 5x5 output
    step.value = 24
    stride.value = 2
    assert step.max == 8
    assert step.value == 8  # clipped into the new range
    choose.value = "7x7 image, X-shaped kernel"
    assert step.max == 15


def test_unknown_example_is_named():
    with pytest.raises(ValueError, match="example must be one of"):
        widgets.sliding_window_stepper("9x9")


@pytest.mark.parametrize("n, k, s, p, d", [(7, 3, 3, 0, 1), (7, 3, 2, 0, 1), (13, 6, 5, 0, 1), (224, 11, 4, 2, 1), (9, 3, 1, 2, 2)])
def test_output_size_figure_states_the_result(n, k, s, p, d):
    from course_utils.shapes import conv_output_size, fits_exactly

    fig = widgets.output_size_figure(n, k, s, p, d)
    title = fig.axes[0].get_title()
    assert f"output size {conv_output_size(n, k, s, p, d)}" in title
    assert ("fit exactly" in title) == fits_exactly(n, k, s, p, d)


def test_output_size_figure_refuses_sizes_it_could_not_draw_in_time():
    started = time.perf_counter()
    expected = "n \\+ 2p = 20000 is more than 300 \\(a smaller n or padding would fit\\); shapes.explain_output_size"
    with pytest.raises(ValueError, match=expected):
        widgets.output_size_figure(20000, 3)
    assert time.perf_counter() - started < 5  # refused at once, not drawn for a minute


def test_calculator_widget_explains_a_configuration_that_does_not_work(monkeypatch, capsys):
    drawn, real = [], widgets.output_size_figure
    monkeypatch.setattr(widgets, "output_size_figure", lambda **numbers: drawn.append(numbers) or real(**numbers))
    box = widgets.output_size_calculator()
    sliders = list(box.children[0].children) + list(box.children[1].children)
    n, kernel = sliders[0], sliders[1]
    n.value, kernel.value = 2, 9  # kernel larger than the input: explained, not raised
    assert drawn[-1] == {"n": 2, "kernel_size": 9, "stride": 3, "padding": 0, "dilation": 1}
    assert "This configuration does not work" in capsys.readouterr().out  # (no kernel: the Output prints)


ACTIVATIONS = {
    "sigmoid": (lambda x: torch.sigmoid(x), lambda x: (1 / (1 + np.exp(-x))) * (1 - 1 / (1 + np.exp(-x)))),
    "tanh": (lambda x: torch.tanh(x), lambda x: 1 - np.tanh(x) ** 2),
    "relu": (lambda x: torch.relu(x), lambda x: (x > 0).astype(float)),
    "square": (lambda x: x**2, lambda x: 2 * x),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_function_and_derivative_matches_the_formula(name):
    function, derivative = ACTIVATIONS[name]
    x = np.linspace(-5, 5, 201) + 0.013  # avoid ReLU's kink at exactly 0
    y, dy = widgets.function_and_derivative(function, x)
    np.testing.assert_allclose(dy, derivative(x), atol=1e-12)


def test_function_figure_plots_f_and_its_derivative():
    fig = widgets.function_figure("tanh", torch.tanh, (-3, 3))
    (line_f,), (line_df,) = fig.axes[0].get_lines()[:1], fig.axes[1].get_lines()[:1]
    x = line_f.get_xdata()
    np.testing.assert_allclose(line_f.get_ydata(), np.tanh(x), atol=1e-12)
    np.testing.assert_allclose(line_df.get_ydata(), 1 - np.tanh(x) ** 2, atol=1e-12)
    assert fig.axes[1].get_title() == "tanh'(x)"


def test_function_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="elementwise"):
        widgets.function_and_derivative(lambda x: x.sum(), np.zeros(3))
    with pytest.raises(ValueError, match="x_range"):
        widgets.function_figure("relu", torch.relu, (2, -2))
    with pytest.raises(ValueError, match="functions must map names to functions"):
        widgets.function_explorer({})


def test_function_explorer_redraws_the_chosen_function_over_the_chosen_range(monkeypatch):
    drawn, real = [], widgets.function_figure
    monkeypatch.setattr(widgets, "function_figure", lambda name, function, x_range: drawn.append(
        (name, function, x_range)) or real(name, function, x_range))
    box = widgets.function_explorer({"relu": torch.relu, "tanh": torch.tanh})
    choose, width = box.children[0].children
    assert drawn[-1] == ("relu", torch.relu, (-6.0, 6.0))
    choose.value = "tanh"
    assert drawn[-1] == ("tanh", torch.tanh, (-6.0, 6.0))
    width.value = 3.0
    assert drawn[-1] == ("tanh", torch.tanh, (-3.0, 3.0))


def test_feature_map_figure_and_explorer():
    import torchvision

    from course_utils.data import sample_image

    model = torchvision.models.alexnet().eval()
    stages = {"conv1": "features.0", "pool5": "features.12"}
    cat = sample_image("cat")
    fig = widgets.feature_map_figure(model, cat, "conv1", 3, stages=stages)
    assert len(fig.axes) == 4
    assert fig.axes[1].get_title() == "filter 3 (11x11)"
    assert fig.axes[2].get_title() == "conv1, channel 3: 55x55"
    assert fig.axes[3].get_label() == "<colorbar>"
    assert fig.axes[3].get_ylabel() == "activation"
    assert len(widgets.feature_map_figure(model, cat, "pool5", 255, stages=stages).axes) == 3  # no RGB filter
    with pytest.raises(ValueError, match="channel must be between 0 and 63"):
        widgets.feature_map_figure(model, cat, "conv1", 64, stages=stages)
    box = widgets.feature_map_explorer(model, {"cat": cat}, stages)
    choose_image, choose_stage, channel = box.children[0].children
    assert channel.max == 63
    choose_stage.value = "pool5"
    assert channel.max == 255
