"""tools/site.py (`make site`): the course website builds offline and opens from the disk.

One build of the home page and two chapters (notebook 00 run in smoke mode for its figures,
notebook 03 as stored for its formulas, which need no run) is checked file by file (every
internal link and anchor resolves, no page loads from the network, no solution is published) and
then in headless Chromium with the network off: the maths is typeset and the figures are drawn.
Those builds are tests marked slow (Sphinx, a notebook run and Chromium: `make slow-test`, which
CI runs after `make test`), with the whole site checked page by page; `make test` runs the rest.
"""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from helpers import ROOT, keep_off_the_network

from tools import accessibility, editions, site
from tools.notebooks import NOTEBOOKS

pytest.importorskip("myst_nb")

ARTIFACTS = ROOT / "test-artifacts"
CHAPTERS = ["00_setup", "03_padding_stride_pooling"]  # figures, formulas, exercises with solutions


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) and not (tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch")):
                self.links.append(attrs[name])


def _parse(page: Path) -> Links:
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    index = site.build(CHAPTERS, out=root / "html", smoke=True, work=root / "work", execute={CHAPTERS[0]})
    return index.parent


@pytest.mark.slow
def test_the_home_page_is_the_readme_with_every_chapter_in_order(built):
    page = (built / "index.html").read_text(encoding="utf-8")
    assert "Open in Colab" in page or "Open In Colab" in page
    toc = re.findall(r'href="(notebooks/[^"#]+\.html)"', page)
    assert list(dict.fromkeys(toc))[:2] == [f"notebooks/{name}.html" for name in CHAPTERS]
    # a notebook that was not built, and files that are not pages, are linked on GitHub
    assert "https://github.com/cnn-course/cnn-course/blob/main/notebooks/02_convolution_by_hand.ipynb" in page
    assert "https://github.com/cnn-course/cnn-course/blob/main/BENCHMARKS.md" in page


@pytest.mark.slow
def test_every_internal_link_and_anchor_resolves(built):
    pages = sorted(p for p in built.rglob("*.html") if "_static" not in p.parts)  # _static: the theme's templates
    ids = {page: _parse(page).ids for page in pages}
    broken = []
    for page in pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(built)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in ids.get(target, set()):
                broken.append(f"{page.relative_to(built)} -> {link} (no such anchor)")
    assert not broken, f"{len(broken)} broken links: {broken[:8]}"


@pytest.mark.slow
def test_no_page_loads_from_the_network(built):
    for page in built.rglob("*.html"):
        assert not site.remote_loads(page.read_text(encoding="utf-8")), page.name


@pytest.mark.slow
def test_the_public_site_has_no_solution(built):
    for name in CHAPTERS:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        page = (built / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        markers = [nb.cells[i].source.splitlines()[0] for e in editions.exercises(nb) for i in e.solutions]
        assert markers
        assert not [m for m in markers if len(m) > 25 and m.split("**")[-1].strip() in page]
        assert "Exercises" in page


@pytest.mark.slow
def test_chapters_show_maths_and_figures_offline(built, browser):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    remote = keep_off_the_network(page)
    errors, typeset_pages, barriers = [], [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        for name in ["index"] + [f"notebooks/{c}" for c in CHAPTERS]:
            page.goto((built / f"{name}.html").as_uri())
            page.wait_for_load_state("load")
            if name == "index":
                assert page.locator("nav a[href='notebooks/00_setup.html']").count() >= 1
                barriers += accessibility.violations(page, name)
                continue
            formulas = page.evaluate("document.querySelectorAll('.math').length")  # Sphinx's marks, before MathJax
            if formulas:  # Sphinx loads MathJax on pages with formulas only
                page.wait_for_function("window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0",
                                       timeout=30_000)
                typeset = page.evaluate("[...document.querySelectorAll('.math')].filter(m => "
                                        "m.querySelector('.MathJax, .MathJax_Display')).length")
                failed = page.evaluate("document.querySelectorAll('.MathJax_Error, merror').length")
                assert typeset == formulas, f"{name}: {typeset} of {formulas} formulas typeset, {failed} failed"
                assert failed == 0, f"{name}: {typeset} of {formulas} formulas typeset, {failed} failed"
                readable = page.evaluate("document.querySelectorAll('.MJX_Assistive_MathML').length")
                assert readable >= formulas, f"{name}: {readable} of {formulas} formulas readable by a screen reader"
                typeset_pages.append(name)
            figures = page.evaluate("""[...document.querySelectorAll('.cell_output img')].filter(img =>
                img.complete && img.naturalWidth > 50 && img.getBoundingClientRect().width > 50).length""")
            assert figures > 0 or name != f"notebooks/{CHAPTERS[0]}", f"{name}: no figure is drawn"
            unexplained = page.evaluate("""[...document.querySelectorAll('.cell_output img')]
                .filter(img => !(img.getAttribute('alt') || '').trim()).length""")
            assert unexplained == 0, f"{name}: {unexplained} figure(s) with no text alternative (alt)"
            barriers += accessibility.violations(page, name)  # after MathJax: the formulas as a reader gets them
            text = page.inner_text("main")
            assert "google.colab" not in text, f"{name}: Colab's plumbing is shown"
            assert "next cell installs" not in text, f"{name}: Colab's plumbing is shown"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site_{CHAPTERS[-1]}.png"))
    finally:
        context.close()
    assert typeset_pages == [f"notebooks/{CHAPTERS[-1]}"], typeset_pages
    assert barriers == [], f"{len(barriers)} WCAG 2.1 AA violations (axe-core): " + "; ".join(barriers[:10])
    assert not remote, f"requests to the network: {remote[:5]}"
    assert not errors, errors[:3]


@pytest.mark.slow
def test_the_build_writes_nothing_beside_the_site_folder(built):
    assert sorted(p.name for p in built.parent.iterdir()) == ["html", "work"]


def test_printed_paths_of_the_machine_are_shortened(tmp_path):
    warning = ("/opt/hostedtoolcache/Python/3.11.9/x64/lib/python3.11/site-packages/captum/attr/_core/saliency.py:129: "
               "UserWarning: Input Tensor 0 did not already require gradients\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=warning),
        nbformat.v4.new_output("stream", name="stdout", text=f"saved {tmp_path}/runs/lenet.pt\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "'C:\\\\Python311\\\\Lib\\\\site-packages\\\\torch\\\\nn'"}),
        nbformat.v4.new_output("error", ename="OSError", evalue="", traceback=[f"File {tmp_path}/notebooks/x.py, line 3"]),
    ])])
    assert site.hide_machine_paths(nb, root=tmp_path) == 4
    stderr, stdout, result, error = nb.cells[0].outputs
    assert stderr.text.startswith("site-packages/captum/attr/_core/saliency.py:129: UserWarning")
    assert stdout.text == "saved runs/lenet.pt\n"
    assert error.traceback == ["File notebooks/x.py, line 3"]
    assert result.data["text/plain"] == "'site-packages/torch\\\\nn'"  # a repr, its backslashes doubled
    # and nothing else is touched
    assert site.hide_machine_paths(nb, root=tmp_path) == 0


@pytest.mark.slow
def test_every_chapter_of_the_whole_site_meets_wcag_aa(whole_site, browser):
    """The whole site, every notebook run in smoke mode (a few minutes; the runs also give every notebook's
    slideshow in tests/test_slides.py): axe-core's WCAG 2.1 A/AA check of every page."""
    index, runs = whole_site
    names = list(runs)
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    barriers, unexplained = [], []
    try:
        for name in ["index"] + [f"notebooks/{n}" for n in names]:
            page.goto((index.parent / f"{name}.html").as_uri())
            page.wait_for_load_state("load")
            if page.evaluate("document.querySelectorAll('.math').length"):
                page.wait_for_function("window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0", timeout=60_000)
            barriers += accessibility.violations(page, name)
            unexplained += [f"{name}: {n} figure(s)" for n in [page.evaluate(
                "[...document.querySelectorAll('.cell_output img')].filter(i => !(i.alt || '').trim()).length")] if n]
    finally:
        context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility_site.txt").write_text(
        f"{len(names) + 1} pages checked\n" + "\n".join(barriers + unexplained) + "\n", encoding="utf-8")
    assert barriers == [], f"{len(barriers)} WCAG 2.1 AA violations (axe-core): " + "; ".join(barriers[:10])
    assert unexplained == [], f"figures with no text alternative: {unexplained}"


def test_a_kept_run_is_read_back_by_name_and_mode(tmp_path):
    (tmp_path / "executed").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, tmp_path / "executed" / "00_setup.smoke.0123456789abcdef.ipynb")
    assert site.executed(tmp_path, "00_setup").cells[0].source == "1 + 1"
    assert site.executed(tmp_path, "00_setup", smoke=False) is None
    assert site.executed(tmp_path, "01_mlp_to_cnn") is None
