"""tools/compat.py, the compatibility run (`make compat`), without its downloads: what each row installs."""

import json

from helpers import ROOT
from packaging.requirements import Requirement
from packaging.version import Version

from tools import compat


def test_the_oldest_row_takes_every_lower_bound_of_the_requirements_it_installs():
    names = {r.name for r in compat.requirements()}
    assert {"torch", "torchvision", "numpy", "ipywidgets", "nbval", "nbconvert"} <= names
    assert all(compat.lower_bound(r) is not None for r in compat.requirements()), "every requirement has a lower bound"
    assert compat.lower_bound(Requirement("torch>=2.1")) == Version("2.1")
    assert compat.lower_bound(Requirement("name")) is None


def test_the_colab_row_pins_what_colab_lists_and_says_where_from():
    text = (ROOT / "constraints" / "compat" / "colab.txt").read_text(encoding="utf-8")
    pins = dict(line.split("==") for line in text.splitlines() if line and not line.startswith("#"))
    assert {"torch", "torchvision", "numpy", "matplotlib", "ipywidgets"} <= set(pins)
    assert "github.com/googlecolab/backend-info" in text
    assert compat.ROWS["colab"]["python"] == "3.12"


def test_the_colab_row_runs_the_notebooks_own_install_command():
    command = compat.colab_install_command()
    assert command[:3] == ["-m", "pip", "install"]
    assert any(part.startswith("course-utils @ git+https://github.com/") for part in command)


def test_the_report_shows_each_row_that_ran(tmp_path, monkeypatch):
    monkeypatch.setattr(compat, "REPORT", tmp_path / "COMPATIBILITY.md")
    row = {"about": "x", "date": "2026-12-02", "commit": "abc1234", "python": "3.10.13", "passed": False,
           "failed": ["tests: 1 failed"], "seconds": 60, "tests": "1 failed, 9 passed",
           "versions": {"torch": "2.1.0", "numpy": "1.23.0"}, "failures": ["tests/test_a.py::test_b"]}
    compat.write_report({"oldest": row})
    report = (tmp_path / "COMPATIBILITY.md").read_text(encoding="utf-8")
    assert "| oldest: x | 2026-12-02, abc1234 | 3.10.13 | 2.1.0 |" in report
    assert "failed: tests: 1 failed" in report and "tests/test_a.py::test_b" in report
    results = json.loads((ROOT / "constraints" / "compat" / "results.json").read_text(encoding="utf-8"))
    assert set(results) <= set(compat.ROWS)
