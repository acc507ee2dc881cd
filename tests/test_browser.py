"""JupyterLab in a real browser: open a notebook in headless Chromium, run all cells, and check
what a person would see: no error output, the widgets' sliders rendered, and moving a slider
redraws the figure. Screenshots are saved in test-artifacts/.

The notebooks themselves run under nbval; here the browser's part is checked: every interactive widget
the notebooks use, built as the notebook builds it (the same call) in one small gallery notebook, so
that the slow cells before them (training, pretrained models) are not run a second time (a test
checks the gallery holds every widget a notebook calls); and (marked slow, for `make slow-test`)
notebook 02 run in JupyterLab and presented live, as `make present` opens it, with its widgets working
on the slides, and the live decks of four notebooks walked view by view.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; `make browser-test`
installs both and runs these tests. Without them the tests are skipped, and say so.
"""

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import nbformat
import pytest
from helpers import ROOT

from tools import accessibility, slide_walk

ARTIFACTS = ROOT / "test-artifacts"
GALLERY = "widget_gallery.ipynb"

# Each widget the notebooks use: the notebook, then the code that builds it there (the notebook's own
# call; the inputs it needs made small, with untrained weights where the notebook trains or downloads).
WIDGETS = {
    "function_explorer": ("01_mlp_to_cnn", """\
activations = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "ReLU": torch.relu,
               "leaky ReLU": lambda x: torch.maximum(0.1 * x, x)}
widgets.function_explorer(activations)"""),
    "sliding_window_stepper": ("02_convolution_by_hand", 'widgets.sliding_window_stepper("5x5 input, 3x3 kernel")'),
    "output_size_calculator": ("03_padding_stride_pooling", "widgets.output_size_calculator(n=7, kernel_size=3, stride=3, padding=0)"),
    "feature_map_explorer": ("04_alexnet_filters_feature_maps", """\
alexnet = models.AlexNet().eval()  # the notebook's pretrained weights, untrained here: the widget is what is tested
photos = {name: data.sample_image(name) for name in data.sample_image_names()[:2]}
widgets.feature_map_explorer(alexnet, photos, stages={"conv1": "features.0", "pool1": "features.2", "conv5": "features.11"})"""),
    "explanation_explorer": ("08_what_the_network_looks_at", """\
val_set = data.PatternPatches(4, seed=1)
small = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 2)).eval()
widgets.explanation_explorer(small, [val_set[i][0] for i in range(4)], val_set.classes, "0",
                             pictures=[val_set.image(i) for i in range(4)], boxes=[val_set.box(i) for i in range(4)])"""),
    "drawing_explorer": ("06_training_lenet_mnist", """\
digits = data.mnist(train=True)  # offline (as here): scikit-learn's digits; a LeNet trained on them for a few seconds
lenet = models.LeNet5()
training.fit(lenet, DataLoader(digits, batch_size=64, shuffle=True), epochs=3, lr=2e-3, progress=False, live=False)
samples = {f"test digit {k}": digits[k][0][0] * data.MNIST_STD[0] + data.MNIST_MEAN[0] for k in range(3)}
widgets.drawing_explorer(lenet.eval(), samples=samples)"""),
}
# The widgets built from ipywidgets' sliders and drop-downs; the drawing explorer (an anywidget) has tests of its own.
SLIDER_WIDGETS = [name for name in WIDGETS if name != "drawing_explorer"]
SETUP = """\
import torch
from torch import nn
from torch.utils.data import DataLoader

from course_utils import data, models, training, widgets
from course_utils.device import seed_everything

seed_everything(0)"""

PRESENT_SETTINGS = ROOT / "tools" / "present_settings"


def test_make_present_uses_the_course_s_jupyterlab_settings():
    """`make present` copies tools/present_settings as its JupyterLab's settings (the lab fixture below
    does the same), and each file there is valid for the extension that reads it."""
    recipe = (ROOT / "Makefile").read_text()
    assert "cp -R tools/present_settings/@* $(PRESENT_DIR)/settings/" in recipe
    assert "--LabApp.user_settings_dir=$(PRESENT_DIR)/settings" in recipe
    files = sorted(PRESENT_SETTINGS.rglob("*.jupyterlab-settings"))
    assert {f.parent.name for f in files} >= {"apputils-extension", "notebook-extension", "jupyterlab-fonts"}, files
    for path in files:
        plugin = path.relative_to(PRESENT_SETTINGS).with_suffix("")  # @scope/package/plugin
        schema = _settings_schema(plugin)
        assert schema is not None, f"no JupyterLab extension installed reads {plugin}"
        settings = json.loads(path.read_text())
        jsonschema.validate(settings, schema)
        assert set(settings) <= set(schema.get("properties", {})), f"{plugin}: settings no schema knows"


