"""What the slides (tools/slides.py) and the site (tools/site.py) both do to a run notebook before
publishing it: widgets replaced by what they drew, the machine's file paths hidden, and a check that a
page loads nothing from the network; and where the offline copies of reveal.js and MathJax come from.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path

import nbformat

from tools.notebooks import PATH_START, ROOT

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = (
    '<p class="course-widget-note">Interactive widget: its controls work in JupyterLab or Colab. '
    "Shown here: {what}.</p>"
)
# The models a progress bar is made of (tqdm.auto draws an HBox of two labels and a bar).
# tqdm's text form of a bar: "... 12/12 [00:01<00:00, 9.5it/s]"
PROGRESS_TEXT = re.compile(r"\b\d+/\d+ \[[\d:?]+<")
PROGRESS_PARTS = {"HBoxModel", "HTMLModel", "LabelModel", "FloatProgressModel", "IntProgressModel"}
# where an installed library's file lies on the machine that ran the notebook (named by its warnings)
INSTALLED = re.compile(PATH_START + r"""[^\s'"()<>]*?[/\\]+(?:site|dist)-packages[/\\]+""")
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


def static_outputs(view: dict, state: dict, text: str = "") -> list:
    """What a slide shows in place of one widget.

    A widget with an Output area (the course's steppers and explorers) becomes a line saying where the
    interactive version runs, then the figure it drew at its starting values. A progress bar (tqdm's,
    drawn while training) is left out: once the cell has finished it says nothing. Without the widget's
    state (a notebook saved without it, or a test's run), a progress bar is told by its text form, `text`.
    """
    if view.get("model_id", "") not in state and PROGRESS_TEXT.search(text):
        return []
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
                outputs += static_outputs(view, state, output.get("data", {}).get("text/plain", ""))
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


def remote_loads(page: str) -> list[str]:
    """Snippets of a page that would make a browser fetch something from the network."""
    return [page[max(0, m.start() - 20): m.end() + 60].replace("\n", " ") for m in REMOTE_LOAD.finditer(page)]
