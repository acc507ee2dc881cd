"""The lock of `make test`'s environment: the exact version of every package it installs.

`make lock` installs the test environment afresh (with constraints/ci.txt's choices: torch,
torchvision, ruff) and calls this module to write what got installed to constraints/lock.txt, the
copy of ipywidgets 7.7 the tests keep beside it to constraints/lock-ipywidgets7.txt, and the JupyterLab 3.6
environment beside it (.venv/lab3: ipywidgets 7's widget manager in a browser) to constraints/lock-lab3.txt. `make test` and
CI install with those files as constraints, so a new release of any package changes nothing until the
lock is refreshed. Students and Colab install with pyproject.toml's lower bounds, not the lock.

    python -m tools.lock write VENV_PYTHON [SIDE_FOLDER [LAB3_PYTHON]]   # what make lock runs
    python -m tools.lock check                             # this environment against the lock
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints" / "lock.txt"
SIDE_LOCK = ROOT / "constraints" / "lock-ipywidgets7.txt"
LAB3_LOCK = ROOT / "constraints" / "lock-lab3.txt"
# pip comes with the virtual environment (ensurepip), not from an install the lock could steer.
NOT_LOCKED = {"pip", "course-utils"}
HEADER = """\
# The exact version of every package `make test` installs: `make install`, `make test` and CI (.ci/run)
# use it as pip's constraints. Written by `make lock` (tools/lock.py) from a fresh install with the
# choices of constraints/ci.txt; do not edit by hand, run `make lock` to refresh it.
# Written with Python {python} on {system} {machine}. Students, Colab and `pip install` of the course
# get pyproject.toml's lower bounds instead, as does `make test LOCK=`.
"""


def read(path: Path) -> dict[str, str]:
    """{canonical name: version} of a lock file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            if not version:
                raise ValueError(f"{path.name}: {line!r} is not a pin (name==version)")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def installed(paths: list[str] | None = None) -> dict[str, str]:
    """{canonical name: version} of the distributions in this environment (or on `paths`)."""
    found = {}
    for dist in metadata.distributions(path=paths) if paths is not None else metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return found


def unpinned(found: dict[str, str], pins: dict[str, str]) -> list[str]:
    """What is installed but not pinned, or pinned at another version."""
    return sorted(f"{name} {version} (lock: {pins.get(name, 'not pinned')})" for name, version in found.items()
                  if name not in NOT_LOCKED and pins.get(name) != version)


def _listing(python: str, *args: str) -> dict[str, str]:
    done = subprocess.run([python, "-m", "pip", "list", "--format=json", *args], capture_output=True, text=True, check=True)
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(done.stdout)}


def write(python: str, side: str | None = None, lab3: str | None = None) -> None:
    described = subprocess.run([python, "-c", "import platform; print(platform.python_version(), platform.system(), "
                                "platform.machine())"], capture_output=True, text=True, check=True).stdout.split()
    header = HEADER.format(python=described[0], system=described[1], machine=described[2])
    pins = {name: v for name, v in _listing(python, "--exclude-editable").items() if name not in NOT_LOCKED}
    LOCK.write_text(header + "".join(f"{name}=={v}\n" for name, v in sorted(pins.items())), encoding="utf-8")
    print(f"lock: {len(pins)} packages pinned in {LOCK.relative_to(ROOT)}")
    if side:
        side_pins = _listing(python, "--path", side)
        SIDE_LOCK.write_text("# ipywidgets 7.7 (Colab's) and what it needs, installed beside the test environment in\n"
                             "# .venv/ipywidgets7 for tests/test_widgets_ipywidgets7.py. Written by `make lock`.\n"
                             + "".join(f"{name}=={v}\n" for name, v in sorted(side_pins.items())), encoding="utf-8")
        print(f"lock: {len(side_pins)} packages pinned in {SIDE_LOCK.relative_to(ROOT)}")
    if lab3:
        lab3_pins = {name: v for name, v in _listing(lab3).items() if name not in NOT_LOCKED}
        LAB3_LOCK.write_text("# JupyterLab 3.6 with ipywidgets 7's widget manager (jupyterlab_widgets 1.1) and anywidget's extension,\n"
                             "# installed beside the test environment in .venv/lab3 for the drawing explorer's browser test\n"
                             "# under ipywidgets 7.7 (tests/test_browser.py). Written by `make lock`.\n"
                             + "".join(f"{name}=={v}\n" for name, v in sorted(lab3_pins.items())), encoding="utf-8")
        print(f"lock: {len(lab3_pins)} packages pinned in {LAB3_LOCK.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "write":
        write(argv[1], argv[2] if len(argv) > 2 else None, argv[3] if len(argv) > 3 else None)
        return 0
    if argv == ["check"]:
        problems = unpinned(installed(), read(LOCK))
        print("\n".join(problems) or f"every package of {sys.prefix} is pinned in {LOCK.name} ({platform.python_version()})")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
