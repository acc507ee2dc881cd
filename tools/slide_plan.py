"""Plan the slide breaks of the notebooks so that every slide fits a 1280x720 screen at full size.

    python -m tools.slide_plan [NAME ...] [--no-execute] [--dry-run]

The breaks are written into the notebooks, as the cells' `slideshow` metadata, because both kinds of
slides read them there: the reveal.js slideshows of `make slides` and the live deck of `make present`
(jupyterlab-slideshow). They come from measurement, not from a rule of thumb: each notebook is run
in smoke mode (its figures have the same sizes in both modes, and printouts longer than
tools.slides.MAX_OUTPUT_LINES are abridged on the slides), exported with every cell on a slide of its
own, and opened in headless Chromium, which gives each cell's height at the slides' font sizes. Then
the cells are packed in order:

- a cell the author made a `slide`, and the title and each section's heading (`# `, `## `), start a
  new slide, and
  `skip`ped and `notes` cells are left as they are;
- the first code cell (the imports) starts a subslide, so that the title slide holds the title and
  what the notebook teaches; so does each subsection's heading (`### `), and a cell tagged
  `slides-break`;
- any other cell joins the current subslide if it fits there (as a `fragment` if it was one, or if
  it draws a figure), and starts a new subslide if it does not;
- the exercises' worked solutions are not on the exported slides; in the live deck each has a
  subslide of its own, and the next exercise starts a new one;
- a code cell whose code and outputs do not fit on one slide together gets the tag
  `slides-output-apart`: on the slides, its outputs follow on a subslide of their own.

A cell too tall for a slide on its own is reported: split it, or shorten what it prints. So is a figure
so large that a slide shows it below 72% of its size, where its smallest labels (14 pt) would be less
than 14 px high on the screen (tools.slide_walk.SMALLEST_FIGURE_TEXT): draw it smaller. Run this
after changing a notebook; tests/test_slides.py walks the slideshows and fails on a slide that does
not fit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

from tools import slide_walk, slides
from tools.editions import is_solution
from tools.notebooks import FIGURE_CELL, notebook_paths, run_notebook

# A cell with this tag always starts a subslide: a break the measure cannot see (the live deck in JupyterLab
# lays text out narrower than the exported slides, so a long summary is split there by hand).
BREAK = "slides-break"
# What the cells of one slide may fill: the slide's height less the 10 px the template keeps free (its
# LIMIT), less the section's own padding (measured), less a margin for what the measure cannot see.
TEMPLATE_MARGIN, SAFETY = 10, 12

MEASURE = """() => {
  // Each cell alone on its slide: its height with margins, and the heights of its code and of its outputs.
  // A cell whose content sticks out of its box makes its slide taller than the cell: that height counts.
  const outer = e => { if (!e) return 0; const s = getComputedStyle(e);
                       return e.offsetHeight + parseFloat(s.marginTop) + parseFloat(s.marginBottom); };
  const cells = {};
  for (const cell of document.querySelectorAll('.reveal .slides section [id^="cell-id="]')) {
    cells[cell.id.slice('cell-id='.length)] = {
      height: outer(cell), section: cell.closest('section').scrollHeight,
      input: outer(cell.querySelector('.jp-Cell-inputWrapper')), output: outer(cell.querySelector('.jp-Cell-outputWrapper')),
      outputs: [...cell.querySelectorAll('.jp-OutputArea-child')].map(child => [outer(child), !!child.querySelector('img')]),
      figure: Math.min(1, ...[...cell.querySelectorAll('img')].filter(i => i.naturalHeight)
                                .map(i => i.getBoundingClientRect().height / i.naturalHeight)),
    };
  }
  return cells;
}"""


def _measured(nb, browser) -> dict:
    """Each cell's height on the slide canvas, when it is on a slide of its own."""
    alone = nbformat.from_dict(nb)
    for cell in alone.cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        if kind not in ("skip", "notes"):
            cell.metadata["slideshow"] = {"slide_type": "slide"}
    slides.replace_widgets(alone)
    slides.abridge_outputs(alone)
    page = slides.export(alone)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        slides.copy_assets(out)
        path = out / "plan.slides.html"
        path.write_text(page, encoding="utf-8")
        context, view, _ = slide_walk.open_offline(browser, path)
        try:
            view.evaluate("document.fonts.ready")
            return view.evaluate(MEASURE)
        finally:
            context.close()


def heights_of(measured: dict) -> tuple[dict[str, float], dict[str, list[float]], float]:
    """From the measures: each cell's height; for code cells with outputs, the heights of the pieces the
    slides show apart (the code, then each group of tools.slides.output_groups), each with the cell's
    padding; and the padding of a slide around its cells."""
    overhead = min((m["section"] - m["height"] for m in measured.values()), default=0)
    heights = {cell: max(m["height"], m["section"] - overhead) for cell, m in measured.items()}
    parts = {}
    for cell, m in measured.items():
        if not (m["input"] and m["output"] and m["outputs"]):
            continue
        padding = heights[cell] - m["input"] - m["output"]
        groups = slides.output_groups(m["outputs"], is_figure=lambda measure: measure[1])  # (height, figure)
        parts[cell] = [m["input"] + padding] + [sum(height for height, _ in group) + padding for group in groups]
    return heights, parts, max(overhead, 0)


