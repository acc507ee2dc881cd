"""course_utils.explain against Captum, the maintained library, on many random models and inputs;
the evidence boxes of data.PatternPatches; bad input; and the figure and widget of notebook 08."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam, NoiseTunnel, Occlusion, Saliency
from helpers import lightness
from torch import nn

from course_utils import data, explain, plotting, widgets

CASES = range(12)


def random_model(seed: int, in_channels: int = 3, classes: int = 4, batch_norm: bool = False, inplace: bool = False):
    """A small random CNN; its sizes depend on the seed so that the cases differ."""
    generator = torch.Generator().manual_seed(seed)
    width = int(torch.randint(4, 12, (1,), generator=generator))
    torch.manual_seed(seed)
    layers = [nn.Conv2d(in_channels, width, 3, padding=1)]
    layers += [nn.BatchNorm2d(width)] if batch_norm else []
    layers += [nn.ReLU(inplace=inplace), nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1),
               nn.ReLU(inplace=inplace), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(8 * width, classes)]
    return nn.Sequential(*layers).eval()


def random_image(seed: int, channels: int = 3):
    generator = torch.Generator().manual_seed(1000 + seed)
    size = int(torch.randint(12, 25, (1,), generator=generator))
    return torch.randn(channels, size, size + seed % 3, generator=generator)


def conv_index(model) -> str:
    return str(max(i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)))


@pytest.mark.parametrize("seed", CASES)
def test_saliency_equals_captum(seed):
    model, image, target = random_model(seed), random_image(seed), seed % 4
    expected = Saliency(model).attribute(image[None], target=target, abs=True).amax(dim=1)[0]
    assert torch.allclose(explain.saliency(model, image, target), expected, atol=1e-7)


@pytest.mark.parametrize("seed", CASES)
def test_smoothgrad_equals_captum_with_the_same_noise(seed):
    model, image, target = random_model(seed), random_image(seed), (seed + 1) % 4
    samples, level = 3 + seed, 0.1 + 0.02 * seed
    ours = explain.smoothgrad(model, image, target, samples=samples, noise_level=level, batch_size=4,
                              generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    sigma = level * (image.max() - image.min()).item()
    expected = NoiseTunnel(Saliency(model)).attribute(image[None], target=target, nt_type="smoothgrad",
                                                      nt_samples=samples, stdevs=sigma).amax(dim=1)[0]
    assert torch.allclose(ours, expected, atol=1e-6)


@pytest.mark.parametrize("seed", CASES)
def test_occlusion_equals_captum(seed):
    model, image, target = random_model(seed), random_image(seed), seed % 4
    window = 2 + seed % 5
    stride = 1 + seed % window  # includes windows that overhang the edge (the size minus window not divisible)
    baseline = 0.5 * (seed % 3 - 1)
    ours = explain.occlusion(model, image, target, window=window, stride=stride, baseline=baseline, batch_size=7)
    expected = Occlusion(model).attribute(image[None], target=target, sliding_window_shapes=(3, window, window),
                                          strides=(3, stride, stride), baselines=baseline)[0]
    assert ours.shape == image.shape[1:]
    assert torch.allclose(ours, expected[0], atol=1e-5)


@pytest.mark.parametrize("seed", CASES)
def test_grad_cam_equals_captum(seed):
    model, image, target = random_model(seed), random_image(seed), (seed + 2) % 4
    layer = conv_index(model)
    ours = explain.grad_cam(model, image, target, layer=layer, upsample=False)
    expected = LayerGradCam(model, model[int(layer)]).attribute(image[None], target=target, relu_attributions=True)[0, 0]
    assert torch.allclose(ours, expected, atol=1e-6)
    enlarged = explain.grad_cam(model, image, target, layer=layer)
    assert enlarged.shape == image.shape[1:]
    assert enlarged.min() >= 0


def test_grad_cam_is_not_fooled_by_an_in_place_relu():
    plain, inplace = random_model(3), random_model(3, inplace=True)
    inplace.load_state_dict(plain.state_dict())
    image = random_image(3)
    for layer in ("0", "3"):  # convolutions followed by a ReLU
        assert torch.allclose(explain.grad_cam(plain, image, 1, layer, upsample=False),
                              explain.grad_cam(inplace, image, 1, layer, upsample=False), atol=1e-6)


def test_grad_cam_differs_between_classes_and_is_zero_where_no_evidence_is_positive():
    model, image = random_model(5), random_image(5)
    maps = [explain.grad_cam(model, image, target, "3", upsample=False) for target in range(4)]
    assert any(not torch.allclose(maps[0], other) for other in maps[1:])
    assert all(m.min() >= 0 for m in maps)


def test_methods_restore_the_mode_and_leave_batch_norm_statistics_alone():
    model = random_model(2, batch_norm=True).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    image = random_image(2)
    for name, method in explain.METHODS.items():
        kwargs = {"layer": "4"} if name == "grad_cam" else {}
        method(model, image, 0, **kwargs)
        assert model.training, f"{name} left the model in evaluation mode"
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "running statistics changed"
    assert all(p.grad is None for p in model.parameters()), "parameter gradients were written"


def test_a_batch_of_one_is_accepted_and_maps_come_back_on_the_cpu():
    model, image = random_model(1), random_image(1)
    assert torch.equal(explain.saliency(model, image[None], 2), explain.saliency(model, image, 2))
    assert explain.occlusion(model, image, 0, window=3, stride=2).device.type == "cpu"


def test_probabilities_sum_to_one():
    probabilities = explain.probabilities(random_model(4), random_image(4))
    assert probabilities.shape == (4,)
    assert torch.isclose(probabilities.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("call, argument", [
    (lambda m, x: explain.saliency(m, x.numpy(), 0), "image"),
    (lambda m, x: explain.saliency(m, x[0], 0), "image"),
    (lambda m, x: explain.saliency(m, x.long(), 0), "image"),
    (lambda m, x: explain.saliency(m, x, 4), "target"),
    (lambda m, x: explain.saliency(m, x, -1), "target"),
    (lambda m, x: explain.saliency(m, x, 1.5), "target"),
    (lambda m, x: explain.grad_cam(m, x, 0, layer="layer4"), "layer"),
    (lambda m, x: explain.grad_cam(m, x, 0, layer="7"), "layer"),  # the Linear layer: no feature maps
    (lambda m, x: explain.smoothgrad(m, x, 0, samples=0), "samples"),
    (lambda m, x: explain.smoothgrad(m, x, 0, noise_level=-0.1), "noise_level"),
    (lambda m, x: explain.occlusion(m, x, 0, window=100), "window"),
    (lambda m, x: explain.occlusion(m, x, 0, window=3, stride=4), "stride"),
    (lambda m, x: explain.occlusion(m, x, 0, stride=0), "stride"),
    (lambda m, x: explain.overlay(x, torch.rand(2, 3, 3)), "heatmap"),
    (lambda m, x: explain.overlay(x, torch.rand(3, 3), alpha=2), "alpha"),
])
def test_bad_input_names_the_argument(call, argument):
    model, image = random_model(0), random_image(0)
    with pytest.raises(ValueError, match=argument):
        call(model, image)


def test_unknown_layer_lists_real_names_and_the_last_convolution():
    with pytest.raises(ValueError, match=r"the last convolution is '3'"):
        explain.grad_cam(random_model(0), random_image(0), 0, layer="features.10")


def test_overlay_blends_the_colour_map_onto_the_image():
    image = torch.zeros(3, 8, 8)
    heat = torch.zeros(4, 4)
    heat[0, 0] = 1.0  # smaller than the image: enlarged
    blended = explain.overlay(image, heat, alpha=1.0)
    assert blended.shape == (8, 8, 3)
    assert 0 <= blended.min()
    assert blended.max() <= 1
    assert blended[0, 0].sum() > blended[7, 7].sum()  # the heat map's colours: much is bright, little is dark
    assert (explain.overlay(image, heat, alpha=0.0) == 0).all()


@pytest.mark.parametrize("name", [plotting.HEATMAP_CMAP])
def test_the_heat_maps_colours_grow_lighter_with_the_value(name):
    """A colour map that reads the same in grey and to colour-blind eyes: its lightness (CIE L*, from
    the sRGB colours) rises all the way from 0 to 1. "jet" fails: it is darkest at both ends."""
    seen = lightness(matplotlib.colormaps[name](np.linspace(0, 1, 64))[:, :3])
    assert (np.diff(seen) > 0).all(), f"{name}: lightness not rising"
    assert seen[-1] - seen[0] > 80
    assert not (np.diff(lightness(matplotlib.colormaps["jet"](np.linspace(0, 1, 64))[:, :3])) > 0).all()


def test_the_diverging_map_is_white_at_zero_and_as_light_on_both_sides():
    colours = matplotlib.colormaps[plotting.DIVERGING_CMAP](np.linspace(0, 1, 65))[:, :3]
    seen = lightness(colours)
    assert seen[32] > 90  # the middle, zero when the limits are symmetric, is nearly white
    assert np.allclose(seen[:32], seen[:32:-1], atol=6)  # as dark at -x as at +x



# ----------------------------------------------------------------------------- the data with known evidence
def test_pattern_patches_put_the_evidence_in_the_box_and_nowhere_else():
    dataset = data.PatternPatches(200, seed=3)
    outside_means = {0: [], 1: []}
    for index in range(len(dataset)):
        picture = dataset.image(index).astype(float)
        top, left, height, width = dataset.box(index)
        assert 0 <= top <= 64 - height
        assert 0 <= left <= 64 - width
        inside = np.zeros(picture.shape[:2], dtype=bool)
        inside[top:top + height, left:left + width] = True
        assert picture[inside].mean() > picture[~inside].mean() + 8  # the lighter pattern is in the box
        outside_means[int(dataset.labels[index])].append(picture[~inside].mean())
    assert set(dataset.labels.tolist()) == {0, 1}
    # outside the box the two classes look alike: their mean brightness differs by less than 5 of 255
    assert abs(np.mean(outside_means[0]) - np.mean(outside_means[1])) < 5


def test_pattern_patches_decoy_is_as_light_as_the_pattern_away_from_it_and_changes_nothing_else():
    plain, decoyed = data.PatternPatches(100, seed=4), data.PatternPatches(100, seed=4, decoy=True)
    assert plain.decoy_box(0) is None
    for index in range(len(decoyed)):
        top, left, height, width = decoyed.box(index)
        row, col, h, w = decoyed.decoy_box(index)
        assert (h, w) == (16, 16)
        assert 0 <= row <= 64 - h
        assert 0 <= col <= 64 - w
        assert row + h <= top or top + height <= row or col + w <= left or left + width <= col  # no overlap
        picture, before = decoyed.image(index).astype(float), plain.image(index).astype(float)
        outside = np.ones(picture.shape[:2], dtype=bool)
        outside[row:row + h, col:col + w] = False
        assert np.array_equal(picture[outside], before[outside])  # the same image, the decoy aside
        pattern = picture[top:top + height, left:left + width]
        # the decoy is as light as the pattern's light pixels (their top quarter), and plain
        assert abs(picture[~outside].mean() - np.percentile(pattern.mean(axis=2), 90)) < 25
        assert picture[~outside].std() < pattern.std()
    assert decoyed.decoy_box(7) == data.PatternPatches(100, seed=4, decoy=True).decoy_box(7)
    with pytest.raises(ValueError, match="decoy=True needs room"):
        data.PatternPatches(3, size=32, patch=16, decoy=True)
    with pytest.raises(ValueError, match="decoy must be True or False"):
        data.PatternPatches(3, decoy="yes")


def test_pattern_patches_are_repeatable_normalised_and_checked():
    first, second = data.PatternPatches(5, seed=1), data.PatternPatches(5, seed=1)
    image, label = first[2]
    assert image.shape == (3, 64, 64)
    assert image.dtype == torch.float32
    assert label in (0, 1)
    assert torch.equal(image, second[2][0])
    assert first.box(2) == second.box(2)
    assert not torch.equal(image, data.PatternPatches(5, seed=2)[2][0])
    first.image(0)[:] = 0  # a caller changing the array it got does not change the dataset
    assert first.image(0).any()
    with pytest.raises(IndexError):
        first[5]
    for kwargs, name in (({"count": 0}, "count"), ({"count": 3, "patch": 80}, "patch"), ({"count": 3, "size": 4}, "size")):
        with pytest.raises(ValueError, match=name):
            data.PatternPatches(**kwargs)


def test_a_trained_network_points_at_the_evidence_and_an_untrained_one_does_not():
    """The pointing game of notebook 08 in miniature: a hit is a map's maximum inside the box. An
    untrained network's maps hit the bright patch too at times, but far less often."""
    from torch.utils.data import DataLoader

    from course_utils import training

    torch.manual_seed(0)
    train_set, val_set = data.PatternPatches(600, seed=0), data.PatternPatches(40, seed=1)

    def small_cnn():
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2))

    untrained, model = small_cnn(), small_cnn()
    model.load_state_dict(untrained.state_dict())
    training.fit(model, DataLoader(train_set, batch_size=32, shuffle=True), epochs=3, lr=3e-3, progress=False, live=False)

    def hits(net):
        count = 0
        for index in range(len(val_set)):
            heatmap = explain.grad_cam(net, *val_set[index], layer="6")
            row, col = divmod(int(heatmap.argmax()), heatmap.shape[1])
            top, left, height, width = val_set.box(index)
            count += top <= row < top + height and left <= col < left + width
        return count / len(val_set)

    trained_rate, untrained_rate = hits(model), hits(untrained)
    assert trained_rate >= 0.8, "chance is 0.14, the box's share of the image"
    assert untrained_rate < trained_rate - 0.3


