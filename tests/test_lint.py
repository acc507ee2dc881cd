"""Lint and import order (ruff, configured in pyproject.toml) over the package, tools, benchmarks,
tests and notebooks, and the pre-commit configuration that runs the same checks before a commit."""

import re
import subprocess
import sys

import yaml
from helpers import ROOT


def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True)
    assert "No module named ruff" not in run.stderr, "ruff is not installed: it is in the test extra (make test)"
    assert run.returncode == 0, "ruff found problems (`ruff check --fix .` fixes some):\n" + run.stdout[-4000:]


def test_every_noqa_says_why():
    bare = []
    for path in [*ROOT.glob("*.py"), *(ROOT / "course_utils").glob("*.py"), *(ROOT / "tools").glob("*.py"),
                 *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"#\s*noqa(?::\s*[A-Z]+\d+(?:,\s*[A-Z]+\d+)*)?\s*$", line):
                bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert bare == [], f"add the reason after the code, as in `# noqa: BLE001 - why`: {bare}"


def test_pre_commit_runs_the_ruff_of_the_tests_and_the_notebook_sync():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: (repo, hook) for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "sync-notebooks"} <= set(hooks)
    pinned = re.search(r"^ruff==(\S+)$", (ROOT / "constraints" / "ci.txt").read_text(), re.MULTILINE)
    assert pinned, "constraints/ci.txt pins the ruff that CI runs"
    assert hooks["ruff"][0]["rev"] == f"v{pinned.group(1)}", "keep the hook's rev equal to the ruff CI pins"
    entry = hooks["sync-notebooks"][1]["entry"].split()
    assert entry[:3] == ["python", "-m", "tools.notebooks"]
    check = subprocess.run([sys.executable, "-m", "tools.notebooks", "check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_tools_and_benchmarks_run_as_modules_without_path_tricks():
    offenders = [str(path.relative_to(ROOT)) for folder in ("course_utils", "tools", "benchmarks", "tests")
                 for path in (ROOT / folder).glob("*.py") if "sys.path.insert" in path.read_text(encoding="utf-8")
                 and path.name != "test_lint.py"]
    assert offenders == [], "run them as `python -m tools.NAME` / `python -m benchmarks.NAME` instead"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "python tools/" not in makefile
    assert "python benchmarks/" not in makefile
    for folder in ("tools", "benchmarks"):  # `python -m folder.name` needs the folder to be a package
        assert (ROOT / folder / "__init__.py").is_file(), folder