def _settings_schema(plugin: Path):
    """The JSON schema of a JupyterLab plugin's settings, from JupyterLab's own schemas or an extension's."""
    share = Path(sys.prefix) / "share" / "jupyter"
    package, name = str(plugin.parent), plugin.name
    for base in (share / "lab" / "schemas" / package, share / "labextensions" / package / "schemas" / package):
        if (base / f"{name}.json").exists():
            return json.loads((base / f"{name}.json").read_text())
    return None


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
    _write_gallery(folder)
    shutil.copytree(PRESENT_SETTINGS, folder / "settings")  # as `make present` has them: no news, slides' sizes
    yield from _serve(sys.executable, folder, "course-browser-test", {}, "JupyterLab")


def _serve(python: str, folder: Path, token: str, env: dict, what: str):
    """Run `python -m jupyterlab` on `folder` (settings and workspaces of its own: nothing read from, or left in,
    the user's JupyterLab settings) on a free port; yield (address, token) once it answers, then stop it."""
    port = _free_port()
    log = open(folder / "lab.log", "w")
    server = subprocess.Popen(
        [python, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={folder}", "--LabApp.news_url=",
         f"--LabApp.user_settings_dir={folder / 'settings'}", f"--LabApp.workspaces_dir={folder / 'workspaces'}"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COURSE_SMOKE": "1", "COURSE_OFFLINE": "1", **env})
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"{what} did not start; see {folder / 'lab.log'}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _url(base: str, token: str, name: str) -> str:
    """A workspace of its own for each notebook, reset, so that no other notebook is open beside it."""
    return f"{base}/lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}?reset&token={token}"


PRESENTED = "02_convolution_by_hand"


@pytest.fixture(scope="module")
def presented(tmp_path_factory):
    """`make present NAME=02_convolution_by_hand` itself, on a free port: (the notebook's address as JupyterLab
    printed it, the log). Afterwards, notebooks/ must be as it was: presenting runs and saves a copy."""
    before = {path.name: path.read_bytes() for path in (ROOT / "notebooks").glob("*.ipynb")}
    port = _free_port()
    log_path = tmp_path_factory.mktemp("present") / "present.log"
    lab_args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1"  # the token is JupyterLab's own, as printed
    env = {**os.environ, "COURSE_SMOKE": "1", "COURSE_OFFLINE": "1"}
    with open(log_path, "w") as log:
        server = subprocess.Popen(["make", "-s", "present", f"NAME={PRESENTED}", f"LAB_ARGS={lab_args}"], cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    printed = None
    try:
        deadline = time.time() + 90
        while time.time() < deadline and printed is None and server.poll() is None:
            time.sleep(0.5)
            found = re.search(rf"http://127\.0\.0\.1:{port}/\S+token=[0-9a-f]+", log_path.read_text())
            printed = found.group(0) if found else None
        assert printed, f"make present printed no address: {log_path.read_text()[-2000:]}"
        yield printed, log_path
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    after = {path.name: path.read_bytes() for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert after == before, "presenting changed the notebooks in notebooks/"


def _run_all(page, url: str, opened=None) -> None:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    time.sleep(1)
    if opened:
        opened(page)
    for label in ("No", "Select"):  # the news toast and, on some setups, the kernel dialog
        button = page.query_selector(f".jp-Notification-Toast button:has-text('{label}'), .jp-Dialog button:has-text('{label}')")
        if button:
            button.click()
    prompts = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent)"
    before = page.evaluate(prompts)
    for _ in range(3):  # on a busy machine the first click can come before the kernel is ready and do nothing
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        started = time.time() + 20
        while time.time() < started and page.evaluate(prompts) == before:
            time.sleep(0.5)
        if page.evaluate(prompts) != before:
            break
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(1)
        busy = page.evaluate("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                             ".filter(e => e.textContent.includes('*')).length")
        # stored answers carry numbers from the start: the run is over when the last cell has one too
        last_done = page.evaluate("() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];"
                                  " return p.length > 0 && /\\[\\d+\\]/.test(p[p.length - 1].textContent); }")
        if busy == 0 and last_done:
            return
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run_all_unfinished.png"), full_page=True)
    pytest.fail(f"the notebook did not finish running within 5 minutes: prompts {page.evaluate(prompts)}, errors {_errors(page)} "
                "(screenshot: test-artifacts/run_all_unfinished.png)")


def _errors(page) -> list[str]:
    return [e.inner_text()[:300] for e in page.query_selector_all("[data-mime-type='application/vnd.jupyter.error']")]


def test_the_gallery_holds_every_widget_a_notebook_calls():
    called = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for name in re.findall(r"\b(\w+_(?:explorer|stepper|calculator))\(", cell.source):
                    called.setdefault(name, path.stem)
    assert called, "no widget call found in the notebooks: has the naming changed?"
    missing = {name: notebook for name, notebook in called.items() if name not in WIDGETS}
    assert not missing, f"widgets called in notebooks but not in the browser gallery: {missing}"
    for name, (notebook, _) in WIDGETS.items():
        assert called.get(name) == notebook, f"{name} is no longer called first in {notebook}"


def _write_gallery(folder: Path) -> None:
    cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(code) for _, code in WIDGETS.values()]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, folder / GALLERY)


@pytest.fixture(scope="module")
def gallery(lab, browser):
    """The gallery notebook open in JupyterLab with every cell run: (page, one element per widget cell)."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, _url(base, token, GALLERY))
    cells = page.query_selector_all(".jp-Notebook .jp-CodeCell")
    assert len(cells) == len(WIDGETS) + 1, f"the gallery shows {len(cells)} code cells, expected {len(WIDGETS) + 1}"
    yield page, dict(zip(WIDGETS, cells[1:]))
    page.close()


def _redrawn(widget, before: str, seconds: float = 30) -> bool:
    """Whether the widget's figure changes from `before` (its image's address) within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        image = widget.query_selector("img")
        if image and image.get_attribute("src") != before:
            return True
        time.sleep(0.3)
    return False


@pytest.mark.parametrize("name", SLIDER_WIDGETS)
def test_widgets_render_and_respond(gallery, name):
    page, cells = gallery
    cell = cells[name]
    errors = [e.inner_text()[:300] for e in cell.query_selector_all("[data-mime-type='application/vnd.jupyter.error']")]
    assert errors == [], f"{name} shows an error output"
    sliders = cell.query_selector_all(".widget-slider")
    assert sliders, f"{name}: no widget slider was rendered"
    widget = sliders[0].evaluate_handle("e => e.closest('.widget-vbox')").as_element()
    widget.scroll_into_view_if_needed()
    before = widget.query_selector("img").get_attribute("src")
    handle = sliders[0].query_selector("[role=slider], .noUi-handle, .ui-slider-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    assert _redrawn(widget, before), f"{name} ({WIDGETS[name][0]}): moving the slider did not redraw the figure"
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / f"{WIDGETS[name][0]}_widget.png"))


