"""Colab readiness: the Colab path of a notebook runs, the install never pins torch, and every file a
notebook loads at run time is part of the installed package (not only of a clone)."""

import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from helpers import ROOT

from tools import notebooks as nbtools

FAKE_COLAB = '''
import subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's runtime has loaded
_pip_calls, _real_run = [], subprocess.run
def _record(command, *args, **kwargs):
    _pip_calls.append(list(command))
    return subprocess.CompletedProcess(command, 0)
subprocess.run = _record  # record the install instead of reaching GitHub
'''

AFTER_INSTALL = '''
subprocess.run = _real_run
assert len(_pip_calls) == 1, _pip_calls
assert _pip_calls[0][1:4] == ["-m", "pip", "install"], _pip_calls
print("INSTALL:", " ".join(_pip_calls[0][4:]))
'''


@pytest.mark.slow  # notebook 00 run once more, whole: `make slow-test` (nbval runs it in `make test`)
def test_setup_notebook_takes_the_colab_path(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "00_setup.ipynb", as_version=4)
    install = next(i for i, c in enumerate(nb.cells) if nbtools.INSTALL_TAG in c.metadata.get("tags", []))
    nb.cells.insert(install + 1, nbformat.v4.new_code_cell(AFTER_INSTALL))
    nb.cells.insert(install, nbformat.v4.new_code_cell(FAKE_COLAB))
    nbtools.run_notebook(nb, smoke=True, timeout=300)
    texts = ["".join(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells
             if c.cell_type == "code" for o in c.outputs]
    installed = next(t for t in texts if t.startswith("INSTALL:"))
    repository, branch = nbtools.course_location()
    assert f"course-utils @ git+https://github.com/{repository}@{branch}" in installed
    assert "torch" not in installed.replace("course-utils", "")  # Colab keeps its own torch
    is_colab_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "is_colab()")
    assert is_colab_cell.outputs[0]["data"]["text/plain"] == "True"


def test_the_package_carries_the_photos_and_the_exercise_bank(tmp_path):
    """Build the wheel Colab's pip would build and look inside: the sample photos, the exercises' bank
    (their hints and hashed answers, which every check cell reads) and the drawing explorer's script and
    styles must be there, and no answer key."""
    source = tmp_path / "source"  # a copy, so that the build leaves no build/ or egg-info in the clone
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("course_utils", "images"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("course_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    photos = {f"course_utils/images/{p.name}" for p in (ROOT / "images").iterdir() if p.suffix == ".jpg"}
    assert photos
    assert photos <= names
    assert "course_utils/images/README.md" in names
    assert "course_utils/exercise_bank.json" in names
    assert {"course_utils/drawing.js", "course_utils/drawing.css"} <= names  # the drawing explorer's browser half
    assert not any(name.startswith("tools/") for name in names)  # the answer key stays out of the package


def test_notebooks_load_no_files_from_the_clone():
    """Notebooks read photos through data.sample_image(_path), never by a path into the repository."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert "../images" not in cell.source, f"{path.name}: {cell.source[:80]}"
                assert "images/" not in cell.source, f"{path.name}: {cell.source[:80]}"
