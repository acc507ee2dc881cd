"""Export the notebooks as reveal.js slideshows that open with no network.

    python -m tools.slides [NAME ...] [--out slides] [--smoke] [--no-execute] [--solutions]

Each notebook is run top to bottom in a fresh kernel (full mode, or smoke mode with --smoke or
when course_utils.settings says so: COURSE_SMOKE=1, or CI), so that the slides show its figures,
then written to slides/NN_name.slides.html, with slides/index.html linking them all. `make slides`
runs this.

Offline: reveal.js (from the sphinx-revealjs package) and MathJax 2 (from jupyter-server-mathjax),
both in the `slides` extra, are copied into slides/_assets/, and every page loads only from there.
The folder can be copied to a USB stick and opened from the disk, no server needed. The export
fails if a page would still load anything from the network.

The exercises' worked solutions are left out, so that the exercises can be shown in class;
--solutions keeps them.

Widgets need a running kernel, which a slideshow does not have: each widget is replaced by the figure
it showed at its starting values, with a line saying where the interactive version runs; progress
bars are left out.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from course_utils import settings
from tools.editions import is_solution
from tools.export import (
    asset_sources,
    hide_machine_paths,
    remote_loads,
    replace_widgets,
)
from tools.notebooks import ROOT, notebook_paths, run_notebook

TEMPLATE_DIR = Path(__file__).resolve().parent / "slides_template"
ASSETS = "_assets"
REVEAL = f"{ASSETS}/reveal.js"
MATHJAX = f"{ASSETS}/mathjax"
WIDTH, HEIGHT = 1280, 720  # the slide's canvas: a projector's screen
# A printout longer than this is shown on a slide as its first and last lines, with a line in between
# saying how many are left out (the notebook has them all).
MAX_OUTPUT_LINES = 10
HEAD_LINES, TAIL_LINES = 5, 3
ABRIDGED = "⋯ {} more lines here: the notebook shows the whole printout ⋯"
# Results shown as text, or as a richer form of the same text (a highlighted listing, an HTML table).
TEXT_KINDS = {"text/plain", "text/html", "text/latex", "text/markdown"}
# A code cell with this tag has its output on the subslide after its code (tools/slide_plan.py sets it
# where the two do not fit on one slide).
OUTPUT_APART = "slides-output-apart"
# nbconvert rewrites the head (attributes in any order): find the tag, then its content.
RUN_MODE_TAG = re.compile(r'<meta\b[^>]*\bname="course-run-mode"[^>]*>')


def copy_assets(out: Path) -> None:
    """Copy reveal.js (core, themes, fonts, speaker notes) and MathJax next to the slides."""
    sources = asset_sources()
    reveal = out / REVEAL
    no_maps = shutil.ignore_patterns("*.map", "*.esm.js")
    shutil.copytree(sources["reveal"] / "dist", reveal / "dist", ignore=no_maps, dirs_exist_ok=True)
    shutil.copytree(sources["reveal"] / "plugin" / "notes", reveal / "plugin" / "notes", ignore=no_maps, dirs_exist_ok=True)
    shutil.copytree(sources["mathjax"], out / MATHJAX, dirs_exist_ok=True)


def _abridged(text: str) -> str | None:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= MAX_OUTPUT_LINES:
        return None
    left_out = len(lines) - HEAD_LINES - TAIL_LINES
    return "\n".join([*lines[:HEAD_LINES], ABRIDGED.format(left_out), *lines[-TAIL_LINES:]]) + "\n"


def abridge_outputs(nb) -> int:
    """Shorten every printout (a stream, or a result shown as text, a listing or a table) longer than
    MAX_OUTPUT_LINES to its first and last lines, as text; return how many were shortened. Figures are
    left as they are."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.get("outputs", []):  # consecutive pieces of one stream are one printout
            if (output.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == output.name):
                merged[-1].text += output.text
            else:
                merged.append(output)
        for output in merged:
            if output.output_type == "stream":
                shorter = _abridged(output.text)
                if shorter is not None:
                    output.text, count = shorter, count + 1
            elif output.output_type in ("execute_result", "display_data") and set(output.data) <= TEXT_KINDS:
                shorter = _abridged(output.data.get("text/plain", ""))
                if shorter is not None:  # shown as text: the first and last lines of a listing or a table
                    output.data, count = {"text/plain": shorter}, count + 1
        cell.outputs = merged
    return count


def _is_figure(output) -> bool:
    return any(kind.startswith("image/") for kind in output.get("data", {}))


def output_groups(outputs: list, is_figure=_is_figure) -> list[list]:
    """The outputs of a cell as the slides show them apart: a new group at every figure but the first
    one, so that each figure has a subslide of its own (with the printouts that follow it). `is_figure`
    tells a figure (tools/slide_plan.py groups its measures of the outputs by the same rule)."""
    groups: list[list] = []
    for output in outputs:
        if not groups or is_figure(output) and any(is_figure(o) for o in groups[-1]):
            groups.append([])
        groups[-1].append(output)
    return groups


def put_outputs_apart(nb) -> int:
    """Give the outputs of every code cell tagged OUTPUT_APART subslides of their own, after the code's
    (one per figure, see output_groups): the cell becomes several, the code without its outputs, then
    the outputs without the code. Returns how many cells were split."""
    cells, count = [], 0
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code" or OUTPUT_APART not in cell.metadata.get("tags", []) or not cell.get("outputs"):
            continue
        for number, group in enumerate(output_groups(cell.outputs), start=1):
            part = nbformat.from_dict({"metadata": {}, "cell_type": "code", "source": cell.source,
                                       "execution_count": cell.get("execution_count"), "outputs": group})
            part.id = f"{cell.id}-outputs-{number}"
            part.metadata = {"slideshow": {"slide_type": "subslide"}, "transient": {"remove_source": True}}
            if "mystnb" in cell.metadata:  # the figures' text alternative goes with them
                part.metadata["mystnb"] = cell.metadata["mystnb"]
            cells.append(part)
        cell.outputs = []
        count += 1
    nb.cells = cells
    return count