FOCUSED = """w => { const e = document.activeElement;
    return {inside: w.contains(e), tag: e.tagName, role: e.getAttribute('role') || '',
            label: e.getAttribute('aria-label') || (e.closest('.widget-inline-hbox')?.querySelector('.widget-label')?.textContent || ''),
            now: Number(e.getAttribute('aria-valuenow')), max: Number(e.getAttribute('aria-valuemax')),
            chosen: e.tagName === 'SELECT' ? e.selectedIndex : null,
            options: e.tagName === 'SELECT' ? [...e.options].map(o => o.textContent.trim()) : []}; }"""


def _keyboard_choice(focus: dict) -> list[str]:
    """The keys that change the focused control. A drop-down: Space opens its list, an arrow picks the next
    choice (the one before, from the last), Enter takes it. On a closed drop-down JupyterLab takes letters,
    arrows and Enter for its own shortcuts (ipywidgets issue 3912); the open list is the browser's own. A
    slider: an arrow key, to the left from its largest value."""
    if focus["tag"] == "SELECT":
        return ["Space", "ArrowUp" if focus["chosen"] == len(focus["options"]) - 1 else "ArrowDown", "Enter"]
    return ["ArrowLeft" if focus["now"] >= focus["max"] else "ArrowRight"]


@pytest.mark.parametrize("name", SLIDER_WIDGETS)
def test_every_widget_works_with_the_keyboard_alone(gallery, name):
    """From the widget itself, Tab reaches each of its controls in turn (drop-downs and sliders) and a key
    changes it (a letter picks a drop-down's choice, an arrow moves a slider); each time the figure redraws.
    No mouse: what a person who cannot use one does in JupyterLab."""
    page, cells = gallery
    widget = cells[name].query_selector(".widget-slider").evaluate_handle("e => e.closest('.widget-vbox')").as_element()
    widget.scroll_into_view_if_needed()
    controls = len(widget.query_selector_all("select, [role=slider]"))
    widget.evaluate("w => { w.tabIndex = -1; w.focus(); }")  # the starting point: the widget itself, not a control
    used = []
    for _ in range(4 * controls + 4):
        page.keyboard.press("Tab")
        focus = widget.evaluate(FOCUSED)
        if not focus["inside"]:
            break
        if focus["tag"] != "SELECT" and focus["role"] != "slider":
            continue  # a slider's read-out, say: Tab goes on
        before, keys = widget.query_selector("img").get_attribute("src"), _keyboard_choice(focus)
        for key in keys:
            page.keyboard.press(key)
        key = " ".join(keys)
        changed = widget.evaluate(FOCUSED)
        measure = "chosen" if focus["tag"] == "SELECT" else "now"
        assert changed[measure] != focus[measure], f"{name}: pressing {key!r} did not change {focus['label']!r}: {focus}"
        assert _redrawn(widget, before), f"{name}: changing {focus['label']!r} with {key!r} did not redraw the figure"
        used.append(f"{focus['label'].strip() or focus['tag'].lower()} ({key})")
    assert len(used) == controls, f"{name}: Tab reached {len(used)} of its {controls} controls: {used}"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"keyboard_only_{name}.txt").write_text(f"{name}: " + ", ".join(used) + "\n", encoding="utf-8")
    if name == "sliding_window_stepper":
        widget.screenshot(path=str(ARTIFACTS / "keyboard_only_stepper.png"))