# ----------------------------------------------------------------------------- figure and widget
def test_explanation_figure_draws_image_map_and_overlay_with_the_box():
    model, dataset = random_model(0, classes=2), data.PatternPatches(3)
    fig = widgets.explanation_figure(model, dataset[0][0], 1, "grad_cam", layer="3", picture=dataset.image(0),
                                     class_names=dataset.classes, box=dataset.box(0))
    assert len(fig.axes) == 5
    assert "stripes" in fig.axes[2].get_title()
    assert len(fig.axes[1].patches) == 1  # the box, scaled to the map
    bar = fig.axes[3]  # the map's colour bar, in the map's own units
    assert bar.get_label() == "<colorbar>"
    assert bar.get_ylabel() == widgets.HEATMAP_UNITS["grad_cam"]
    assert bar.get_ylim() == pytest.approx(fig.axes[1].get_images()[0].get_clim())
    assert set(widgets.HEATMAP_UNITS) == set(explain.METHODS)
    assert fig.axes[4].get_ylim() == (0, 1)
    assert "1 at its maximum" in fig.axes[4].get_ylabel()  # the overlay's
    plt.close(fig)
    with pytest.raises(ValueError, match="method"):
        widgets.explanation_figure(model, dataset[0][0], 0, "lime")
    with pytest.raises(ValueError, match="layer"):
        widgets.explanation_figure(model, dataset[0][0], 0, "grad_cam")


