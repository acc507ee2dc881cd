"""The compatibility run (`make compat`): the course tested where students are, not only with CI's versions.

Each row is a fresh virtual environment with one Python and one set of versions; the course is
installed into it and its unit tests and every notebook (smoke mode, nbval) run there. The rows:

- colab: Colab's runtime today, its Python and the versions it lists (constraints/compat/colab.txt,
  which cites its source). Before the course is installed, the notebooks' own Colab install command
  runs (from this clone instead of GitHub), and `pip freeze` before and after must agree on torch,
  torchvision, numpy and ipywidgets: the course must leave Colab's own packages alone.
- oldest: Python 3.10 and the lowest version pyproject.toml allows of every requirement, found on the
  package index (the oldest release that satisfies each lower bound).
- newest: the newest Python here and the newest release of everything the index offers.

The results go to constraints/compat/results.json and, as a table, to COMPATIBILITY.md. Each row
downloads a build of torch of several GB: this is a maintainer's command, not part of `make test`.

    python -m tools.compat                 # every row
    python -m tools.compat colab oldest    # some rows
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / ".compat"
RESULTS = ROOT / "constraints" / "compat" / "results.json"
REPORT = ROOT / "COMPATIBILITY.md"
# The extras a row installs: the tests and the notebook tools. JupyterLab (lab) and Sphinx (site) are
# front ends, whose browser tests (test_browser, test_site) do not depend on the versions a row varies.
EXTRAS = ("test", "tools", "slides")
IGNORED_TESTS = ("tests/test_browser.py", "tests/test_site.py")
SHOWN = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "scipy", "scikit-learn", "pillow",
         "opencv-python-headless", "captum", "nbval", "pytest")
# What Colab's install must not touch.
COLAB_KEEPS = ("torch", "torchvision", "numpy", "ipywidgets")
ROWS = {
    "colab": {"python": "3.12", "about": "Colab's runtime today (constraints/compat/colab.txt)"},
    "oldest": {"python": "3.10", "about": "Python 3.10 and every lower bound of pyproject.toml"},
    "newest": {"python": "3.13", "about": "the newest release of everything on the index"},
}


def find_python(version: str) -> str:
    """An interpreter of `version` ("3.12") that runs: one installed by pyenv, else pythonX.Y on the PATH
    (a pyenv shim on the PATH may name a version that is installed but not active)."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), key=_version_key)[::-1]
    candidates += [found] if (found := shutil.which(f"python{version}")) else []
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    raise SystemExit(f"compat: no Python {version} found (looked under {root}/versions and for python{version} on the PATH); "
                     f"install it (pyenv install {version}) or leave that row out")


def _version_key(path: str) -> Version:
    match = re.search(r"versions/(\d+\.\d+\.\d+)", path)
    return Version(match.group(1)) if match else Version("0")


