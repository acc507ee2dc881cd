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
import copy
import html
import importlib.util
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from course_utils import settings
from tools.editions import is_solution
from tools.notebooks import ROOT, notebook_paths, run_notebook

TEMPLATE_DIR = Path(__file__).resolve().parent / "slides_template"
ASSETS = "_assets"
REVEAL = f"{ASSETS}/reveal.js"
MATHJAX = f"{ASSETS}/mathjax"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = (
    '<p class="course-widget-note">Interactive widget: its controls work in JupyterLab or Colab. '
    "Shown here: {what}.</p>"
)
# nbconvert rewrites the head (attributes in any order): find the tag, then its content.
RUN_MODE_TAG = re.compile(r'<meta\b[^>]*\bname="course-run-mode"[^>]*>')
# The models a progress bar is made of (tqdm.auto draws an HBox of two labels and a bar).
PROGRESS_PARTS = {"HBoxModel", "HTMLModel", "LabelModel", "FloatProgressModel", "IntProgressModel"}
# where an installed library's file lies on the machine that ran the notebook (named by its warnings)
INSTALLED = re.compile(r"(?<![\w.])(?:/|[A-Za-z]:\\)[^\s'\"()<>]*?[/\\]+(?:site|dist)-packages[/\\]+")
# A tag or a style rule that makes the browser fetch something, when its address is remote.
REMOTE_LOAD = re.compile(
    r"""<(?:script|img|iframe|audio|video|source|embed)\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def _package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it (sphinx_revealjs imports Sphinx)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"the slides need the package {module!r}, which is not installed: "
            "pip install -e '.[slides]' (make slides does this)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def asset_sources() -> dict[str, Path]:
    """Where the local copies of reveal.js and MathJax come from."""
    reveal = _package_dir("sphinx_revealjs") / "_static" / "revealjs"
    mathjax = _package_dir("jupyter_server_mathjax") / "static"
    for path in (reveal / "dist" / "reveal.js", reveal / "plugin" / "notes" / "notes.js", mathjax / "MathJax.js"):
        if not path.is_file():
            raise SystemExit(f"expected {path.name} in the installed package at {path.parent}, but it is missing")
    return {"reveal": reveal, "mathjax": mathjax}


def copy_assets(out: Path) -> None:
    """Copy reveal.js (core, themes, fonts, speaker notes) and MathJax next to the slides."""
    sources = asset_sources()
    reveal = out / REVEAL
    no_maps = shutil.ignore_patterns("*.map", "*.esm.js")
    shutil.copytree(sources["reveal"] / "dist", reveal / "dist", ignore=no_maps, dirs_exist_ok=True)
    shutil.copytree(sources["reveal"] / "plugin" / "notes", reveal / "plugin" / "notes", ignore=no_maps, dirs_exist_ok=True)
    shutil.copytree(sources["mathjax"], out / MATHJAX, dirs_exist_ok=True)


def _walk(model_id: str, state: dict, seen: set[str] | None = None) -> list[dict]:
    """A widget's model and the models of its children, depth first, in the order they are laid out."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    found = [state[model_id]]
    for child in state[model_id].get("state", {}).get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            found += _walk(child[len("IPY_MODEL_"):], state, seen)
    return found


def static_outputs(view: dict, state: dict) -> list:
    """What a slide shows in place of one widget.

    A widget with an Output area (the course's steppers and explorers) becomes a line saying where the
    interactive version runs, then the figure it drew at its starting values. A progress bar (tqdm's,
    drawn while training) is left out: once the cell has finished it says nothing.
    """
    models = _walk(view.get("model_id", ""), state)
    names = {m.get("model_name", "") for m in models}
    shown = [nbformat.from_dict(copy.deepcopy(o)) for m in models if m.get("model_name") == "OutputModel"
             for o in m.get("state", {}).get("outputs", []) if o.get("output_type") != "stream"]
    if not shown and names <= PROGRESS_PARTS and names & {"FloatProgressModel", "IntProgressModel"}:
        return []
    what = "its figure at the starting values" if shown else "nothing (its output appears once it is used)"
    note = nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE.format(what=what)})
    return [note] + shown


