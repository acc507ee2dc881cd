"""Argument checks shared by the package: each names the argument, says what would fit and what it got.

A wrong argument found here, before any work starts, gets a message a student can act on; found later,
deep inside PyTorch or matplotlib, it reads as "unsupported operand type(s) for %: 'NoneType' and 'int'".
Every check returns the value in the form the caller uses (an int, a float, a Path).
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

# Widths (channels, classes, units) and counts (layers, examples) above this are a typo, not a network
# that fits in memory: refused at once instead of after minutes of allocation.
MAX_WIDTH = 100_000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} {text[:40]}..."


def whole(name: str, value: Any, low: int = 1, high: int = MAX_WIDTH) -> int:
    """An integer from `low` to `high` (True and False are not numbers here)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, got {_shown(value)}")
    return int(value)


def number(name: str, value: Any, low: float | None = None, high: float | None = None, above: bool = False) -> float:
    """A finite number from `low` to `high` (`above`: strictly more than `low`)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number{_range(low, high, above)}, got {_shown(value)}")
    if (low is not None and (value <= low if above else value < low)) or (high is not None and value > high):
        raise ValueError(f"{name} must be a number{_range(low, high, above)}, got {_shown(value)}")
    return float(value)


def _range(low, high, above) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}" if not above else f" above {low:g}, at most {high:g}"
    if low is not None:
        return f" above {low:g}" if above else f" of at least {low:g}"
    return f" of at most {high:g}" if high is not None else ""


def flag(name: str, value: Any) -> bool:
    """True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_shown(value)}")
    return bool(value)


def choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of the names in `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {_shown(value)}")
    return value


def text(name: str, value: Any, optional: bool = True) -> str | None:
    """Text (or None, where that means "none")."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text{' or None' if optional else ''}, got {_shown(value)}")
    return value


def path(name: str, value: Any) -> Path:
    """A file or folder path, as text or a Path."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)) or not str(value):
        raise TypeError(f"{name} must be a file path (text or a pathlib.Path), got {_shown(value)}")
    return Path(value)


def module(name: str, value: Any) -> nn.Module:
    """A PyTorch network or layer."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch network (an nn.Module), got {type(value).__name__}")
    return value


def function(name: str, value: Any) -> Callable:
    """Something to call: a function, or a layer such as nn.ReLU() (not the class nn.ReLU itself)."""
    if not callable(value) or isinstance(value, type):
        raise TypeError(f"{name} must be a function (or a layer such as nn.ReLU()), got {_shown(value)}")
    return value


def batches(name: str, value: Any):
    """Something to loop over that gives (inputs, targets) batches: a DataLoader, or a list of pairs."""
    if isinstance(value, (str, bytes, Real, torch.Tensor, np.ndarray)) or value is None or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must give (inputs, targets) batches, like a torch.utils.data.DataLoader, "
                        f"got {_shown(value)}")
    return value


def sequence(name: str, value: Any, what: str = "items", empty: bool = False) -> list:
    """A list or tuple (not text, not a single number), made a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of {what}, got {_shown(value)}")
    if not value and not empty:
        raise ValueError(f"{name} must hold at least one of its {what}, got an empty {type(value).__name__}")
    return list(value)


def device(name: str, value: Any) -> torch.device | None:
    """None (where the model is) or a device name PyTorch knows, such as "cpu" or "cuda"."""
    if value is None:
        return None
    try:
        place = value if isinstance(value, torch.device) else torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be None, 'cpu', 'cuda' (or 'cuda:0'), 'mps' or a torch.device, "
                         f"got {_shown(value)}") from None
    if place.type == "cuda" and (not torch.cuda.is_available() or (place.index or 0) >= torch.cuda.device_count()):
        found = f"{torch.cuda.device_count()} CUDA GPU(s)" if torch.cuda.is_available() else "no CUDA GPU"
        raise ValueError(f"{name}={_shown(value)} is not on this machine ({found}); use 'cpu', or None for where "
                         "the model is")
    if place.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={_shown(value)}: this machine has no Apple GPU (MPS); use 'cpu', or None")
    return place
