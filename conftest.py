"""pytest setup shared by the unit tests and the notebook runs (nbval).

Notebooks run in smoke mode, headless, with stderr (warnings, progress bars) left out of the
comparison so that only the answers a lesson teaches are checked.
"""

import os
from pathlib import Path

import pytest

# Set before any kernel starts: nbval's kernels inherit this environment.
os.environ.setdefault("COURSE_SMOKE", "1")
# Tests never download weights or datasets (hundreds of MB): they take the offline fallbacks,
# which run the same code. Set COURSE_OFFLINE=0 to let a test run reach the network.
os.environ.setdefault("COURSE_OFFLINE", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each, so kernels do not fight over the same cores.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import matplotlib  # noqa: E402 - after the environment above, which kernels and workers must inherit

matplotlib.use("Agg")  # the test process itself never opens a window; kernels keep their inline backend
# The kernels (not this process, whose matplotlib has read its settings) draw with the presentation fonts,
# as `make slides` does: the slideshows built from their runs (below) are the slides a lecturer gets.
os.environ.setdefault("MATPLOTLIBRC", str(Path(__file__).resolve().parent / "tools" / "slides_template" / "matplotlibrc"))


def pytest_collectstart(collector):
    """Do not compare stderr of notebook cells: warnings and progress bars differ run to run."""
    if hasattr(collector, "skip_compare") and "stderr" not in collector.skip_compare:
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


# -- each notebook's slideshow, built from the outputs of its nbval run --------------------------------
# After the last cell of a notebook, one more test item: the notebook's slideshow, exported as `make slides`
# exports it, from the outputs this run produced (smoke mode, figures included), then walked in headless
# Chromium at 1280x720 (tools/slide_walk.py). It reuses the run instead of running the notebook again.
# Widgets' figures are not in these outputs (nbval keeps no widget state): tests/test_slides.py exports
# one notebook with its widget through `make slides` itself.

ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"
# The slides that were the worst before the breaks were planned, kept as screenshots: (notebook, cell id).
SCREENSHOTS = {"07_training_dogs_vs_cats": "cell-022-outputs-1", "09_after_resnet": "f20d0631",
               "10_beyond_one_machine": "1f110363-outputs-1"}


_FOLDER = []


def _slides_folder() -> Path:
    """A folder of this process's own, with reveal.js and MathJax copied into it once."""
    if not _FOLDER:
        import atexit
        import shutil
        import tempfile

        from tools import slides

        _FOLDER.append(Path(tempfile.mkdtemp(prefix="course-slides-")))
        atexit.register(shutil.rmtree, _FOLDER[0], ignore_errors=True)
        slides.copy_assets(_FOLDER[0])
    return _FOLDER[0]


class SlideshowFits(pytest.Item):
    """The slideshow of one notebook, from its nbval run, opens offline and every slide fits."""

    def __init__(self, *, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def runtest(self):
        import nbformat

        from tools import editions, slide_walk, slides
        from tools import notebooks as nbtools
        from tools.editions import is_solution

        if any(cell.test_outputs is None for cell in self.cells):
            pytest.skip("not every cell of the notebook ran")
        if not slide_walk.browser_available():
            pytest.skip("the slide walk needs playwright and Chromium (make browser-test installs them)")
        nb = nbformat.from_dict(self.parent.nb)
        outputs = {id(cell.cell): cell.test_outputs for cell in self.cells}
        for copy, original in zip(nb.cells, self.parent.nb.cells):
            if id(original) in outputs:
                copy.outputs = [nbformat.from_dict(output) for output in outputs[id(original)]]
        nb.cells = [cell for cell in nb.cells if not is_solution(cell)]
        nb.metadata["course_slides"] = {"mode": "smoke"}
        name = Path(str(self.parent.path)).stem
        page, _ = slides.prepare_and_export(nb)
        path = _slides_folder() / f"{name}.slides.html"
        path.write_text(page, encoding="utf-8")
        report = slide_walk.check_slideshow(path, name, screenshots={
            SCREENSHOTS[name]: ARTIFACTS / f"slides_{name}_worst_before.png"} if name in SCREENSHOTS else {},
            title_screenshot=ARTIFACTS / f"slides_{name}_title.png")
        (ARTIFACTS / f"slides_{name}_fit.txt").write_text(report["summary"] + "\n", encoding="utf-8")
        unexplained = [cell.id for cell in nb.cells if cell.cell_type == "code" and not nbtools.alt_text(cell)
                       and any("image/png" in output.get("data", {}) for output in cell.outputs)]
        assert not unexplained, (f"{name}: cells that draw a figure with no text alternative (mystnb.image.alt in the "
                                 f"cell's metadata): {unexplained}")
        exercises = editions.exercises(nb)
        missing = [e.number for e in exercises if f"<strong>{e.number}.</strong>" not in page]
        assert not missing, f"{name}: exercises {missing} are not on the slides"
        assert "<strong>Solution" not in page, f"{name}: a worked solution is on the slides"
        expected = sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
        assert report["slides"] == expected, f"{name}: {report['slides']} slides, the notebook has {expected}"
        assert report["trouble"] == [], f"{name}: {report['trouble']}"
        assert report["accessibility"] == [], (f"{name}: the slides break WCAG 2.1 AA (axe-core): "
                                               + "; ".join(report["accessibility"][:10]))
        assert report["problems"] == [], (f"{name}: {len(report['problems'])} of {report['count']} slides do not fit a "
                                          "1280x720 screen at full size: " + "; ".join(report["problems"]))

    def reportinfo(self):
        return self.parent.path, None, f"{self.parent.name}::slides"


def pytest_collection_modifyitems(session, config, items):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    by_notebook = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            by_notebook.setdefault(item.parent, []).append(item)
    result = []
    for item in items:
        result.append(item)
        if isinstance(item, IPyNbCell) and by_notebook[item.parent][-1] is item:
            result.append(SlideshowFits.from_parent(item.parent, name="slides", cells=by_notebook[item.parent]))
    items[:] = result
