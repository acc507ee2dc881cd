"""Maintain the notebooks: Colab badge and install cell, stripped outputs, smoke-mode execution.

    python -m tools.notebooks sync      rewrite every badge and install cell (and the README's badges)
                                        from [tool.course] in pyproject.toml, and strip every output
                                        except those of cells tagged nbval-check-output
    python -m tools.notebooks execute [NAME ...]
                                        run notebooks in smoke mode, store the checked answers, strip
    python -m tools.notebooks check     exit 1 if sync or strip would change anything

The GitHub location lives in one place, pyproject.toml; `make sync-notebooks` runs `sync`.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from pathlib import Path

import nbformat

from course_utils.exercises import VERDICT_MIME

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
NAME_PATTERN = re.compile(r"^\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")

CHECK_TAG = "nbval-check-output"
KEEP_TAG = "keep_output"
BADGE_TAG = "colab-badge"
INSTALL_TAG = "colab-install"
# The markdown cell just before the install cell, saying what it is for; like the install cell, slides
# and the website leave it out.
NOTE_TAG = "colab-note"
# The closing section of a notebook where the lecture slides' wrong numbers and code are set right
# (the syllabus map points there); every cell of it carries the tag.
SLIDE_NOTES_HEADING = "## Notes on the lecture slides"
SLIDE_NOTES_TAG = "slide-notes"
COLAB_NOTE = "In Colab, the next cell installs the course helpers; elsewhere it does nothing."
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_URL = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/notebooks/")
KEPT_CELL_METADATA = ("tags", "slideshow", "mystnb")  # mystnb: the figure's alt text (image.alt)
# Where an absolute file path starts, Unix or Windows (not inside a word, a URL or a relative path);
# the export (tools/export.py) shortens paths into installed libraries from there.
PATH_START = r"(?<![\w.:/])(?:/|[A-Za-z]:\\)"
# An absolute path into a home, temporary or system folder, in a notebook's JSON (where a Windows
# backslash is written twice): what a stored output must not show.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/(?:home|root|tmp|Users|work|var|opt|usr|private|mnt)/|[A-Za-z]:\\\\)")
# Cells that draw a figure or a widget appear as fragments when the notebook is presented as slides.
FIGURE_CELL = re.compile(r"plt\.show\(\)|_(stepper|calculator|explorer)\(")


def course_location(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, str]:
    """Return (owner/repository, branch) from [tool.course] in pyproject.toml: where Colab installs from."""
    with open(pyproject, "rb") as handle:
        settings = tomllib.load(handle)["tool"]["course"]
    return settings["github_repository"], settings["github_branch"]


def student_branch(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The branch that holds the student edition (no solutions): where the Colab badges send students."""
    with open(pyproject, "rb") as handle:
        return tomllib.load(handle)["tool"]["course"]["student_branch"]


def colab_url(name: str, repository: str, branch: str) -> str:
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/{name}"


def badge_source(name: str, repository: str, branch: str) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(name, repository, branch)})"


def install_source(repository: str, branch: str) -> str:
    return f'''# In Colab, install the course helpers first (Colab's own torch is kept). Elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet",
         "course-utils @ git+https://github.com/{repository}@{branch}"],
        check=True,
    )'''


def alt_text(cell) -> str:
    """The text alternative of the figures a cell draws: its `mystnb.image.alt` metadata, which MyST-NB
    gives the site's images and the slides' template gives theirs ("" where there is none)."""
    return str(cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")).strip()


def tags(cell) -> list[str]:
    """The cell's tags (a copy: changing the list changes nothing)."""
    return list(cell.get("metadata", {}).get("tags", []))


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_TAG in tags(cell)


def _taken(nb, tag: str, make):
    """The cell tagged `tag`, taken out of the notebook (a new one from `make()` if there is none)."""
    cell = next((c for c in nb.cells if tag in tags(c)), None)
    if cell is None:
        return make()
    nb.cells.remove(cell)
    return cell


def _place_badge(nb, name: str, repository: str, badge_branch: str) -> None:
    badge = _taken(nb, BADGE_TAG, lambda: nbformat.v4.new_markdown_cell(metadata={"tags": [BADGE_TAG]}))
    badge.cell_type = "markdown"
    badge.source = badge_source(name, repository, badge_branch)
    badge.metadata["slideshow"] = {"slide_type": "skip"}
    nb.cells.insert(0, badge)


def _place_install(nb, repository: str, branch: str) -> None:
    """The install cell as the first code cell, just after its Colab note (found by tag, or by its words)."""
    install = _taken(nb, INSTALL_TAG, lambda: nbformat.v4.new_code_cell(metadata={"tags": [INSTALL_TAG]}))
    install.source = install_source(repository, branch)
    install.outputs = []
    install.execution_count = None
    install.metadata["slideshow"] = {"slide_type": "skip"}
    note = next((c for c in nb.cells if NOTE_TAG in tags(c)), None)
    note = note or next((c for c in nb.cells if c.cell_type == "markdown" and "the next cell" in c.source.lower()
                         and "colab" in c.source.lower()), None)
    if note is None:
        note = nbformat.v4.new_markdown_cell(COLAB_NOTE)
    else:
        nb.cells.remove(note)
    note.metadata["tags"] = list(dict.fromkeys([*tags(note), NOTE_TAG]))
    note.metadata["slideshow"] = {"slide_type": "skip"}
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells[first_code:first_code] = [note, install]


def _mark_slides(nb) -> None:
    """Sections start slides, subsections subslides, figures are fragments (where no cell says otherwise)."""
    for cell in nb.cells:
        if "slideshow" in cell.metadata:
            continue
        if cell.cell_type == "markdown" and cell.source.startswith(("# ", "## ")):
            cell.metadata["slideshow"] = {"slide_type": "slide"}
        elif cell.cell_type == "markdown" and cell.source.startswith("### "):
            cell.metadata["slideshow"] = {"slide_type": "subslide"}
        elif cell.cell_type == "code" and FIGURE_CELL.search(cell.source):
            cell.metadata["slideshow"] = {"slide_type": "fragment"}


def sync_notebook(nb, name: str, repository: str, branch: str, badge_branch: str) -> None:
    """Put the badge cell first and the install cell as the first code cell, just after its Colab note,
    with current sources, and mark the slides. The badge opens the notebook of `badge_branch` (the
    student edition); the install cell installs the package from `branch`."""
    _place_badge(nb, name, repository, badge_branch)
    _place_install(nb, repository, branch)
    _mark_slides(nb)


def strip_notebook(nb) -> None:
    """Keep outputs and execution counts of checked cells only; drop editor metadata."""
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_CELL_METADATA}
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if is_checked(cell):
            tags = cell.metadata.setdefault("tags", [])
            if KEEP_TAG not in tags:
                tags.append(KEEP_TAG)
            # stderr (warnings, progress bars) is never compared and differs run to run: not stored
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            for output in cell.outputs:
                if output.get("output_type") in ("execute_result", "display_data"):
                    output["metadata"] = {}
                    # the text, and the verdict record of an exercise's check (course_utils.exercises)
                    output["data"] = {k: v for k, v in output.get("data", {}).items() if k in ("text/plain", VERDICT_MIME)}
        else:
            cell.outputs = []
            cell.execution_count = None
            if "tags" in cell.metadata:
                cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != KEEP_TAG]
                if not cell.metadata["tags"]:
                    del cell.metadata["tags"]
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata = nbformat.from_dict({"kernelspec": kernelspec, "language_info": {"name": "python"}})