def test_explanation_explorer_redraws_for_image_class_and_method(monkeypatch):
    model, dataset = random_model(0, classes=2), data.PatternPatches(4)
    images = [dataset[i][0] for i in range(4)]
    drawn = []
    original = widgets.explanation_figure

    def record(model, image, target, method, layer, **kwargs):
        drawn.append((next(i for i, x in enumerate(images) if x is image), target, method, kwargs["box"]))
        return original(model, image, target, method, layer, **kwargs)

    monkeypatch.setattr(widgets, "explanation_figure", record)
    explorer = widgets.explanation_explorer(model, images, dataset.classes, "3",
                                            pictures=[dataset.image(i) for i in range(4)],
                                            boxes=[dataset.box(i) for i in range(4)])
    image, choose_class, method = explorer.children[0].children
    likely = explain.probabilities(model, images[0]).argsort(descending=True).tolist()
    assert [target for _, target in choose_class.options] == likely  # the menu lists the likeliest class first
    assert drawn[-1] == (0, likely[0], "grad_cam", dataset.box(0))
    image.value = 2
    assert drawn[-1][0] == 2
    assert drawn[-1][3] == dataset.box(2)
    method.value = "occlusion"
    assert drawn[-1][2] == "occlusion"
    other = choose_class.options[1][1]
    choose_class.value = other
    assert drawn[-1] == (2, other, "occlusion", dataset.box(2))
    with pytest.raises(ValueError, match="layer"):
        widgets.explanation_explorer(model, [images[0]], dataset.classes, "nope")
    with pytest.raises(ValueError, match="boxes"):
        widgets.explanation_explorer(model, [images[0]], dataset.classes, "3", boxes=[])
    plt.close("all")
