"""A student's install and JupyterLab, on any system: what `make lab` runs, and the way in without `make`.

    python -m tools.lab                  # first time: creates .venv and installs; then opens JupyterLab
    python -m tools.lab --install-only   # only install (make lab calls this, then starts JupyterLab)
    python -m tools.lab --dry-run        # print the commands instead of running them

On Windows, where there is no `make`, run it with the Python launcher from the course's folder:
`py -m tools.lab`. It needs only Python's standard library to start.

Where there is no NVIDIA GPU, PyTorch comes from PyTorch's CPU wheel index: a few hundred MB instead of
the several GB of CUDA libraries that PyPI's build for Linux and Windows brings. Where that index cannot
be reached, it says so and installs PyPI's build. macOS wheels on PyPI are CPU (and Apple GPU) builds.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CONSTRAINTS = ROOT / "constraints" / "ci.txt"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU with its driver: nvidia-smi lists at least one."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def torch_index(system: str, nvidia_gpu: bool) -> str | None:
    """Where PyTorch should come from: PyTorch's CPU index on Linux and Windows without an NVIDIA GPU,
    else PyPI (None): its build for CUDA where there is a GPU, its CPU and Apple-GPU build on macOS."""
    return CPU_INDEX if system in ("Linux", "Windows") and not nvidia_gpu else None


def install_commands(python: Path, constraints: Path | None, index: str | None) -> list[list[str]]:
    """The pip commands of a student's install: PyTorch first where its CPU build is wanted, then the
    course with JupyterLab (the lab extra), editable, so that the notebooks import this folder's helpers."""
    pins = ["--constraint", str(constraints)] if constraints else []
    commands = []
    if index:
        commands.append([str(python), "-m", "pip", "install", *pins, "--index-url", index, "torch", "torchvision"])
    commands.append([str(python), "-m", "pip", "install", *pins, "--editable", f"{ROOT}[lab]"])
    return commands


def lab_command(python: Path) -> list[str]:
    command = [str(python), "-m", "jupyterlab", f"--notebook-dir={ROOT / 'notebooks'}"]
    if os.name == "posix" and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root (containers, some lab machines) unless told
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtual environment (default .venv)")
    parser.add_argument("--constraints", default=str(CONSTRAINTS), help="pip constraints ('' for none)")
    parser.add_argument("--install-only", action="store_true", help="install, do not start JupyterLab")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--cpu", action="store_true", help="PyTorch's CPU build even where there is an NVIDIA GPU")
    args, lab_args = parser.parse_known_args(argv)
    python = venv_python(args.venv)
    index = torch_index(platform.system(), nvidia_gpu=False if args.cpu else has_nvidia_gpu())
    commands = [] if python.exists() else [[sys.executable, "-m", "venv", str(args.venv)]]
    commands += install_commands(python, Path(args.constraints) if args.constraints else None, index)
    if args.dry_run:
        print("\n".join(" ".join(command) for command in commands))
        return 0
    for command in commands:
        done = subprocess.run(command)
        if done.returncode and "--index-url" in command:
            print(f"lab: PyTorch's CPU index ({index}) could not be used; installing PyPI's build instead "
                  "(larger: it brings CUDA libraries)", flush=True)
        elif done.returncode:
            return done.returncode
    if args.install_only:
        return 0
    try:
        return subprocess.run(lab_command(python) + lab_args).returncode
    except KeyboardInterrupt:  # Ctrl-C stops JupyterLab; the notebooks are saved by JupyterLab itself
        return 0


if __name__ == "__main__":
    sys.exit(main())