def test_jupyterlab_with_every_widget_open_meets_wcag_aa(gallery):
    """axe-core's WCAG 2.1 A/AA check (tools/accessibility.py) of JupyterLab with the gallery notebook
    run: the course's widgets and figures inside JupyterLab's own interface."""
    page, _ = gallery
    barriers = accessibility.violations(page, "JupyterLab with the widget gallery")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility_jupyterlab.txt").write_text("\n".join(barriers) + "\n", encoding="utf-8")
    assert barriers == [], f"{len(barriers)} WCAG 2.1 AA violations (axe-core): " + "; ".join(barriers[:12])


# ----------------------------------------------------------------------------- the drawing explorer
ONE = [(140 + 8 * t / 20, 40 + 200 * t / 20) for t in range(21)]  # canvas pixels: a slightly slanted stroke down
ZERO = [(140 + 60 * math.sin(math.pi * t / 20), 140 - 95 * math.cos(math.pi * t / 20)) for t in range(41)]  # an oval


def _explorer(gallery):
    page, cells = gallery
    root = cells["drawing_explorer"].query_selector(".course-drawing")
    assert root is not None, "the drawing explorer did not render (is anywidget's JupyterLab extension installed?)"
    root.scroll_into_view_if_needed()
    return page, root


def _draw(page, root, points) -> None:
    """Draw one stroke with the mouse through `points` (canvas pixels), then wait for the answer to the last of it."""
    pad = root.query_selector(".course-drawing-pad")
    box = pad.bounding_box()
    scale = box["width"] / 280

    def at(point):
        return box["x"] + point[0] * scale, box["y"] + point[1] * scale

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(point), steps=2)
    page.mouse.up()
    _settled(root)


def _settled(root, seconds: float = 20) -> None:
    """Until the widget has shown the answer to its last request and nothing waits."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if root.get_attribute("data-waiting") == "0":
            time.sleep(0.5)
            return
        time.sleep(0.2)
    pytest.fail("the drawing explorer did not answer within 20 s")


def _map_picture(root, stage: str, channel: int) -> str:
    return root.evaluate(f"r => r.querySelector('canvas[data-stage={stage}][data-channel=\"{channel}\"]').toDataURL()")


def _clear_then_draw_a_zero(page, root, maps_one: str) -> None:
    """Clear empties the view; a 0 drawn then is read as 0, and the first map differs from the 1's (`maps_one`)."""
    root.query_selector("button:text-is('Clear')").click()
    _settled(root)
    assert root.get_attribute("data-predicted") == ""
    _draw(page, root, ZERO)
    assert root.get_attribute("data-predicted") == "0", f"the drawn 0 was read as {root.get_attribute('data-predicted')!r}"
    assert _map_picture(root, "conv1", 0) != maps_one, "the feature maps did not redraw"