def plan(nb, heights: dict[str, float], budget: float,
         parts: dict[str, list[float]] | None = None) -> tuple[dict[str, str], set[str], list[str]]:
    """The slide type of every cell (by id), the code cells whose outputs go on a subslide of their own
    (those that do not fit with their code on one slide), and the cells too tall for any slide."""
    parts = parts or {}
    types, apart, too_tall = {}, set(), []
    used = None  # the height filled on the current subslide; None before the first slide
    seen_code = False
    after_solution = False
    for cell in nb.cells:
        authored = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if is_solution(cell):
            # Not on the exported slides; in the live deck, each solution has a subslide of its own, and the
            # next exercise starts another.
            types[cell.id], after_solution = "subslide", True
            continue
        if authored in ("skip", "notes") or cell.id not in heights:
            types[cell.id] = authored
            continue
        height = heights[cell.id]
        pieces = [height]
        if height > budget and cell.id in parts:
            apart.add(cell.id)
            pieces = list(parts[cell.id])
        for index, piece in enumerate(pieces):
            if piece > budget:
                what = "markdown" if cell.cell_type == "markdown" else "outputs" if index else "code"
                too_tall.append(f"{cell.id} ({what}, {piece:.0f} px of {budget:.0f}): {cell.source[:60]!r}")
        first_code = cell.cell_type == "code" and not seen_code
        subsection = cell.cell_type == "markdown" and cell.source.startswith("### ")
        seen_code = seen_code or cell.cell_type == "code"
        if authored == "slide" or used is None or cell.cell_type == "markdown" and cell.source.startswith(("# ", "## ")):
            types[cell.id], used = "slide", pieces[0]
        elif first_code or subsection or after_solution or BREAK in cell.metadata.get("tags", []) \
                or used + pieces[0] > budget:
            types[cell.id], used = "subslide", pieces[0]
        else:
            figure = cell.cell_type == "code" and FIGURE_CELL.search(cell.source)
            types[cell.id] = "fragment" if authored == "fragment" or figure else "-"
            used += pieces[0]
        after_solution = False
        if len(pieces) > 1:
            used = pieces[-1]  # each group of outputs has a subslide; later cells may join the last one
    return types, apart, too_tall


def apply(nb, types: dict[str, str], apart: set[str] = frozenset()) -> int:
    """Write the planned types (and the tag that puts outputs apart) into the cells; return how many
    cells changed."""
    changed = 0
    for cell in nb.cells:
        kind = types.get(cell.id)
        if kind is None:
            continue
        before = (cell.metadata.get("slideshow", {}).get("slide_type", "-"), slides.OUTPUT_APART in cell.metadata.get("tags", []))
        # Written even where it is "-" (go on with the same slide): `make sync-notebooks` gives cells that
        # say nothing a type of their own (sections, figures), which would undo the plan.
        cell.metadata["slideshow"] = {"slide_type": kind}
        tags = [t for t in cell.metadata.get("tags", []) if t != slides.OUTPUT_APART]
        if cell.id in apart:
            tags.append(slides.OUTPUT_APART)
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        changed += before != (kind, cell.id in apart)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="measure the stored outputs only (no figures): quick, but figures' cells come out short")
    parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.error("the plan measures the slides in Chromium: install the test extra (playwright) and chromium")
    if not slide_walk.browser_available():
        parser.error(f"no Chromium at {slide_walk.chromium_path()}: install it (apt-get install chromium)")
    too_tall, too_small = [], []
    with sync_playwright() as p:
        browser = slide_walk.launch(p)
        for path in notebook_paths(args.names):
            stored = nbformat.read(path, as_version=4)
            nb = nbformat.from_dict(stored)
            nb.cells = [c for c in nb.cells if not is_solution(c)]
            if args.execute:
                run_notebook(nb, smoke=True, timeout=1800, env=slides.presentation_env())
            measured = _measured(nb, browser)
            heights, parts, overhead = heights_of(measured)
            smallest = slide_walk.smallest_figure_scale()
            too_small += [f"{path.stem}: {cell} (a figure shown at {m['figure']:.0%} of its size)"
                          for cell, m in measured.items() if m["figure"] < smallest - 1e-3]
            budget = slides.HEIGHT - TEMPLATE_MARGIN - overhead - SAFETY
            types, apart, tall = plan(stored, heights, budget, parts)  # measured without the solutions
            too_tall += [f"{path.stem}: {line}" for line in tall]
            before = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide") for c in stored.cells)
            changed = apply(stored, types, apart)
            after = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide") for c in stored.cells)
            print(f"{path.name}: {before} -> {after} slides and subslides, {changed} cell(s) changed "
                  f"(room for {budget:.0f} px of cells on each)", flush=True)
            if not args.dry_run and nbformat.writes(stored) + "\n" != path.read_text(encoding="utf-8"):
                path.write_text(nbformat.writes(stored) + "\n", encoding="utf-8")
        browser.close()
    if too_tall:
        print("\n".join(["cells too tall for a slide on their own (split them, or print less):", *too_tall]),
              file=sys.stderr)
    if too_small:
        print("\n".join([f"figures too large for a slide, shown below {smallest:.0%} of their size, where their labels "
                         "are too small to read (draw them smaller: figsize):", *too_small]), file=sys.stderr)
    return 1 if too_tall or too_small else 0


if __name__ == "__main__":
    sys.exit(main())
