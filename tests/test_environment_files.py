"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

import re
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"torch": "pytorch", "opencv-python-headless": "py-opencv"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:>=\s*([0-9][0-9.]*))?\s*(?:;\s*(.*))?$")
UNPINNED = {"torch", "torchvision"}


def _parse(requirement: str) -> tuple[str, str | None, str | None]:
    match = REQUIREMENT.match(requirement)
    assert match, f"cannot read requirement {requirement!r}: use 'name' or 'name>=version'"
    name, bound, marker = match.groups()
    return name.lower().replace("_", "-"), bound, marker


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def pip_requirements() -> dict[str, str | None]:
    project = _pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in ("lab", "slides", "site", "test"):
        lines += project["optional-dependencies"][extra]
    found = {}
    for line in lines:
        name, bound, marker = _parse(line)
        if marker and "python_version < '3.11'" in marker:
            continue  # a backport conda's Python >= 3.11 does not need
        found[CONDA_NAMES.get(name, name)] = bound
    return found


def conda_requirements() -> tuple[dict[str, str | None], list[str]]:
    """Packages of environment.yml (conda's and those of its pip section) and the pip section's lines."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    found, pip_section = {}, []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip_section += entry.get("pip", [])
            continue
        name, bound, _ = _parse(entry)
        if name not in ("python", "pip"):
            found[name] = bound
    for line in pip_section:
        if not line.startswith("-"):
            name, bound, _ = _parse(line.split("#")[0])
            found[name] = bound
    return found, pip_section


def test_same_packages_and_same_lower_bounds():
    pip = pip_requirements()
    conda, _ = conda_requirements()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml but missing from environment.yml"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml but missing from pyproject.toml"
    different = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]}
    assert different == {}, "lower bounds differ (pyproject, environment.yml)"


def test_conda_installs_the_course_package_itself():
    _, pip_section = conda_requirements()
    assert any(line.replace("--editable", "-e").strip() == "-e ." for line in pip_section)


def test_python_versions_agree():
    requires = _pyproject()["project"]["requires-python"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{requires}" in environment["dependencies"]


def test_torch_has_lower_bounds_only_so_colab_keeps_its_own():
    for line in _pyproject()["project"]["dependencies"]:
        name, bound, _ = _parse(line)
        if name in UNPINNED:
            assert bound, line
            assert "==" not in line, line
            assert "<" not in line, line


@pytest.mark.parametrize("name", sorted(UNPINNED))
def test_ci_constraints_pin_within_the_lower_bounds(name):
    pins = {}
    for line in (ROOT / "constraints" / "ci.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            package, version = line.split("==")
            pins[package.strip()] = version.strip()
    bound = pip_requirements()[CONDA_NAMES.get(name, name)]
    def as_tuple(version):
        return tuple(int(part) for part in version.split(".")[:3])

    assert as_tuple(pins[name]) >= as_tuple(bound)


def _make_dry_run(target: str, tmp_path) -> list[str]:
    """The pip install lines `make TARGET` would run in a fresh virtual environment."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    run = subprocess.run(["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return [line for line in run.stdout.replace("\\\n", " ").splitlines() if "pip install" in line]