def _explain_conv2_map_3(page, root) -> str:
    """Click the pixel at row 5, column 4 of conv2's 10x10 map 3; return the explanation's text alternative."""
    target = root.query_selector("canvas[data-stage=conv2][data-channel='3']")
    box = target.bounding_box()
    target.click(position={"x": box["width"] * 0.45, "y": box["height"] * 0.55})
    alt = page.wait_for_selector(".course-drawing-explanation", timeout=20_000).get_attribute("alt")
    assert alt.startswith("conv2 map 3, row 5, column 4:") and "The network's own value" in alt, alt
    return alt


def test_drawing_a_one_then_a_zero_changes_the_prediction_and_the_maps(gallery):
    """In JupyterLab, with the mouse: a 1 drawn on the canvas, then (after Clear) a 0. The network's answer
    changes from 1 to 0 and the feature maps redraw; the view follows the pen (several updates per stroke).
    The times from stroke to redraw, measured in the browser, go to test-artifacts/drawing_timing.txt."""
    page, root = _explorer(gallery)
    assert "Draw a digit" in root.inner_text()
    _draw(page, root, ONE)
    first = root.get_attribute("data-predicted")
    maps_one = _map_picture(root, "conv1", 0)
    updates_for_one = len(root.get_attribute("data-times").split(","))
    assert first == "1", f"the drawn 1 was read as {first!r}"
    assert updates_for_one >= 3, f"only {updates_for_one} update(s) while drawing a stroke of 20 moves"
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "drawing_explorer_one.png"))
    _clear_then_draw_a_zero(page, root, maps_one)
    root.screenshot(path=str(ARTIFACTS / "drawing_explorer_zero.png"))
    times = sorted(int(t) for t in root.get_attribute("data-times").split(","))
    arrived = sorted(int(t) for t in root.get_attribute("data-arrived").split(","))
    python = sorted(float(t) for t in root.get_attribute("data-python").split(","))
    (ARTIFACTS / "drawing_timing.txt").write_text(
        f"stroke to redraw, in the browser (JupyterLab, headless Chromium), {len(times)} updates: "
        f"median {times[len(times) // 2]} ms, 90th percentile {times[int(0.9 * (len(times) - 1))]} ms, "
        f"slowest {times[-1]} ms; of which the answer's arrival from the kernel, median {arrived[len(arrived) // 2]} ms "
        f"(Python's own work on it: median {python[len(python) // 2]:.0f} ms)\n",
        encoding="utf-8")


def test_clicking_a_map_of_the_drawing_explorer_explains_its_number(gallery):
    page, root = _explorer(gallery)
    if not root.get_attribute("data-predicted"):
        _draw(page, root, ZERO)
    alt = _explain_conv2_map_3(page, root)
    total, value = (float(x) for x in re.findall(r"that is (-?\d+\.\d+), and after the ReLU (-?\d+\.\d+)", alt)[0])
    shown = float(re.search(r"own value: (-?\d+\.\d+)", alt).group(1))
    assert abs(max(total, 0) - shown) < 2e-3 and abs(value - shown) < 2e-3, alt
    # the receptive field is outlined on the input, in the explorer's green
    outlined = root.evaluate("""r => { const c = r.querySelector('.course-drawing-seen'), d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let p = 0; p < d.length; p += 4) if (d[p] === 0x1b && d[p + 1] === 0x9e && d[p + 2] === 0x77) n++; return n; }""")
    assert outlined >= 4 * 13, f"the receptive field's outline has {outlined} pixels on the input"
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "drawing_explorer_explained.png"))