def requirements(extras=EXTRAS) -> list[Requirement]:
    """The course's requirements and those of the extras a row installs, as pyproject.toml writes them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = list(project["dependencies"])
    for extra in extras:
        listed += project["optional-dependencies"][extra]
    return [Requirement(line) for line in listed]


def lower_bound(requirement: Requirement) -> Version | None:
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", "==", "~=")]
    return min(bounds) if bounds else None


# A row installs what it names from the index, whatever a pip configuration on this machine says (a cap on
# torch's version, another index): PIP_CONFIG_FILE points at nothing.
PIP_ENV = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _pip(python: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, env=PIP_ENV, **kwargs)


def available_versions(python: Path, name: str) -> list[Version]:
    """Every release of `name` the index has for this interpreter, as wheels (pip index versions)."""
    done = _pip(python, "index", "versions", name, "--only-binary", ":all:")
    if done.returncode != 0:
        raise SystemExit(f"compat: pip could not list the versions of {name}: {done.stderr.strip()[-500:]}")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("Available versions:")), "")
    versions = []
    for text in line.removeprefix("Available versions:").split(","):
        try:
            versions.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return versions


def oldest_constraints(python: Path) -> list[str]:
    """For each requirement with a lower bound, the oldest wheel on the index that satisfies it."""
    # (requirements() reads this clone's pyproject.toml: the row's own is the same file, committed)
    environment = json.loads(subprocess.run([str(python), "-c", "import json, platform, sys; print(json.dumps("
                                             "{'python_version': '%d.%d' % sys.version_info[:2], "
                                             "'platform_system': platform.system(), 'sys_platform': sys.platform}))"],
                                            capture_output=True, text=True, check=True).stdout)
    lines = []
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        if lower_bound(requirement) is None:
            continue
        allowed = [v for v in available_versions(python, requirement.name)
                   if v in SpecifierSet(str(requirement.specifier)) and not v.is_prerelease]
        if not allowed:
            raise SystemExit(f"compat: no wheel of {requirement} for Python {environment['python_version']} on the index")
        lines.append(f"{requirement.name}=={min(allowed)}")
    return sorted(set(lines), key=str.lower)


def freeze(python: Path) -> dict[str, str]:
    done = _pip(python, "list", "--format=json")
    return {item["name"].lower().replace("_", "-"): item["version"] for item in json.loads(done.stdout)}


def colab_install_command() -> list[str]:
    """The pip command of the notebooks' Colab cell, as written there (00_setup's first code cell)."""
    import nbformat

    cell = next(c for c in nbformat.read(ROOT / "notebooks" / "00_setup.ipynb", as_version=4).cells if c.cell_type == "code")
    listed = re.search(r"\[sys\.executable,\s*(.*?)\]", cell.source, re.S)
    if not listed:
        raise SystemExit("compat: 00_setup's first code cell holds no pip command of the form [sys.executable, ...]")
    return [json.loads(part.strip()) for part in listed.group(1).split(",") if part.strip()]


def _run(command: list[str], log, **kwargs) -> int:
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, **kwargs).returncode


def run_row(name: str, workers: int = 2) -> dict:
    row = ROWS[name]
    folder = FOLDER / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    result = {"row": name, "about": row["about"], "date": date.today().isoformat(), "failed": []}
    source = folder / "src"  # the committed course, cloned: what runs here is what would land
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(source)], check=True)
    result["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source, capture_output=True,
                                      text=True).stdout.strip()
    with open(folder / "log.txt", "w", encoding="utf-8") as log:
        interpreter = find_python(row["python"])
        subprocess.run([interpreter, "-m", "venv", str(folder / "venv")], check=True)
        python = folder / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], log, env=PIP_ENV)
        constraints = folder / "constraints.txt"
        if name == "colab":
            shutil.copy(ROOT / "constraints" / "compat" / "colab.txt", constraints)
            pins = [ln.strip() for ln in constraints.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
            if _run([str(python), "-m", "pip", "install", "--quiet", *pins], log, env=PIP_ENV):
                result["failed"].append("installing Colab's versions")
            before = freeze(python)
            command = colab_install_command()
            local = [f"course-utils @ {source.as_uri()}" if part.startswith("course-utils @") else part for part in command]
            if _run([str(python), *local], log, env=PIP_ENV):
                result["failed"].append("the notebooks' Colab install command")
            after = freeze(python)
            changed = {k: f"{before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
                       if before.get(k) != after.get(k) and k != "course-utils"}
            result["colab_install_changed"] = changed
            touched = [k for k in COLAB_KEEPS if k in changed]
            if touched:
                result["failed"].append(f"Colab's install changed {', '.join(f'{k} ({changed[k]})' for k in touched)}")
            if _run([str(python), "-c", "import course_utils, course_utils.widgets, course_utils.training"], log):
                result["failed"].append("importing the course after Colab's install")
        elif name == "oldest":
            constraints.write_text("\n".join(oldest_constraints(python)) + "\n", encoding="utf-8")
        else:
            constraints.write_text("", encoding="utf-8")
        result["constraints"] = [ln for ln in constraints.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
        install = [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "--constraint", str(constraints),
                   "--editable", f"{source}[{','.join(EXTRAS)}]"]
        if _run(install, log, env=PIP_ENV):
            result["failed"].append("installing the course")
        versions = freeze(python)
        result["python"] = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                          capture_output=True, text=True).stdout.strip()
        result["versions"] = {k: versions.get(k) for k in SHOWN}
        if not result["failed"]:
            tests_started = time.monotonic()
            command = [str(python), "-m", "pytest", "-n", str(workers), "-m", "not slow", "-q", "-rfs",
                       *(f"--ignore={path}" for path in IGNORED_TESTS)]
            code = _run(command, log, cwd=source, env={**os.environ, "CI": "true"})
            result["test_seconds"] = round(time.monotonic() - tests_started, 1)
            text = (folder / "log.txt").read_text(encoding="utf-8", errors="replace")
            summary = [ln for ln in text.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
            result["tests"] = summary[-1].strip("= ") if summary else "no summary"
            result["failures"] = sorted(set(re.findall(r"^FAILED (\S+)", text, re.M)))[:40]
            if code:
                result["failed"].append(f"tests: {result['tests']}")
    result["passed"] = not result["failed"]
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def write_report(results: dict) -> None:
    lines = ["# Compatibility", "",
             "The course tested where students run it: each row is a fresh virtual environment, the course installed",
             "into it, then its unit tests and every notebook in smoke mode (`make compat`, which runs",
             "`python -m tools.compat`; the browser tests of JupyterLab and the site are left out, as their front",
             "ends do not change with these versions). CI itself runs Python 3.11 with the locked versions of",
             "`constraints/lock.txt`.", "",
             "| row | date, commit | Python | torch | torchvision | numpy | matplotlib | ipywidgets | result | tests | time |",
             "|---|---|---|---|---|---|---|---|---|---|---:|"]
    for name in ROWS:
        if name not in results:
            continue
        r, v = results[name], results[name].get("versions", {})
        verdict = "passed" if r["passed"] else "failed: " + "; ".join(r["failed"])
        lines.append(f"| {name}: {r['about']} | {r['date']}, {r.get('commit', '?')} | {r.get('python', '?')} | " + " | ".join(
            str(v.get(k)) for k in ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets"))
            + f" | {verdict} | {r.get('tests', '')} | {r['seconds'] / 60:.0f} min |")
    lines += ["", "## Each row's versions", ""]
    for name in ROWS:
        if name in results:
            r = results[name]
            lines.append(f"- **{name}**: " + ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items() if v))
            if name == "colab":
                changed = r.get("colab_install_changed", {})
                kept = [k for k in COLAB_KEEPS if k not in changed]
                lines.append("  - The notebooks' Colab install command, run from this clone, added or changed: "
                             + (", ".join(f"{k} ({v})" for k, v in changed.items()) or "nothing")
                             + (f"; it left {', '.join(kept)} as Colab has them." if kept else "."))
            if r.get("failures"):
                lines.append("  - Failed: " + ", ".join(r["failures"]))
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help=f"rows to run: {', '.join(ROWS)} (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.rows if name not in ROWS]
    if unknown:
        parser.error(f"rows: no row {', '.join(unknown)}; the rows are {', '.join(ROWS)}")
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    for name in args.rows or list(ROWS):
        print(f"compat: row {name} ({ROWS[name]['about']}); log in {FOLDER / name / 'log.txt'}", flush=True)
        results[name] = run_row(name, workers=args.workers)
        print(f"compat: {name}: {'passed' if results[name]['passed'] else 'FAILED: ' + '; '.join(results[name]['failed'])}"
              f" in {results[name]['seconds'] / 60:.1f} min", flush=True)
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        write_report(results)
    return 0 if all(results[name]["passed"] for name in (args.rows or list(ROWS))) else 1


if __name__ == "__main__":
    sys.exit(main())