def test_make_lab_installs_with_the_student_s_installer(tmp_path):
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    run = subprocess.run(["make", "-n", "-B", "lab", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert f"-m tools.lab --install-only --venv {tmp_path / 'venv'} --constraints 'constraints/ci.txt'" in run.stdout


@pytest.mark.parametrize("system, gpu, cpu_index", [("Linux", False, True), ("Windows", False, True), ("Linux", True, False),
                                                    ("Windows", True, False), ("Darwin", False, False)])
def test_a_student_without_an_nvidia_gpu_gets_pytorch_s_cpu_build(system, gpu, cpu_index):
    from tools import lab

    index = lab.torch_index(system, gpu)
    assert (index == lab.CPU_INDEX) == cpu_index and (index is None) == (not cpu_index)
    commands = lab.install_commands(Path("venv/bin/python"), ROOT / "constraints" / "ci.txt", index)
    assert commands[-1][-2:] == ["--editable", f"{ROOT}[lab]"]  # the lab extra only: no test or slide tools
    assert all("--constraint" in command for command in commands)
    if cpu_index:
        assert commands[0][-4:] == ["--index-url", lab.CPU_INDEX, "torch", "torchvision"] and len(commands) == 2
    else:
        assert len(commands) == 1


def test_the_student_s_installer_falls_back_to_pypi_when_the_cpu_index_fails(tmp_path, monkeypatch, capsys):
    from tools import lab

    ran = []
    monkeypatch.setattr(lab, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(lab.platform, "system", lambda: "Linux")
    monkeypatch.setattr(lab.subprocess, "run", lambda command, **kw: ran.append(command) or
                        type("Done", (), {"returncode": 1 if "--index-url" in command else 0})())
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    assert lab.main(["--venv", str(tmp_path / "venv"), "--install-only"]) == 0
    assert len(ran) == 2 and "--index-url" in ran[0] and ran[1][-1].endswith("[lab]")
    assert "could not be used; installing PyPI's build instead" in capsys.readouterr().out


def test_make_test_installs_the_test_slides_and_site_extras_too(tmp_path):
    installs = _make_dry_run("test", tmp_path)
    assert any(line.endswith("--editable '.[lab,test,slides,site,tools]'") for line in installs), installs


@pytest.mark.parametrize("target, extras", [("student", "tools"), ("solutions", "tools"), ("grade", "tools"),
                                            ("slides", "tools,slides"), ("site", "tools,site")])
def test_lecturer_targets_install_only_what_they_need(tmp_path, target, extras):
    installs = _make_dry_run(target, tmp_path)
    assert len(installs) == 1, installs
    assert installs[0].endswith(f"--editable '.[{extras}]'"), installs  # no test tools, no Sphinx for the slides


def test_make_clean_keeps_the_virtual_environment_and_distclean_removes_it(tmp_path):
    import subprocess

    venv = tmp_path / "venv"
    for target, removes in (("clean", False), ("distclean", True)):
        run = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True)
        assert (str(venv) in run.stdout) == removes, run.stdout


# -- the lock: every package `make test` installs, at one version ---------------------------------------
def test_make_test_and_ci_install_from_the_full_lock(tmp_path):
    installs = _make_dry_run("test", tmp_path)
    assert all("--constraint constraints/lock" in line for line in installs), installs
    assert any("--constraint constraints/lock.txt" in line and "[lab,test,slides,site,tools]" in line for line in installs)
    assert any("--constraint constraints/lock-ipywidgets7.txt" in line and "ipywidgets==7.7" in line for line in installs)
    assert any("--constraint constraints/lock-lab3.txt" in line and "jupyterlab==3.6" in line for line in installs)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_lock_keeps_the_choices_it_was_made_from():
    from tools import lock

    pins = lock.read(lock.LOCK)
    for line in (ROOT / "constraints" / "ci.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins.get(name.strip()) == version.strip(), f"the lock has {name} {pins.get(name.strip())}, ci.txt {version}"


def test_every_package_of_this_environment_is_pinned_in_the_lock():
    """What `make test` installed is what the lock says, package by package: the environment the tests run
    in is the locked one (a release of any package elsewhere changes nothing here until `make lock`)."""
    import sys

    from tools import lock

    if sys.version_info[:2] != (3, 11):
        pytest.skip(f"the lock is written for Python 3.11; this is {sys.version.split()[0]} (make compat tests others)")
    assert lock.unpinned(lock.installed(), lock.read(lock.LOCK)) == []
    side = Path(sys.prefix) / "ipywidgets7"
    if side.is_dir():
        assert lock.unpinned(lock.installed([str(side)]), lock.read(lock.SIDE_LOCK)) == []
    lab3 = sorted((Path(sys.prefix) / "lab3").glob("lib/python3*/site-packages"))
    if lab3:
        assert lock.unpinned(lock.installed([str(lab3[0])]), lock.read(lock.LAB3_LOCK)) == []
        # the drawing explorer's front end there is the one of the kernel's anywidget
        assert lock.read(lock.LAB3_LOCK)["anywidget"] == lock.read(lock.LOCK)["anywidget"]


def test_the_lock_check_finds_a_package_that_is_not_pinned():
    from tools import lock

    pins = {"numpy": "2.0.0", "torch": "2.14.1"}
    assert lock.unpinned({"numpy": "2.0.0", "torch": "2.14.1", "pip": "25.0", "course-utils": "0.1.0"}, pins) == []
    assert lock.unpinned({"numpy": "2.1.0", "scipy": "1.16.0"}, pins) == [
        "numpy 2.1.0 (lock: 2.0.0)", "scipy 1.16.0 (lock: not pinned)"]