def test_the_drawing_explorer_works_with_the_keyboard_alone(gallery):
    """Tab reaches Clear and Sample digit; a sample digit chosen from the keyboard (Space opens the list, an
    arrow picks, Enter takes it, as for the other widgets' drop-downs) is shown and read by the network;
    Enter on Clear empties the view."""
    page, root = _explorer(gallery)
    root.evaluate("r => { r.tabIndex = -1; r.focus(); }")
    reached = []
    for _ in range(6):
        page.keyboard.press("Tab")
        reached.append(root.evaluate("r => { const e = document.activeElement; return r.contains(e) ? "
                                     "e.tagName + ':' + (e.textContent || e.getAttribute('aria-label')).slice(0, 20) : ''; }"))
        if reached[-1].startswith("SELECT"):
            break
    assert reached[0] == "BUTTON:Clear" and reached[-1].startswith("SELECT"), reached
    for key in ("Space", "ArrowDown", "Enter"):
        page.keyboard.press(key)
    assert root.query_selector("select").evaluate("s => s.value") == "0"
    deadline = time.time() + 20
    while not root.get_attribute("data-predicted") and time.time() < deadline:
        time.sleep(0.2)
    assert root.get_attribute("data-predicted"), "choosing a sample digit with the keyboard showed nothing"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    _settled(root)
    assert root.get_attribute("data-predicted") == "" and "Draw a digit" in root.inner_text()
    used = "Tab to Clear, Tab to Sample digit, Space ArrowDown Enter (a sample), Shift+Tab, Enter (Clear)"
    (ARTIFACTS / "keyboard_only_drawing_explorer.txt").write_text(f"drawing_explorer: {used}\n", encoding="utf-8")


def _walk_live_deck(page, name: str) -> None:
    """In the open deck, or in one opened now: go back to the first view with the deck's own buttons, then
    step through every view and check each as the exported slides are checked (tools/slide_walk.py)."""
    if not page.query_selector("body[data-jp-deck-mode='presenting']"):
        page.query_selector(".jp-Notebook .jp-CodeCell .jp-InputPrompt").click()  # the deck opens at this cell
        page.query_selector(".jp-NotebookPanel-toolbar [data-command='deck:toggle']").click()
        page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=20_000)
    page.wait_for_selector(".jp-Deck-Remote", timeout=20_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell.jp-deck-mod-onscreen", timeout=20_000)
    for _ in range(1000):
        button = page.query_selector(".jp-Deck-Remote :is(.jp-deck-mod-direction-up, .jp-deck-mod-direction-back)"
                                     ":not(.jp-mod-disabled)")
        if not button:
            break
        button.click()
        page.wait_for_timeout(50)
    ARTIFACTS.mkdir(exist_ok=True)
    for earlier in ARTIFACTS.glob(f"present_{name}_view_*.png"):  # a photo of each view that does not fit, this run's only
        earlier.unlink()
    walked = slide_walk.walk_live_deck(page, shots=lambda view: ARTIFACTS / f"present_{name}_view_{view}.png")
    (ARTIFACTS / f"present_{name}_fit.txt").write_text(
        "\n".join([slide_walk.summary(name, walked), *walked["problems"]]) + "\n", encoding="utf-8")
    assert walked["problems"] == [], (f"{name}: {len(walked['problems'])} of {walked['count']} views of the live deck "
                                      "do not fit 1280x720: " + "; ".join(walked["problems"]))


# The live decks are walked view by view (each view checked as the exported slides are) by `make slow-test`
# only, to keep `make test` within its time: 02 (the presented notebook above, about 40 s of walking), and 06,
# 09 and 11, whose cells run in JupyterLab first (30 to 60 s each). JupyterLab cannot put a cell's outputs on a
# subslide of their own, so these notebooks keep a figure's code short enough to fit above it, and the
# deck's styles (tools/present_settings) give figures the exported slides' height limit.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["02_convolution_by_hand", "06_training_lenet_mnist", "09_after_resnet",
                                  "11_efficient_and_designed_cnns"])
def test_the_live_deck_fits_the_screen(lab, browser, name):
    base, token = lab
    _deck_off(base, token)  # the deck remembers that it was on (a setting): off, so that the notebook opens as usual
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        _run_all(page, _url(base, token, f"{name}.ipynb"))
        assert _errors(page) == []
        _walk_live_deck(page, name)
    finally:
        page.close()
        _deck_off(base, token)


