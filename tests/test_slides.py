"""tools/slides.py (`make slides`): reveal.js slideshows that open with no network.

The first tests check the pieces (widgets made static, the detector of network loads, the template)
without a browser. The last ones export notebooks, open every slideshow from the disk in headless
Chromium with the network switched off, and check what a lecturer would see.
"""

import re
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT, keep_off_the_network

from tools import export, slides

ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))  # tools.notebooks.NOTEBOOKS is the folder
# Run in smoke mode before export: it has formulas, figures and a widget.
EXECUTED = "02_convolution_by_hand"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def _children(*ids: str) -> list[str]:
    return [f"IPY_MODEL_{i}" for i in ids]


def _notebook_with_widget(state: dict, root: str):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explorer()")
    view = {"model_id": root, "version_major": 2, "version_minor": 0}
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="before\n"),
        nbformat.v4.new_output("display_data", data={export.WIDGET_VIEW: view, "text/plain": "VBox(...)"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 Title"), cell]
    nb.metadata["widgets"] = {export.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def test_a_widget_with_an_output_area_becomes_a_note_and_its_figure():
    figure = {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG, "text/plain": "<Figure>"}}
    state = {
        "box": _model("VBoxModel", children=_children("controls", "out")),
        "controls": _model("HBoxModel", children=_children("slider", "box")),  # a cycle must not loop
        "slider": _model("IntSliderModel", value=3, description="step"),
        "out": _model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout", "text": "drawing\n"}, figure]),
    }
    nb = _notebook_with_widget(state, "box")
    assert export.replace_widgets(nb) == 1
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data", "display_data"]
    assert "JupyterLab or Colab" in outputs[1].data["text/html"]
    assert "starting values" in outputs[1].data["text/html"]
    assert outputs[2].data["image/png"] == PNG
    assert "widgets" not in nb.metadata, "left in, the widget state makes nbconvert load a widget renderer from a CDN"
    assert state["out"]["state"]["outputs"][1] == figure, "the widget state must not be changed"


def test_a_progress_bar_is_left_out():
    state = {
        "bar": _model("HBoxModel", children=_children("left", "progress", "right")),
        "left": _model("HTMLModel", value="epoch 1/3"),
        "progress": _model("FloatProgressModel", value=16.0, max=16.0),
        "right": _model("HTMLModel", value="16/16"),
    }
    nb = _notebook_with_widget(state, "bar")
    assert export.replace_widgets(nb) == 1
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream"]


@pytest.mark.parametrize("state", [
    {"slider": _model("IntSliderModel", value=1)},
    {"box": _model("HBoxModel", children=_children("label")), "label": _model("HTMLModel", value="no bar")},
    {},  # no state stored at all
], ids=["slider", "labels-only", "no-state"])
def test_a_widget_without_an_output_area_gets_a_note_only(state):
    nb = _notebook_with_widget(state, next(iter(state), "missing"))
    export.replace_widgets(nb)
    outputs = nb.cells[1].outputs
    assert len(outputs) == 2
    assert "nothing" in outputs[1].data["text/html"]


@pytest.mark.parametrize("snippet", [
    '<script src="https://cdn.example.org/reveal.js"></script>',
    "<script src='//unpkg.com/x.js'></script>",
    '<link rel="stylesheet" href="http://example.org/a.css">',
    '<img alt="badge" src="https://colab.research.google.com/assets/colab-badge.svg">',
    "<style>@import url(https://fonts.example.org/css);</style>",
    '<style>@import "https://fonts.example.org/css";</style>',
    '<div style="background: url(\'http://example.org/a.png\')"></div>',
    '<IFRAME SRC="https://example.org"></IFRAME>',
])
def test_network_loads_are_found(snippet):
    assert export.remote_loads(f"<html>{snippet}</html>")


@pytest.mark.parametrize("snippet", [
    '<a href="https://pytorch.org">a link is only followed when clicked</a>',
    '<img src="data:image/png;base64,AAAA">',
    '<script src="_assets/reveal.js/dist/reveal.js"></script>',
    '<link rel="stylesheet" href="_assets/reveal.js/dist/theme/white.css">',
    "<p>see https://example.org and url(x)</p>",
])
def test_local_and_inline_content_is_not_a_network_load(snippet):
    assert export.remote_loads(f"<html>{snippet}</html>") == []


def _small_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 Title\n\nThe output size is $\\lfloor (n - k)/s \\rfloor + 1$."),
        nbformat.v4.new_markdown_cell("## A section", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_code_cell("1 + 1"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_the_stock_export_would_use_the_network_and_ours_does_not():
    from nbconvert import SlidesExporter

    stock, _ = SlidesExporter().from_notebook_node(_small_notebook())
    assert export.remote_loads(stock), "nbconvert's own slides no longer load from a CDN: is the local copy still needed?"
    ours = slides.export(_small_notebook())
    assert export.remote_loads(ours) == []
    assert f'src="{slides.REVEAL}/dist/reveal.js"' in ours
    assert f'src="{slides.MATHJAX}/MathJax.js' in ours
    assert ours.count("<section") >= 4, "two slides, each a section holding a vertical stack"


def test_every_local_address_of_a_page_exists(tmp_path):
    assert slides.main(["--no-execute", "--out", str(tmp_path), "00_setup"]) == 0
    page = (tmp_path / "00_setup.slides.html").read_text(encoding="utf-8")
    addresses = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"#]+)"', page)
    local = [a.split("?")[0] for a in addresses if not a.startswith("data:")]
    assert len(local) >= 4, local
    missing = [a for a in local if not (tmp_path / a).is_file()]
    assert missing == [], f"the page refers to files the export did not copy: {missing}"
    # what the reveal.js theme imports (its fonts) is there too
    theme = tmp_path / slides.REVEAL / "dist" / "theme" / "white.css"
    for imported in re.findall(r"@import url\(([^)]+)\)", theme.read_text(encoding="utf-8")):
        assert (theme.parent / imported.strip("'\"")).is_file(), imported
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="00_setup.slides.html"' in index
    assert "not run" in index
    assert "01_" not in index


def test_a_missing_package_names_the_extra_to_install(monkeypatch):
    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda name: None if name == "sphinx_revealjs" else real(name))
    with pytest.raises(SystemExit, match=r"\[slides\]"):
        export.asset_sources()


def test_an_unknown_theme_is_refused_with_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit):
        slides.main(["--no-execute", "--theme", "neon", "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert "--theme 'neon'" in error
    assert "white" in error
    assert "black" in error
    assert not list(tmp_path.iterdir()), "nothing is written after a refused argument"


# -- in a browser, with the network off ------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every notebook exported as stored, then one of them run in smoke mode and exported again."""
    out = tmp_path_factory.mktemp("slides")
    assert slides.main(["--no-execute", "--out", str(out)]) == 0
    assert slides.main(["--smoke", "--out", str(out), EXECUTED]) == 0
    return out


def _slide_cells(path: Path) -> int:
    cells = nbformat.read(path, as_version=4).cells
    return sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in cells)


def _open_offline(browser, page_path: Path):
    """Open a slideshow from the disk with the network off; return the page and what went wrong."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 720})  # a projector's size
    page = context.new_page()
    trouble = {"remote": keep_off_the_network(page), "failed": [], "errors": []}
    page.on("requestfailed", lambda request: trouble["failed"].append(request.url))
    page.on("pageerror", lambda error: trouble["errors"].append(str(error)))
    page.on("console", lambda message: trouble["errors"].append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error" else None)
    page.goto(page_path.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=20_000)
    page.wait_for_function("window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0", timeout=30_000)
    return context, page, trouble


# Every slide and subslide, shown in turn, is checked for what does not fit: an element outside the
# slide (unless a scrolling box of the slide holds it), or content cut off by a box that hides its
# overflow (MathJax's own boxes aside). A slide too tall even when shrunk scrolls inside itself, which
# counts as fitting. One call walks the whole slideshow in the page: (slide, title, what) per problem.
WALK = """async () => {
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const idle = () => new Promise(done => MathJax.Hub.Queue(done));  // after the formulas are drawn and refitted
  const canvas = () => document.querySelector('.reveal .slides').getBoundingClientRect();
  const tol = 2, problems = [];
  const check = slide => {
    const c = canvas();
    const outside = r => r.bottom > c.bottom + tol || r.right > c.right + tol || r.left < c.left - tol || r.top < c.top - tol;
    const scrollingBox = e => {  // the outermost box of the slide that scrolls and holds e
      let box = null;
      for (let a = e.parentElement; a && a !== slide.parentElement; a = a.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(a).overflowY)) box = a;
      }
      return box;
    };
    for (const e of [slide, ...slide.querySelectorAll('*')]) {
      if (e.parentElement && e.parentElement.closest('.MathJax, .MathJax_Display, .MathJax_Preview')) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || !e.checkVisibility({visibilityProperty: true})) continue;
      const what = `<${e.tagName.toLowerCase()}> "${(e.innerText || '').trim().slice(0, 50).replace(/\\s+/g, ' ')}"`;
      if (e.scrollWidth > e.clientWidth + tol || e.scrollHeight > e.clientHeight + tol) {
        const style = getComputedStyle(e);
        if (e.scrollWidth > e.clientWidth + tol && style.overflowX === 'hidden'
            || e.scrollHeight > e.clientHeight + tol && style.overflowY === 'hidden') return 'cut off: ' + what;
      }
      if (outside(r)) {
        const box = e === slide ? null : scrollingBox(e);
        if (!box || outside(box.getBoundingClientRect())) return 'outside the slide: ' + what;
      }
    }
    return null;
  };
  await document.fonts.ready;
  const stacks = Reveal.getHorizontalSlides().map(s => s.querySelectorAll(':scope > section').length || 1);
  for (let h = 0; h < stacks.length; h++) {
    for (let v = 0; v < stacks[h]; v++) {
      Reveal.slide(h, v);
      const slide = Reveal.getCurrentSlide();
      if (slide.querySelector('script[type^="math/tex"]')) await idle();  // a slide with formulas: wait for them
      const found = check(slide);
      if (found) {
        const title = (slide.querySelector('h1, h2, h3') || {}).textContent || 'untitled';
        problems.push(`slide ${h + 1}.${v + 1} (${title.trim().slice(0, 40)}): ${found}`);
      }
    }
  }
  return problems;
}"""


# MathJax 2 tests whether web fonts load with a font whose address is about:blank; Chromium refuses it
# on a page opened from the disk. That refusal is the one message allowed: nothing is missing.
MATHJAX_FONT_PROBE = "about:blank"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.stem for p in NOTEBOOK_PATHS])
def test_slideshow_opens_with_no_network_and_fits_the_screen(exported, browser, path):
    context, page, trouble = _open_offline(browser, exported / f"{path.stem}.slides.html")
    try:
        assert page.evaluate("Reveal.getHorizontalSlides().length") == _slide_cells(path)
        page.evaluate("Reveal.slide(1)")
        page.wait_for_function("MathJax.Hub.queue.pending === 0", timeout=30_000)
        assert page.evaluate("document.querySelectorAll('.MathJax_Error, .merror').length") == 0
        formulas = page.evaluate("document.querySelectorAll('script[type^=\"math/tex\"]').length")
        rendered = page.evaluate("document.querySelectorAll('.MathJax, .MathJax_Display').length")
        assert rendered >= formulas, f"{formulas} formulas, {rendered} typeset"
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0, f"{broken} image(s) did not load"
        assert trouble["remote"] == [], "the slideshow asked the network for something"
        assert [u for u in trouble["failed"] if u != MATHJAX_FONT_PROBE] == []
        assert [e for e in trouble["errors"] if MATHJAX_FONT_PROBE not in e] == []
        overflowing = page.evaluate(WALK)
        page.evaluate("Reveal.slide(0, 0)")
        page.wait_for_function("MathJax.Hub.queue.pending === 0", timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"slides_{path.stem}_title.png"))
        assert overflowing == [], f"{path.stem}: content outside the 1280x720 screen on " + "; ".join(overflowing)
    finally:
        context.close()


def test_slides_leave_out_the_solutions_but_keep_the_exercises(exported, tmp_path):
    from tools import editions

    marker = "<strong>Solution"  # how a worked solution's text starts, as HTML
    for path in NOTEBOOK_PATHS:
        page = (exported / f"{path.stem}.slides.html").read_text(encoding="utf-8")
        found = editions.exercises(nbformat.read(path, as_version=4))
        assert all(f"<strong>{e.number}.</strong>" in page for e in found), path.name
        assert marker not in page, f"{path.name}: a solution is on the slides"
    assert slides.main(["--no-execute", "--solutions", "--out", str(tmp_path), NOTEBOOK_PATHS[0].stem]) == 0
    assert marker in (tmp_path / f"{NOTEBOOK_PATHS[0].stem}.slides.html").read_text(encoding="utf-8")


def test_executed_slides_show_formulas_figures_and_the_widget_figure(exported, browser):
    context, page, trouble = _open_offline(browser, exported / f"{EXECUTED}.slides.html")
    try:
        assert page.evaluate("document.querySelectorAll('.MathJax').length") > 20, "the notebook's formulas are typeset"
        assert page.evaluate("[...document.images].filter(i => i.naturalWidth > 300).length") >= 4, "its figures"
        # the stepper's place: the note, then the figure it drew, on a slide of its own
        note = page.locator(".course-widget-note")
        assert note.count() == 1
        indices = page.evaluate("Reveal.getIndices(document.querySelector('.course-widget-note').closest('section'))")
        page.evaluate(f"Reveal.slide({indices['h']}, {indices['v']}, 99)")
        page.wait_for_timeout(800)  # the slide transition
        figure = page.locator("section.present img").last
        assert figure.evaluate("i => i.naturalWidth") > 300
        figure.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"slides_{EXECUTED}_widget.png"))
        assert trouble["remote"] == []
    finally:
        context.close()