def replace_widgets(nb) -> int:
    """Swap every widget output for what it showed (kept in the widget state); return how many were swapped."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
            else:
                outputs += static_outputs(view, state)
                replaced += 1
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return replaced


def hide_machine_paths(nb, root: Path = ROOT) -> int:
    """Shorten the run's file paths in printed outputs (the course's to relative, a library's to
    site-packages/...), as a public page should not show them; return how many were shortened."""
    count = 0

    def shorten(text: str) -> str:
        nonlocal count
        text, n = INSTALLED.subn("site-packages/", text)
        count += n + text.count(f"{root}/")
        return text.replace(f"{root}/", "")

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = shorten(output.text)
            if isinstance(output.get("data", {}).get("text/plain"), str):
                output.data["text/plain"] = shorten(output.data["text/plain"])
            if "traceback" in output:
                output.traceback = [shorten(line) for line in output.traceback]
    return count


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return fallback


def remote_loads(page: str) -> list[str]:
    """Snippets of a page that would make a browser fetch something from the network."""
    return [page[max(0, m.start() - 20): m.end() + 60].replace("\n", " ") for m in REMOTE_LOAD.finditer(page)]


def export(nb, theme: str = "white") -> str:
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
        template_name=TEMPLATE_DIR.name,
        reveal_url_prefix=REVEAL,
        reveal_theme=theme,
        reveal_scroll=True,
        mathjax_url=f"{MATHJAX}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe",
    )
    page, _ = exporter.from_notebook_node(nb)
    return page


def write_index(out: Path) -> Path:
    """slides/index.html: a link to every slideshow in the folder, in course order, with how it was run."""
    items = []
    for path in notebook_paths():
        page = out / f"{path.stem}.slides.html"
        if not page.exists():
            continue
        tag = RUN_MODE_TAG.search(page.read_text(encoding="utf-8"))
        mode = re.search(r'\bcontent="([a-z]+)"', tag.group(0)).group(1) if tag else "no"
        note = f"run in {mode} mode" if mode in ("smoke", "full") else "not run: stored outputs only"
        title = title_of(nbformat.read(path, as_version=4), path.stem)
        items.append(f'  <li><a href="{html.escape(page.name)}">{html.escape(title)}</a> ({note})</li>')
    index = out / "index.html"
    index.write_text(
        f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CNN course: slides</title>
<style>body {{ font-family: sans-serif; max-width: 44em; margin: 3em auto; line-height: 1.6; }}</style>
</head>
<body>
<h1>CNN course: slides</h1>
<p>Each notebook as a reveal.js slideshow. The arrow keys move between slides, <kbd>S</kbd> opens the
speaker view, <kbd>F</kbd> goes full screen, <kbd>Esc</kbd> shows all slides at once.
Everything loads from this folder: no network needed.</p>
<ol>
{chr(10).join(items)}
</ol>
</body>
</html>
""",
        encoding="utf-8",
    )
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
    mode = "smoke" if args.smoke else "full"
    failed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not args.solutions:
            nb.cells = [c for c in nb.cells if not is_solution(c)]
        start = time.perf_counter()
        if args.execute:
            print(f"{path.name}: running in {mode} mode", flush=True)
            try:
                run_notebook(nb, smoke=args.smoke, timeout=1800)
            except Exception as error:  # noqa: BLE001 -- report every failing notebook, then stop
                last_line = (str(error).strip().splitlines() or [""])[-1]
                failed.append(f"{path.name}: {type(error).__name__}: {last_line}")
                print(f"{path.name}: FAILED, no slides written", flush=True)
                continue
        nb.metadata["course_slides"] = {"mode": mode if args.execute else "no"}
        widgets = replace_widgets(nb)
        hide_machine_paths(nb)
        page = export(nb, theme=args.theme)
        remote = remote_loads(page)
        if remote:
            failed.append(f"{path.name}: the page would load from the network: {remote[:3]}")
            continue
        target = args.out / f"{path.stem}.slides.html"
        target.write_text(page, encoding="utf-8")
        print(f"{path.name}: wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
              f"({len(page) / 1e6:.1f} MB, {widgets} widget(s) made static, {time.perf_counter() - start:.1f} s)",
              flush=True)
    index = write_index(args.out)
    if failed:
        print("\n".join(["slides not written for:"] + failed), file=sys.stderr)
        return 1
    print(f"open {index} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
