"""JupyterLab in a real browser: open a notebook in headless Chromium, run all cells, and check
what a person would see: no error output, the widgets' sliders rendered, and moving a slider
redraws the figure. Screenshots are saved in test-artifacts/.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; `make browser-test`
installs both and runs these tests. Without them the tests are skipped, and say so.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
WIDGET_NOTEBOOKS = ["01_mlp_to_cnn.ipynb", "02_convolution_by_hand.ipynb", "03_padding_stride_pooling.ipynb",
                    "04_alexnet_filters_feature_maps.ipynb", "08_what_the_network_looks_at.ipynb"]

pytest.importorskip("playwright.sync_api", reason="playwright is not installed: run `make browser-test`")
pytestmark = pytest.mark.skipif(not Path(shutil.which("chromium") or "/usr/bin/chromium").exists(),
                                reason="Chromium is not installed (apt-get install chromium): run `make browser-test`")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of notebooks/ (running cells must not write outputs into the repository)."""
    folder = tmp_path_factory.mktemp("lab")
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, folder)
    port, token = _free_port(), "course-browser-test"
    env = {**os.environ, "COURSE_SMOKE": "1", "COURSE_OFFLINE": "1"}
    log = open(folder / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={folder}", "--LabApp.news_url="],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start; see {folder / 'lab.log'}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _url(base: str, token: str, name: str) -> str:
    """A workspace of its own for each notebook, reset, so that no other notebook is open beside it."""
    return f"{base}/lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}?reset&token={token}"


def _run_all(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    time.sleep(1)
    for label in ("No", "Select"):  # the news toast and, on some setups, the kernel dialog
        button = page.query_selector(f".jp-Notification-Toast button:has-text('{label}'), .jp-Dialog button:has-text('{label}')")
        if button:
            button.click()
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(1)
        busy = page.evaluate("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                             ".filter(e => e.textContent.includes('*')).length")
        started = page.evaluate("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                                ".filter(e => /\\[\\d+\\]/.test(e.textContent)).length")
        if busy == 0 and started > 0:
            return
    pytest.fail("the notebook did not finish running within 5 minutes")


def _errors(page) -> list[str]:
    return [e.inner_text()[:300] for e in page.query_selector_all("[data-mime-type='application/vnd.jupyter.error']")]


def test_setup_notebook_runs_in_jupyterlab(lab, browser):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, _url(base, token, "00_setup.ipynb"))
    assert _errors(page) == []
    commands = page.evaluate("() => [...document.querySelectorAll('.jp-NotebookPanel-toolbar [data-command]')]"
                             ".map(e => e.getAttribute('data-command'))")
    assert any("rise" in command.lower() for command in commands), f"no slideshow button in the toolbar: {commands}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "00_setup.png"))
    page.close()


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_widgets_render_and_respond(lab, browser, name):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, _url(base, token, name))
    assert _errors(page) == [], f"{name} shows an error output"
    sliders = page.query_selector_all(".widget-slider")
    assert sliders, f"{name}: no widget slider was rendered"
    widget = sliders[0].evaluate_handle("e => e.closest('.widget-vbox')").as_element()
    widget.scroll_into_view_if_needed()
    before = widget.query_selector("img").get_attribute("src")
    handle = sliders[0].query_selector("[role=slider], .noUi-handle, .ui-slider-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    deadline = time.time() + 30
    after = before
    while time.time() < deadline and after == before:
        time.sleep(0.5)
        image = widget.query_selector("img")
        after = image.get_attribute("src") if image else before
    assert after != before, f"{name}: moving the slider did not redraw the figure"
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / f"{name.removesuffix('.ipynb')}_widget.png"))
    page.close()
