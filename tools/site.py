"""Build the course website: the README as its home page and every notebook, run, as a chapter.

    python -m tools.site [NAME ...] [--out site] [--smoke] [--solutions] [--rerun] [--no-execute]

The notebooks run top to bottom in full mode (smoke mode with --smoke or when course_utils.settings
says so), each widget is replaced by the figure it drew (as in the slides), and Sphinx with MyST-NB
and the book theme writes site/: a table of contents in course order, maths, figures and Colab
badges. Like the slides, the site opens from the disk with no network: MathJax 2 (from
jupyter-server-mathjax) and the badge image are local, and the build fails if a page would still
load anything from elsewhere. `make site` runs this; a GitHub Pages workflow publishes it.

The exercises' solutions are left out, because the site is public: --solutions keeps them (for
example after the hand-in date). Run notebooks are kept in build/site/executed/ and reused while the
notebook and the mode are unchanged (--rerun runs them again), so a rebuild takes seconds.
--no-execute publishes the notebooks as stored (no figures): a quick look at the layout.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import time
from collections.abc import Collection
from pathlib import Path

import nbformat

from course_utils import settings
from tools import editions
from tools.export import asset_sources, hide_machine_paths, remote_loads, replace_widgets
from tools.notebooks import (
    ABSOLUTE_PATH,
    BADGE_IMAGE,
    INSTALL_TAG,
    NOTE_TAG,
    README,
    ROOT,
    course_location,
    notebook_paths,
    run_notebook,
    tags,
)

CONFIG = Path(__file__).resolve().parent / "site_config"
WORK = ROOT / "build" / "site"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def executed(work: Path, name: str, smoke: bool = True):
    """The run of notebook `name` (solutions left out, as the site shows it) that a build with this `work`
    folder kept, read back; None when that build did not run it."""
    found = sorted((work / "executed").glob(f"{name}.{'smoke' if smoke else 'full'}.*.ipynb"))
    return nbformat.read(found[0], as_version=4) if found else None


def _run(nb, name: str, smoke: bool, cache: Path, rerun: bool):
    """The notebook run in `smoke` or full mode, from the cache when the same notebook ran before."""
    mode = "smoke" if smoke else "full"
    key = hashlib.sha256((mode + nbformat.writes(nb)).encode()).hexdigest()[:16]
    cached = cache / f"{name}.{mode}.{key}.ipynb"
    if cached.exists() and not rerun:
        print(f"{name}: run before in {mode} mode, reused", flush=True)
        return nbformat.read(cached, as_version=4)
    print(f"{name}: running in {mode} mode", flush=True)
    started = time.perf_counter()
    run_notebook(nb, smoke=smoke, timeout=1800)
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{name}.{mode}.*.ipynb"):
        old.unlink()
    nbformat.write(nb, cached)
    print(f"{name}: ran in {time.perf_counter() - started:.1f} s", flush=True)
    return nb


def home_page(readme: str, built: set[str], repository: str, branch: str) -> str:
    """The README as the site's home page: links to built notebooks stay, other files link to GitHub."""
    def relink(match: re.Match) -> str:
        target = match.group(1)
        if target.startswith(("http://", "https://", "#", "mailto:", "_static/")):
            return match.group(0)
        if target.startswith("notebooks/") and Path(target).stem in built:
            return match.group(0)
        return f"](https://github.com/{repository}/blob/{branch}/{target})"

    text = LINK.sub(relink, readme.replace(BADGE_IMAGE, "_static/colab-badge.svg"))
    chapters = "\n".join(f"notebooks/{name}" for name in sorted(built))
    return f"{text}\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: Notebooks\n\n{chapters}\n```\n"


