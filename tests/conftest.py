"""Fixtures shared by several test files: a real browser (test_browser.py, test_slides.py, test_site.py)
and closing the figures a test drew (test_plotting.py, test_widgets.py)."""

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tools import slide_walk

CHROMIUM = slide_walk.chromium_path()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: run `make browser-test`")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium): run `make browser-test`")
    with playwright.sync_playwright() as p:
        chromium = slide_walk.launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def close_figures():
    """Close every figure the test drew, so that hundreds of tests do not keep hundreds of figures."""
    yield
    plt.close("all")