# The figures of slides are drawn with the course's presentation fonts (course_utils.plotting), so that
# their labels can be read from the back of a room; the figures keep the sizes their cells give them.
PRESENTATION_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
                     "legend.fontsize", "lines.linewidth", "lines.markersize")


def presentation_rc() -> str:
    """The matplotlibrc of slides (slides_template/matplotlibrc holds it, and a test keeps the two equal)."""
    from course_utils.plotting import PRESENTATION_STYLE

    return "".join(f"{key}: {PRESENTATION_STYLE[key]}\n" for key in PRESENTATION_KEYS)


def presentation_env() -> dict:
    """The kernel environment that makes matplotlib draw with the presentation fonts."""
    return {"MATPLOTLIBRC": str(TEMPLATE_DIR / "matplotlibrc")}


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return fallback


def export(nb, theme: str = "white") -> str:
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
        template_name=TEMPLATE_DIR.name,
        reveal_url_prefix=REVEAL,
        reveal_theme=theme,
        reveal_scroll=True,
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
        mathjax_url=f"{MATHJAX}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe",
    )
    page, _ = exporter.from_notebook_node(nb)
    return page


def prepare_and_export(nb, theme: str = "white") -> tuple[str, dict]:
    """The slideshow of a run notebook (changed in place): widgets made static, long printouts abridged,
    machine paths hidden. Returns (the page, what was changed); ValueError if the page would load
    anything from the network."""
    counts = {"widgets": replace_widgets(nb), "abridged": abridge_outputs(nb), "apart": put_outputs_apart(nb)}
    hide_machine_paths(nb)
    page = export(nb, theme=theme)
    remote = remote_loads(page)
    if remote:
        raise ValueError(f"the page would load from the network: {remote[:3]}")
    return page, counts


def write_index(out: Path) -> Path:
    """slides/index.html: a link to every slideshow in the folder, in course order, with how it was run
    (the page is the template slides_template/course_index.html.j2, as the slideshows are templates too)."""
    import jinja2

    items = []
    for path in notebook_paths():
        page = out / f"{path.stem}.slides.html"
        if not page.exists():
            continue
        tag = RUN_MODE_TAG.search(page.read_text(encoding="utf-8"))
        mode = re.search(r'\bcontent="([a-z]+)"', tag.group(0)).group(1) if tag else "no"
        note = f"run in {mode} mode" if mode in ("smoke", "full") else "not run: stored outputs only"
        items.append({"page": page.name, "title": title_of(nbformat.read(path, as_version=4), path.stem), "note": note})
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                                     keep_trailing_newline=True)
    index = out / "index.html"
    index.write_text(environment.get_template("course_index.html.j2").render(items=items), encoding="utf-8")
    return index


def build_parser() -> argparse.ArgumentParser:
    """The command line; --smoke defaults to the course's smoke setting (COURSE_SMOKE, or CI)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "slides", help="folder for the slides (default: slides/)")
    parser.add_argument("--smoke", action="store_true", default=settings.smoke(),
                        help="run the notebooks in smoke mode (small data, few epochs): quick, for checking")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="export the notebooks as stored, without running them (no figures)")
    parser.add_argument("--theme", default="white", help="a reveal.js theme (default: white)")
    parser.add_argument("--solutions", action="store_true", help="keep the exercises' worked solutions")
    return parser


def slideshow(path: Path, args) -> tuple[str | None, str]:
    """(the page, a line saying what was done) for one notebook, or (None, why it failed)."""
    nb = nbformat.read(path, as_version=4)
    if not args.solutions:
        nb.cells = [c for c in nb.cells if not is_solution(c)]
    mode = "smoke" if args.smoke else "full"
    if args.execute:
        print(f"{path.name}: running in {mode} mode", flush=True)
        try:
            run_notebook(nb, smoke=args.smoke, timeout=1800, env=presentation_env())
        except Exception as error:  # noqa: BLE001 -- report every failing notebook, then stop
            last_line = (str(error).strip().splitlines() or [""])[-1]
            return None, f"{path.name}: {type(error).__name__}: {last_line}"
    nb.metadata["course_slides"] = {"mode": mode if args.execute else "no"}
    try:
        page, counts = prepare_and_export(nb, theme=args.theme)
    except ValueError as error:
        return None, f"{path.name}: {error}"
    return page, f"{len(page) / 1e6:.1f} MB, {counts['widgets']} widget(s) made static, {counts['abridged']} long printout(s) abridged"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = notebook_paths(args.names)
    themes = sorted(p.stem for p in (asset_sources()["reveal"] / "dist" / "theme").glob("*.css"))
    if args.theme not in themes:
        parser.error(f"--theme {args.theme!r} is not a reveal.js theme; choose one of: {', '.join(themes)}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    copy_assets(args.out)
    failed = []
    for path in paths:
        start = time.perf_counter()
        page, said = slideshow(path, args)
        if page is None:
            failed.append(said)
            print(f"{path.name}: FAILED, no slides written", flush=True)
            continue
        target = args.out / f"{path.stem}.slides.html"
        target.write_text(page, encoding="utf-8")
        print(f"{path.name}: wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
              f"({said}, {time.perf_counter() - start:.1f} s)", flush=True)
    index = write_index(args.out)
    if failed:
        print("\n".join(["slides not written for:"] + failed), file=sys.stderr)
        return 1
    print(f"open {index} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