def _chapter(path: Path, smoke: bool, solutions: bool, run: bool, work: Path, rerun: bool):
    """One notebook as the site shows it: solutions left out (unless asked), run when `run`, widgets
    replaced by their figures, the machine's paths hidden, Colab's plumbing removed, the badge local."""
    nb = nbformat.read(path, as_version=4)
    if not solutions:
        nb.cells = [c for c in nb.cells if not editions.is_solution(c)]
    if run:
        nb = _run(nb, path.stem, smoke, work / "executed", rerun)
    replace_widgets(nb)
    hide_machine_paths(nb)
    for cell in nb.cells:
        if {INSTALL_TAG, NOTE_TAG} & set(tags(cell)):  # Colab's plumbing: not on the site
            cell.metadata["tags"] = [*tags(cell), "remove-cell"]
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(BADGE_IMAGE, "../_static/colab-badge.svg")
    return nb


def _sphinx(source: Path, work: Path) -> Path:
    """Run Sphinx on `source`; return the folder of pages. MyST-NB puts its copies of the notebooks next
    to that folder, so it is in `work`, not where the site goes."""
    from sphinx.cmd.build import build_main

    html = work / "html"
    shutil.rmtree(html, ignore_errors=True)
    warnings = work / "warnings.txt"
    status = build_main(["-b", "html", "-q", "-d", str(work / "doctrees"), "-w", str(warnings), str(source), str(html)])
    if status != 0:
        raise SystemExit(f"sphinx failed (exit {status}); its warnings are in {warnings}")
    return html


def _check_offline_and_private(out: Path) -> None:
    """Fail when a page would load from the network or shows a path of this machine."""
    pages = {str(page.relative_to(out)): page.read_text(encoding="utf-8") for page in out.rglob("*.html")}
    remote = {name: found for name, found in ((n, remote_loads(text)) for n, text in pages.items()) if found}
    if remote:
        raise SystemExit(f"pages would load from the network: {dict(list(remote.items())[:3])}")
    local = {name: match.group(0) for name, match in ((n, ABSOLUTE_PATH.search(t)) for n, t in pages.items()) if match}
    if local:
        raise SystemExit(f"pages show a path of this machine: {local} (print paths relative to the course)")


def build(names: list[str] | None = None, out: Path = ROOT / "site", smoke: bool | None = None, solutions: bool = False,
          rerun: bool = False, work: Path = WORK, execute: bool | Collection[str] = True) -> Path:
    """Build the site into `out`; return its index.html.

    `execute` is True (run every notebook), False (publish them as stored) or the names of the
    notebooks to run.
    """
    smoke = settings.smoke() if smoke is None else smoke
    paths = notebook_paths(names)
    repository, branch = course_location()
    source = work / "src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(CONFIG, source)
    shutil.copytree(asset_sources()["mathjax"], source / "_static" / "mathjax")
    (source / "notebooks").mkdir()
    for path in paths:
        run = execute is True or (execute is not False and path.stem in execute)
        nbformat.write(_chapter(path, smoke, solutions, run, work, rerun), source / "notebooks" / path.name)
    home = home_page(README.read_text(encoding="utf-8"), {p.stem for p in paths}, repository, branch)
    (source / "index.md").write_text(home, encoding="utf-8")
    html = _sphinx(source, work)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out)
    _check_offline_and_private(out)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="folder for the site (default: site/)")
    parser.add_argument("--smoke", action="store_true", default=settings.smoke(),
                        help="run the notebooks in smoke mode (quick, for checking the build)")
    parser.add_argument("--solutions", action="store_true", help="keep the exercises' worked solutions")
    parser.add_argument("--rerun", action="store_true", help="run every notebook again, even if it ran before")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="publish the notebooks as stored, without running them (no figures)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    index = build(args.names, args.out.resolve(), smoke=args.smoke, solutions=args.solutions, rerun=args.rerun,
                  execute=args.execute)
    size = sum(f.stat().st_size for f in index.parent.rglob("*") if f.is_file())
    print(f"built in {time.perf_counter() - started:.0f} s, {size / 1e6:.1f} MB: open {index} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