def _deck_off(base: str, token: str) -> None:
    """Switch jupyterlab-slideshow's deck off through JupyterLab's settings API."""
    request = urllib.request.Request(f"{base}/lab/api/settings/jupyterlab-slideshow:plugin?token={token}", method="PUT",
                                     data=json.dumps({"raw": json.dumps({"active": False})}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status in (200, 204), response.status


def _visible(element) -> bool:
    """Shown on the screen: rendered, not hidden by the slideshow, and inside the 1280x720 viewport."""
    return element.evaluate("""e => { const r = e.getBoundingClientRect();
        return e.checkVisibility({visibilityProperty: true}) && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight; }""")


@pytest.mark.slow  # 40 s of `make present`: `make slow-test` runs it, `make test` the drawing explorer's deck below
def test_live_slideshow_shows_working_widgets(presented, browser):
    """Notebook 02 presented live by `make present`: the address it prints opens the notebook with no
    question about news; the stepper slide shows the dropdown and the sliders as controls, and moving a
    slider redraws the figure (jupyterlab-slideshow, inside JupyterLab); saving changes nothing in notebooks/."""
    address, log = presented
    assert f"/tree/{PRESENTED}.ipynb?token=" in address, f"the printed address does not open the notebook: {address}"
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    seen = {}

    def opened(page):  # before anything is clicked: the notebook is open, and nothing asks about news
        time.sleep(2)
        seen["tab"] = page.get_attribute(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", "title") or ""
        seen["toasts"] = [t.inner_text() for t in page.query_selector_all(".jp-Notification-Toast")]

    _run_all(page, address, opened)
    assert PRESENTED in seen["tab"], f"the printed address opened {seen['tab']!r}"
    assert not [t for t in seen["toasts"] if "news" in t.lower()], f"JupyterLab asks about its news: {seen['toasts']}"
    assert _errors(page) == []
    assert "Kernel is running over TCP" not in log.read_text(), "the kernel's warning about TCP is printed"
    cell = page.query_selector(".jp-CodeCell:has(.widget-slider)")
    cell.scroll_into_view_if_needed()
    cell.query_selector(".jp-InputPrompt").click()  # the stepper's cell is the current one: the deck opens there
    deck = page.query_selector(".jp-NotebookPanel-toolbar [data-command='deck:toggle']")
    assert deck is not None, "no slideshow (deck) button in the notebook's toolbar: is jupyterlab-slideshow installed?"
    deck.click()
    page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=20_000)
    page.wait_for_selector(".jp-deck-mod-onscreen .widget-slider", state="visible", timeout=20_000)
    dropdown, slider = cell.query_selector(".widget-dropdown select"), cell.query_selector(".widget-slider")
    assert _visible(dropdown), "the stepper slide does not show its controls"
    assert _visible(slider), "the stepper slide does not show its controls"
    figure = cell.query_selector(".widget-vbox img")
    before = figure.get_attribute("src")
    slider.query_selector("[role=slider], .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    assert _redrawn(cell.query_selector(".widget-vbox"), before), "moving the slider did not redraw"
    assert _visible(slider), "the slide moved on when the slider was used"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "present_02_convolution_by_hand_stepper.png"))
    page.keyboard.press("Control+s")  # saved with its outputs: in the scratch copy, not in notebooks/
    time.sleep(2)
    saved = ROOT / ".present" / "notebooks" / f"{PRESENTED}.ipynb"
    assert saved.exists() and '"image/png"' in saved.read_text(), "saving did not write the presented copy"
    page.close()


def test_the_drawing_explorer_works_on_a_live_slide(lab, gallery):
    """The gallery presented as a live deck (jupyterlab-slideshow, as `make present` shows a notebook) on a
    1280x720 screen, opened at the drawing explorer's cell: the widget fits the screen with its three columns
    (drawing, what the network sees, the feature maps) side by side, Clear takes a real click, and a 1 drawn
    there is read."""
    base, token = lab
    page, root = _explorer(gallery)
    page.set_viewport_size({"width": 1280, "height": 720})
    try:
        # its cell becomes the current one, where the deck opens
        root.query_selector(".course-drawing-caption").dispatch_event("mousedown", {"button": 0, "bubbles": True})
        page.query_selector(".jp-NotebookPanel-toolbar [data-command='deck:toggle']").click()
        page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=20_000)
        page.wait_for_selector(".jp-deck-mod-onscreen .course-drawing-pad", state="visible", timeout=20_000)
        root.evaluate("r => r.scrollIntoView({block: 'start'})")  # the widget at the top of the screen, as a lecturer scrolls
        root.query_selector("button:text-is('Clear')").click()  # a real click: nothing of JupyterLab's lies over it
        _settled(root)
        assert root.get_attribute("data-predicted") == "", "Clear, clicked on the slide, did not clear the drawing"
        _draw(page, root, ONE)
        read = root.get_attribute("data-predicted")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "present_drawing_explorer.png"))
        assert read == "1", f"on the slide, the drawn 1 was read as {read!r}"
        box = root.bounding_box()
        columns = [root.query_selector(f".course-drawing-{part}").bounding_box() for part in ("left", "middle", "stages")]
        tops = [round(column["y"]) for column in columns]
        assert max(tops) - min(tops) <= 2, f"on a 1280x720 slide the explorer's columns wrap (their tops: {tops})"
        assert box["y"] >= -2 and box["y"] + box["height"] <= 720 + 2 and box["x"] + box["width"] <= 1280 + 2, \
            f"on a 1280x720 slide the explorer is {box['width']:.0f} x {box['height']:.0f} px at ({box['x']:.0f}, {box['y']:.0f})"
    finally:
        page.keyboard.press("Escape")
        _deck_off(base, token)
        page.set_viewport_size({"width": 1400, "height": 1000})


