"""Where the code runs: device choice, seeding, smoke mode and a report of the environment.

Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from typing import Any, NamedTuple

import numpy as np
import torch

from . import settings

__all__ = [
    "choose_device", "get_device", "seed_everything", "smoke_mode", "for_mode", "is_colab",
    "describe_environment", "DeviceChoice", "EnvironmentReport",
]


class DeviceChoice(NamedTuple):
    """The device picked by `choose_device` and the sentence that says why."""

    device: torch.device
    reason: str


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(prefer: str | None = None) -> DeviceChoice:
    """Return the best device (cuda, then mps, then cpu) with the reason it was chosen.

    `prefer` (or the environment variable COURSE_DEVICE) asks for one kind explicitly.
    """
    prefer = prefer if prefer is not None else settings.device()
    if prefer is not None:
        kind = str(prefer).lower()
        if kind not in settings.DEVICE_KINDS:
            raise ValueError(
                f"prefer={prefer!r} is not a device kind; use one of {', '.join(settings.DEVICE_KINDS)} or None"
            )
        available = {"cuda": torch.cuda.is_available(), "mps": _mps_available(), "cpu": True}
        if not available[kind]:
            raise ValueError(
                f"prefer={prefer!r} was asked for but no {kind} device is available here; "
                f"use prefer=None to take the best available one"
            )
        return DeviceChoice(torch.device(kind), f"{kind} was asked for explicitly.")
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return DeviceChoice(torch.device("cuda"), f"a CUDA GPU is available ({name}).")
    if _mps_available():
        return DeviceChoice(torch.device("mps"), "no CUDA GPU, but Apple's Metal (MPS) GPU is available.")
    return DeviceChoice(
        torch.device("cpu"),
        "no CUDA or Apple MPS GPU was found, so the CPU is used (slower for training, fine for this course).",
    )


def get_device(prefer: str | None = None, verbose: bool = False) -> torch.device:
    """Return the device to compute on: cuda if available, then mps, then cpu."""
    choice = choose_device(prefer)
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be True or False, got {verbose!r:.60}")
    if verbose:
        print(f"Using {choice.device}: {choice.reason}")
    return choice.device


def seed_everything(seed: int, deterministic: bool = False) -> int:
    """Seed Python, NumPy and PyTorch (all devices) so that a run can be repeated; return the seed.

    With `deterministic=True` PyTorch is also asked to use deterministic algorithms
    (slower on a GPU, and it warns where an operation has none).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer between 0 and 2**32 - 1, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer between 0 and 2**32 - 1, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for worker processes started from here
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed


def smoke_mode() -> bool:
    """True when notebooks should shrink their sizes: COURSE_SMOKE=1, or CI=true without COURSE_SMOKE."""
    return settings.smoke()


def for_mode(full: Any, smoke: Any) -> Any:
    """Return `smoke` in smoke mode and `full` otherwise (epochs, subset sizes, image sizes)."""
    return smoke if smoke_mode() else full


def is_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


class EnvironmentReport(dict):
    """A dict of facts about the environment that prints as an aligned table."""

    def __str__(self) -> str:
        width = max(len(key) for key in self)
        return "\n".join(f"{key:<{width}}  {value}" for key, value in self.items())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def describe_environment() -> EnvironmentReport:
    """Return versions, the chosen device, CPU threads, smoke mode and whether this is Colab."""
    choice = choose_device()
    report = EnvironmentReport()
    report["python"] = platform.python_version()
    report["platform"] = f"{platform.system()} {platform.machine()}"
    for name in ("torch", "torchvision", "numpy", "matplotlib", "cv2", "ipywidgets"):
        report[name] = _version(name)
    report["cuda available"] = str(torch.cuda.is_available())
    report["mps available"] = str(_mps_available())
    report["device"] = str(choice.device)
    report["why"] = choice.reason
    report["cpu threads"] = str(torch.get_num_threads())
    report["smoke mode"] = str(smoke_mode())
    report["colab"] = str(is_colab())
    return report
