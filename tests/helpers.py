"""What several test files share: the repository's root, keeping a browser page off the network, and the
lightness of colours (for the colour-map tests)."""

from pathlib import Path

import numpy as np

from tools.slide_walk import refuse_the_network

ROOT = Path(__file__).resolve().parents[1]


# Let a Playwright page load only files and data URLs; it returns the list that collects the addresses of
# every other request, each of which is refused (the slide walks use it too).
keep_off_the_network = refuse_the_network


def linear_rgb(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours (..., 3) in [0, 1] as linear light."""
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0 black to 100 white) of sRGB colours (..., 3) in [0, 1]."""
    y = linear_rgb(rgb) @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(y > (6 / 29) ** 3, 116 * np.cbrt(y) - 16, y * (29 / 3) ** 3)
