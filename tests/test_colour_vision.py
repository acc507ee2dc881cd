"""The course's colour maps as a reader with deuteranopia (no green cones, the commonest colour-vision
deficiency) sees them, simulated with the matrix of Machado, Oliveira and Fernandes (2009, severity 1)
applied in linear RGB. Two of the course's figures, a heat map over an image and a signed occlusion map,
are written to test-artifacts as pairs (as drawn, as simulated)."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from helpers import ROOT, lightness, linear_rgb

from course_utils import explain, plotting

ARTIFACTS = ROOT / "test-artifacts"
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968],
                         [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])



def _srgb(linear):
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def simulate(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours (..., 3) in [0, 1] as seen with deuteranopia."""
    return _srgb(linear_rgb(rgb) @ DEUTERANOPIA.T)



def test_the_simulation_confuses_red_and_green_and_keeps_grey():
    red, green, grey = np.array([0.8, 0.2, 0.2]), np.array([0.3, 0.55, 0.2]), np.array([0.5, 0.5, 0.5])
    assert np.abs(simulate(red) - simulate(green)).max() < np.abs(red - green).max() / 3
    assert np.allclose(simulate(grey), grey, atol=0.01)


@pytest.mark.parametrize("name", [plotting.HEATMAP_CMAP])
def test_the_heat_map_still_reads_from_little_to_much(name):
    colours = matplotlib.colormaps[name](np.linspace(0, 1, 64))[:, :3]
    seen = lightness(simulate(colours))
    assert (np.diff(seen) > 0).all(), f"{name}: the order of values is lost with deuteranopia"
    jet = lightness(simulate(matplotlib.colormaps["jet"](np.linspace(0, 1, 64))[:, :3]))
    assert not (np.diff(jet) > 0).all()  # the check would catch jet


def test_the_diverging_map_keeps_its_two_sides_apart():
    colours = matplotlib.colormaps[plotting.DIVERGING_CMAP](np.linspace(0, 1, 65))[:, :3]
    seen = simulate(colours)
    low, high = seen[:16].mean(axis=0), seen[-16:].mean(axis=0)
    assert np.abs(low - high).max() > 0.3  # negative and positive stay different colours (blue and yellow-brown)


def _figure_pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    plt.close(fig)
    return pixels


def test_two_figures_simulated_for_deuteranopia_are_written_in_pairs():
    ARTIFACTS.mkdir(exist_ok=True)
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    heat = torch.exp(-((rows - 20) ** 2 + (cols - 40) ** 2) / 150)  # one bright spot
    picture = torch.full((3, 64, 64), 0.5)
    signed = torch.sin(cols / 10) * torch.cos(rows / 14)  # positive and negative regions
    figures = {}
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(explain.overlay(picture, heat)), ax.set_title("heat map over an image"), ax.axis("off")
    figures["heatmap"] = _figure_pixels(fig)
    fig, ax = plt.subplots(figsize=(4, 4))
    largest = float(signed.abs().max())
    ax.imshow(signed, cmap=plotting.DIVERGING_CMAP, vmin=-largest, vmax=largest), ax.set_title("signed map"), ax.axis("off")
    figures["signed"] = _figure_pixels(fig)
    for name, pixels in figures.items():
        seen = simulate(pixels)
        plt.imsave(ARTIFACTS / f"colour_vision_{name}_as_drawn.png", pixels)
        plt.imsave(ARTIFACTS / f"colour_vision_{name}_deuteranopia.png", seen)
        assert (ARTIFACTS / f"colour_vision_{name}_deuteranopia.png").stat().st_size > 1000
    # the spot stays far lighter than the rest of the map as simulated
    seen = lightness(simulate(explain.overlay(picture, heat)))
    assert seen[20, 40] > seen[60, 5] + 20