def sync_readme(text: str, repository: str, branch: str) -> str:
    prefix = f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/"
    return COLAB_URL.sub(prefix, text)


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if names:
        wanted = {n if n.endswith(".ipynb") else f"{n}.ipynb" for n in names}
        unknown = wanted - {p.name for p in paths}
        if unknown:
            raise SystemExit(f"no such notebook in notebooks/: {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.name in wanted]
    return paths


def processed(path: Path) -> tuple[str, str]:
    """Return (current text, text after sync and strip) for one notebook."""
    repository, branch = course_location()
    original = path.read_text(encoding="utf-8")
    nb = nbformat.reads(original, as_version=4)
    sync_notebook(nb, path.name, repository, branch, student_branch())
    strip_notebook(nb)
    return original, nbformat.writes(nb) + "\n"


@functools.cache
def _local_client_class():
    """nbclient's client for the course's tools, built on first use (nbclient is slow to import)."""
    from tools.grade_runner import PatientClient  # nbclient's client, immune to a missed reply (nbclient#312)

    class LocalClient(PatientClient):
        """Talks to its kernel over local sockets where the system has them (Linux, macOS): no TCP port
        open to the machine, and no warning about unencrypted TCP printed at every kernel start."""

        def create_kernel_manager(self):
            manager = super().create_kernel_manager()
            if os.name == "posix":
                import uuid

                from jupyter_core.paths import jupyter_runtime_dir

                # The sockets' paths are absolute: the kernel runs in the notebook's folder, this process
                # perhaps elsewhere. jupyter_client removes them when the kernel stops.
                runtime = Path(jupyter_runtime_dir())
                runtime.mkdir(parents=True, exist_ok=True)
                manager.transport = "ipc"
                manager.ip = str(runtime / f"course-kernel-{uuid.uuid4().hex[:12]}-ipc")
            return manager

    return LocalClient


def run_notebook(nb, smoke: bool, timeout: int = 1200, folder: Path = NOTEBOOKS, env: dict | None = None) -> None:
    """Run a notebook top to bottom in a fresh kernel started in `folder`, in smoke or full mode.

    The mode (and `env`) is set in the kernel's environment only; this process's is left as it is.
    """
    env = {**os.environ, **(env or {}), "COURSE_SMOKE": "1" if smoke else "0"}
    _local_client_class()(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(env=env)


def execute(paths: list[Path], timeout: int = 1200) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        print(f"executing {path.name} in smoke mode", flush=True)
        run_notebook(nb, smoke=True, timeout=timeout)
        repository, branch = course_location()
        sync_notebook(nb, path.name, repository, branch, student_branch())
        strip_notebook(nb)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["sync", "execute", "check"])
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.names)
    repository, branch = course_location()
    if args.command == "execute":
        execute(paths)
        return 0
    stale = []
    for path in paths:
        original, text = processed(path)
        if text != original:
            stale.append(path.name)
            if args.command != "check":
                path.write_text(text, encoding="utf-8", newline="\n")  # LF on Windows too
    readme = README.read_text(encoding="utf-8")
    new_readme = sync_readme(readme, repository, student_branch())
    if new_readme != readme:
        stale.append(README.name)
        if args.command != "check":
            README.write_text(new_readme, encoding="utf-8", newline="\n")
    if args.command == "check":
        if stale:
            print("out of date (run `make sync-notebooks`):", ", ".join(stale))
            return 1
        print("notebooks and README are in sync")
        return 0
    print("rewrote:", ", ".join(stale) if stale else "nothing (already in sync)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
