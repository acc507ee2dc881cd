"""Walk a reveal.js slideshow in a browser and say which slides a lecturer could not show as they are.

Every slide and subslide, shown in turn, is checked as it looks on a 1280x720 projector: nothing outside
the slide, nothing cut off by a box that hides its overflow (MathJax's own boxes aside), no slide that
scrolls, none shrunk below 90%, and every piece of text at least 24 px on the screen (code 20 px),
MathJax's formulas aside (their sub- and superscripts are smaller by design).

Used by the tests (tests/test_slides.py: the walk itself on slides made to fail it in `make test`; notebook
02's slideshow from `make slides SMOKE=1` and every notebook's from the whole website's runs in `make
slow-test`) and by tools/slide_plan.py, which plans the slide breaks that make this pass.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

SMALLEST_TEXT, SMALLEST_CODE, SMALLEST_ZOOM = 24, 20, 0.9
# A figure's smallest labels (the tick labels: 14 pt in the slides' matplotlibrc, drawn at matplotlib's
# 100 dpi, so 19.4 px in the picture) must stay at least 14 px high on the screen: a figure shown at less
# than 72% of its size does not fit.
SMALLEST_FIGURE_TEXT, FIGURE_DPI = 14, 100
FONT_SIZES = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize")


def figure_label_px() -> float:
    """The height in the picture of a figure's smallest text, from the course's presentation style (the
    slides' matplotlibrc holds the same sizes; tests/test_slides.py keeps the two equal)."""
    from course_utils.plotting import PRESENTATION_STYLE

    return min(float(PRESENTATION_STYLE[key]) for key in FONT_SIZES) * FIGURE_DPI / 72


def smallest_figure_scale() -> float:
    return SMALLEST_FIGURE_TEXT / figure_label_px()


# MathJax 2 tests whether web fonts load with a font whose address is about:blank; Chromium refuses it
# on a page opened from the disk. That refusal is the one message allowed: nothing is missing.
MATHJAX_FONT_PROBE = "about:blank"

# One call walks the whole slideshow in the page; it returns the problems, "slide H.V (title): what"
# each, the number of slides, and the smallest zoom, text and code sizes it saw.
WALK = """async (FIGURE_SCALE) => {
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const idle = () => new Promise(done => MathJax.Hub.Queue(done));  // after the formulas are drawn and refitted
  const canvas = () => document.querySelector('.reveal .slides').getBoundingClientRect();
  const scale = () => canvas().width / document.querySelector('.reveal .slides').offsetWidth;
  const tol = 2, problems = [], smallest = {zoom: 1, text: 1e9, code: 1e9, figure: 1};
  const inMath = e => e.closest('.MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_SVG');
  const ownText = e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const check = slide => {
    const c = canvas(), found = [];
    const zoom = parseFloat(slide.style.zoom || '1');
    smallest.zoom = Math.min(smallest.zoom, zoom);
    if (zoom < 0.9 - 1e-6) found.push(`shrunk to ${Math.round(zoom * 100)}%`);
    if (slide.classList.contains('course-scroll')) found.push('scrolls');
    const outside = r => r.bottom > c.bottom + tol || r.right > c.right + tol || r.left < c.left - tol || r.top < c.top - tol;
    let small = null;
    for (const e of [slide, ...slide.querySelectorAll('*')]) {
      if (inMath(e)) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || !e.checkVisibility({visibilityProperty: true})) continue;
      const what = `<${e.tagName.toLowerCase()}> "${(e.innerText || '').trim().slice(0, 50).replace(/\\s+/g, ' ')}"`;
      if (e.tagName === 'IMG' && e.naturalHeight > 0) {  // a figure: shown at this fraction of its size
        const shown = r.height / e.naturalHeight;
        smallest.figure = Math.min(smallest.figure, shown);
        if (shown < FIGURE_SCALE - 1e-3) found.push(`figure shown at ${Math.round(shown * 100)}% (labels too small)`);
      }
      if (e.scrollWidth > e.clientWidth + tol || e.scrollHeight > e.clientHeight + tol) {
        const style = getComputedStyle(e);
        if (e.scrollWidth > e.clientWidth + tol && ['hidden', 'auto', 'scroll'].includes(style.overflowX)
            || e.scrollHeight > e.clientHeight + tol && ['hidden', 'auto', 'scroll'].includes(style.overflowY)) {
          found.push((style.overflowY === 'hidden' || style.overflowX === 'hidden' ? 'cut off: ' : 'scrolls: ') + what);
          break;
        }
      }
      if (outside(r)) { found.push('outside the slide: ' + what); break; }
      if (ownText(e)) {
        const code = !!e.closest('pre, code');
        const px = parseFloat(getComputedStyle(e).fontSize) * scale() * zoom;
        const key = code ? 'code' : 'text';
        smallest[key] = Math.min(smallest[key], px);
        if (px < (code ? 20 : 24) - 0.05 && !small) small = `${key} ${px.toFixed(1)} px: ${what}`;
      }
    }
    if (small) found.push(small);
    return found.join('; ');
  };
  await document.fonts.ready;
  const stacks = Reveal.getHorizontalSlides().map(s => s.querySelectorAll(':scope > section').length || 1);
  let count = 0;
  for (let h = 0; h < stacks.length; h++) {
    for (let v = 0; v < stacks[h]; v++) {
      Reveal.slide(h, v);
      count++;
      const slide = Reveal.getCurrentSlide();
      if (slide.querySelector('script[type^="math/tex"]')) await idle();  // a slide with formulas: wait for them
      const found = check(slide);
      if (found) {
        const title = (slide.querySelector('h1, h2, h3') || {}).textContent || 'untitled';
        problems.push(`slide ${h + 1}.${v + 1} (${title.trim().slice(0, 40)}): ${found}`);
      }
    }
  }
  return {problems, count, smallest};
}"""


def open_offline(browser, page_path: Path, keep_off=None):
    """Open a slideshow from the disk with the network off, at 1280x720; return (context, page, trouble),
    trouble holding the requests that failed and the page's errors (and, with `keep_off`, what it
    records of requests to the network)."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 720})  # a projector's size
    page = context.new_page()
    trouble = {"remote": keep_off(page) if keep_off else [], "failed": [], "errors": []}
    page.on("requestfailed", lambda request: trouble["failed"].append(request.url))
    page.on("pageerror", lambda error: trouble["errors"].append(str(error)))
    page.on("console", lambda message: trouble["errors"].append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error" else None)
    page.goto(page_path.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=20_000)
    page.wait_for_function("window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0", timeout=60_000)
    return context, page, trouble


def walk(page) -> dict:
    """{"problems": [...], "count": slides, "smallest": {"zoom", "text", "code"}} for an open slideshow."""
    return page.evaluate(WALK, smallest_figure_scale())


def summary(name: str, walked: dict) -> str:
    smallest = walked["smallest"]
    return (f"{name}: {walked['count']} slides; smallest zoom {smallest['zoom']:.2f}, text {smallest['text']:.1f} px, "
            f"code {smallest['code']:.1f} px, figure {smallest['figure']:.2f} of its size; "
            f"{len(walked['problems'])} slide(s) that do not fit")


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


def browser_available() -> bool:
    return importlib.util.find_spec("playwright") is not None and Path(chromium_path()).exists()


def launch(playwright):
    """Debian's headless Chromium (no browser download); without the background-networking flags it keeps
    trying to reach Google's services."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])


def refuse_the_network(page) -> list[str]:
    """Let `page` (Playwright) load only files and data URLs; return the list that collects the addresses
    of every other request, each of which is refused."""
    remote: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            remote.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return remote


def check_slideshow(path: Path, name: str, screenshots: dict[str, Path] | None = None,
                    title_screenshot: Path | None = None, accessibility_check: bool = True, browser=None) -> dict:
    """Open one slideshow offline in a browser (`browser`, a Playwright browser, or one of its own) and walk
    it. Returns the walk's results with `slides` (horizontal slides), `trouble` (network requests, failed
    loads, page errors, formulas that did not typeset, images that did not load), a one-line `summary` and
    `accessibility` (the WCAG 2.1 A/AA violations axe-core finds on the slides). `screenshots` maps a cell id
    to the file that gets a picture of the slide holding that cell."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            own = launch(playwright)
            try:
                return check_slideshow(path, name, screenshots, title_screenshot, accessibility_check, browser=own)
            finally:
                own.close()
    context, page, trouble = open_offline(browser, path, keep_off=refuse_the_network)
    try:
        slides = page.evaluate("Reveal.getHorizontalSlides().length")
        walked = walk(page)
        found = [*(f"asked the network for {url}" for url in trouble["remote"]),
                 *(f"could not load {url}" for url in trouble["failed"] if url != MATHJAX_FONT_PROBE),
                 *(f"page error: {error}" for error in trouble["errors"] if MATHJAX_FONT_PROBE not in error)]
        errors = page.evaluate("document.querySelectorAll('.MathJax_Error, .merror').length")
        if errors:
            found.append(f"{errors} formula(s) MathJax could not typeset")
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
        if broken:
            found.append(f"{broken} image(s) did not load")
        for cell_id, target in (screenshots or {}).items():
            target.parent.mkdir(parents=True, exist_ok=True)
            where = page.evaluate(f"""(() => {{ const e = document.getElementById({cell_id!r}.startsWith('cell-id=')
                ? {cell_id!r} : 'cell-id=' + {cell_id!r}); return e && Reveal.getIndices(e.closest('section')); }})()""")
            if where is None:
                found.append(f"no cell {cell_id} to take a picture of")
                continue
            page.evaluate(f"Reveal.slide({where['h']}, {where['v'] or 0}, 99)")
            page.screenshot(path=str(target))
        if title_screenshot is not None:
            page.evaluate("Reveal.slide(0, 0)")
            title_screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(title_screenshot))
        barriers = accessibility_of_every_slide(page, name) if accessibility_check else []
    finally:
        context.close()
    return {**walked, "slides": slides, "trouble": found, "summary": summary(name, walked), "accessibility": barriers}


def accessibility_of_every_slide(page, name: str) -> list[str]:
    """axe-core's WCAG 2.1 A/AA check (tools/accessibility.py) of every slide at once: reveal.js hides all
    but the current slide, so the check shows them all first (the walk is done by then)."""
    from tools import accessibility

    page.add_style_tag(content=".reveal .slides section { display: block !important; visibility: visible !important; }")
    page.evaluate("document.querySelectorAll('.reveal .slides [aria-hidden]').forEach(e => e.removeAttribute('aria-hidden'))")
    return accessibility.violations(page, name, context=".reveal .slides")


# The same measures for JupyterLab's live deck (jupyterlab-slideshow, `make present`): one call checks the
# cells shown now; LIVE_WALK steps through the deck with its own buttons (down where there is a subslide,
# else forward) and checks each view.
LIVE_CHECK = """(FIGURE_SCALE) => {
  const tol = 2, found = [];
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell.jp-deck-mod-onscreen')]
    .filter(c => c.checkVisibility({visibilityProperty: true}) && c.getBoundingClientRect().height > 0);
  let text = 1e9, code = 1e9, figure = 1, small = null, cut = null;
  for (const cell of cells) {
    const r = cell.getBoundingClientRect();
    if (r.top < -tol || r.bottom > innerHeight + tol) {
      found.push(`cell ${cell.dataset.windowedListIndex || ''} reaches ${Math.round(r.top)} to ${Math.round(r.bottom)} px`);
    }
    for (const e of cell.querySelectorAll('*')) {
      if (e.closest('.MathJax, mjx-container, .jp-InputPrompt, .jp-OutputPrompt, .jp-cell-toolbar, .jp-Collapser')) continue;
      const box = e.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || !e.checkVisibility({visibilityProperty: true})) continue;
      // a code line or a printout wider than the screen: scrolled sideways or cut off, not shown
      if (!cut && (box.right > innerWidth + tol || e.scrollWidth > e.clientWidth + tol
                   && ['hidden', 'auto', 'scroll'].includes(getComputedStyle(e).overflowX))) {
        const what = (e.innerText || '').trim().slice(0, 40).replace(/\\s+/g, ' ');
        cut = `cell ${cell.dataset.windowedListIndex || ''} is cut off at the right: "${what}"`;
      }
      if (e.tagName === 'IMG' && e.naturalHeight > 0) {
        const shown = box.height / e.naturalHeight;
        figure = Math.min(figure, shown);
        if (shown < FIGURE_SCALE - 1e-3 && !small) small = `figure shown at ${Math.round(shown * 100)}% (labels too small)`;
      }
      if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
      const scale = e.offsetWidth ? box.width / e.offsetWidth : 1;
      const px = parseFloat(getComputedStyle(e).fontSize) * scale;
      const isCode = !!e.closest('.cm-editor, pre, code');
      if (isCode) code = Math.min(code, px); else text = Math.min(text, px);
      if (px < (isCode ? 20 : 24) - 0.05 && !small) {
        small = `${isCode ? 'code' : 'text'} ${px.toFixed(1)} px: "${(e.innerText || '').trim().slice(0, 40)}"`;
      }
    }
  }
  if (small) found.push(small);
  if (cut) found.push(cut);
  const title = (cells.map(c => c.querySelector('h1, h2, h3')).find(Boolean) || {}).textContent || 'untitled';
  return {found: found.join('; '), title: title.trim().slice(0, 40), text, code, figure, cells: cells.length};
}"""


def walk_live_deck(page, limit: int = 400, shots=None) -> dict:
    """Step through an open live deck from where it is to its end; same result form as `walk`. With `shots`
    (a function of the view's number that returns a file name), a view that does not fit is photographed."""
    problems, smallest, count = [], {"zoom": 1, "text": 1e9, "code": 1e9, "figure": 1}, 0
    for _ in range(limit):
        page.wait_for_timeout(60)
        view = page.evaluate(LIVE_CHECK, smallest_figure_scale())
        for _ in range(20):  # a view still being laid out shows no cell yet
            if view["cells"]:
                break
            page.wait_for_timeout(100)
            view = page.evaluate(LIVE_CHECK, smallest_figure_scale())
        count += 1
        for measure in ("text", "code", "figure"):
            smallest[measure] = min(smallest[measure], view[measure])
        if view["found"]:
            problems.append(f"view {count} ({view['title']}): {view['found']}")
            if shots:
                page.screenshot(path=str(shots(count)))
        for direction in ("down", "forward"):
            button = page.query_selector(f".jp-Deck-Remote .jp-deck-mod-direction-{direction}:not(.jp-mod-disabled)")
            if button:
                button.click()
                break
        else:
            break
    return {"problems": problems, "count": count, "smallest": smallest}
