"""Fixtures shared by several test files: a real browser (test_browser.py, test_slides.py, test_site.py),
the whole website built once with every notebook run (test_site.py, test_slides.py: `make slow-test`)
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


@pytest.fixture(scope="session")
def whole_site(tmp_path_factory):
    """The whole website, every notebook run in smoke mode without its solutions (a few minutes), built once
    for the tests marked slow: (the home page, {notebook: its run}). The same runs serve the site's check
    of every page and the walk of every notebook's exported slideshow."""
    pytest.importorskip("myst_nb")
    from tools import site
    from tools.notebooks import NOTEBOOKS

    names = [path.stem for path in sorted(NOTEBOOKS.glob("*.ipynb"))]
    root = tmp_path_factory.mktemp("whole-site")
    index = site.build(names, out=root / "html", smoke=True, work=root / "work", execute=True)
    runs = {name: site.executed(root / "work", name) for name in names}
    assert None not in runs.values(), f"the build kept no run of {[n for n, run in runs.items() if run is None]}"
    return index, runs


@pytest.fixture
def close_figures():
    """Close every figure the test drew, so that hundreds of tests do not keep hundreds of figures."""
    yield
    plt.close("all")