# -- under ipywidgets 7.7, Colab's version ---------------------------------------------------------------------------
# JupyterLab 4's widget manager speaks ipywidgets 8 only, so ipywidgets 7.7 in a browser needs a JupyterLab of its
# time: `make test` installs JupyterLab 3.6 with jupyterlab_widgets 1.1 and anywidget's extension in .venv/lab3. The
# kernel is this environment's Python with ipywidgets 7.7 (.venv/ipywidgets7) first on its path, as in
# tests/test_widgets_ipywidgets7.py.
LAB3 = Path(sys.prefix) / "lab3" / "bin" / "python"
IPYWIDGETS7 = Path(sys.prefix) / "ipywidgets7"
EXPLORER_7 = "drawing_explorer_ipywidgets7.ipynb"


@pytest.fixture(scope="module")
def lab_ipywidgets7(tmp_path_factory):
    """JupyterLab 3.6 serving one notebook, the drawing explorer built as notebook 06 builds it, with a kernel
    that imports ipywidgets 7.7: (address, token)."""
    if not LAB3.exists() or not (IPYWIDGETS7 / "ipywidgets").is_dir():
        pytest.skip("JupyterLab 3.6 (.venv/lab3) or ipywidgets 7.7 (.venv/ipywidgets7) is not installed: make test installs them")
    folder = tmp_path_factory.mktemp("lab3")
    kernel = folder / "jupyter" / "kernels" / "course-ipywidgets7"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python",
        "display_name": "Python (ipywidgets 7.7)", "env": {"PYTHONPATH": str(IPYWIDGETS7)}}))
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SETUP + "\nimport ipywidgets\nprint('ipywidgets', ipywidgets.__version__)"),
        nbformat.v4.new_code_cell(WIDGETS["drawing_explorer"][1])])
    notebook.metadata["kernelspec"] = {"name": "course-ipywidgets7", "display_name": "Python (ipywidgets 7.7)",
                                       "language": "python"}
    nbformat.write(notebook, folder / EXPLORER_7)
    yield from _serve(str(LAB3), folder, "course-browser-test-7", {"JUPYTER_PATH": str(folder / "jupyter")},
                      "JupyterLab 3.6")


def test_the_drawing_explorer_works_under_ipywidgets_7(lab_ipywidgets7, browser):
    """The Colab rerun in a browser: in JupyterLab 3.6 with ipywidgets 7.7 in the kernel, a 1 and then a 0 drawn
    with the mouse are read as 1 and 0, the feature maps redraw, and a click on a map explains its number."""
    base, token = lab_ipywidgets7
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _run_all(page, f"{base}/lab/tree/{EXPLORER_7}?reset&token={token}")
        assert _errors(page) == []
        assert "ipywidgets 7.7." in page.inner_text(".jp-Notebook"), "the kernel does not run ipywidgets 7.7"
        root = page.wait_for_selector(".course-drawing", timeout=30_000)
        root.scroll_into_view_if_needed()
        _draw(page, root, ONE)
        assert root.get_attribute("data-predicted") == "1", f"the drawn 1 was read as {root.get_attribute('data-predicted')!r}"
        maps_one = _map_picture(root, "conv1", 0)
        _clear_then_draw_a_zero(page, root, maps_one)
        _explain_conv2_map_3(page, root)
        ARTIFACTS.mkdir(exist_ok=True)
        root.screenshot(path=str(ARTIFACTS / "drawing_explorer_ipywidgets7.png"))
    finally:
        page.close()
