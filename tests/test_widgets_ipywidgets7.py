"""The widgets also work under ipywidgets 7.7, the version Colab ships (JupyterLab 4 uses 8).

`make test` installs ipywidgets 7.7 into .venv/ipywidgets7; this test runs the tests that build
widgets (those of tests/test_widgets.py, tests/test_explain.py and tests/test_drawing.py named in WIDGET_TESTS) again in a
subprocess that imports that copy first. The tests of the plain figure functions do not touch
ipywidgets and are not repeated. A second pytest process, which imports torch again: marked slow (`make
slow-test`, which CI runs after `make test`); `make test` runs the drawing explorer under ipywidgets 7.7 in
a browser (tests/test_browser.py).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

SIDE_FOLDER = Path(sys.prefix) / "ipywidgets7"
# the drawing explorer's tests say "explorer" too; the stepper's title layout is matplotlib's alone, not repeated
WIDGET_TESTS = "(stepper or calculator or explorer or unknown_example) and not titles_do_not_overlap"


@pytest.mark.slow
@pytest.mark.skipif(not (SIDE_FOLDER / "ipywidgets").is_dir(),
                    reason="ipywidgets 7.7 is not installed in .venv/ipywidgets7 (make test installs it)")
def test_widget_tests_pass_under_ipywidgets_7():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SIDE_FOLDER), os.environ.get("PYTHONPATH", "")])}
    version = subprocess.run([sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__)"],
                             capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert version.startswith("7.7"), f"expected ipywidgets 7.7 from {SIDE_FOLDER}, got {version}"
    files = ["tests/test_widgets.py", "tests/test_explain.py", "tests/test_drawing.py"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, "-k", WIDGET_TESTS],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = run.stdout.splitlines()[-1]
    assert " passed" in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) >= 6, summary
