"""The course's settings, read from environment variables in this one place with one parser.

| variable | meaning |
|---|---|
| COURSE_SMOKE | smoke mode: smaller sizes, same code (default: on when CI is set to a true value) |
| COURSE_DEVICE | force a device: cuda, mps or cpu (default: the best available) |
| COURSE_OFFLINE | never download; take the offline fallbacks at once |
| COURSE_DATA | where datasets are downloaded (default ~/.cache/cnn-course) |
| RANK, LOCAL_RANK, WORLD_SIZE | set by `torchrun` for each process of a distributed run (read by `distributed`) |

On/off values are 1, true, yes, on and 0, false, no, off or empty, in any case; anything else is a
ValueError that names the variable. Every helper (and tools/slides.py) asks these functions, so a
spelling means the same everywhere. Taught in notebooks/00_setup.ipynb.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

__all__ = ["TRUE", "FALSE", "DEVICE_KINDS", "flag", "smoke", "offline", "device", "data_root", "Distributed", "distributed"]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})
DEVICE_KINDS = ("cuda", "mps", "cpu")


def flag(name: str) -> bool | None:
    """The on/off value of environment variable `name`, or None when it is not set."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"environment variable {name}={raw!r} is not understood; use 1/true/yes/on or 0/false/no/off")


def smoke() -> bool:
    """COURSE_SMOKE; when it is not set, on under CI (CI=true, or CI set to a service's name)."""
    explicit = flag("COURSE_SMOKE")
    if explicit is not None:
        return explicit
    try:
        return bool(flag("CI"))
    except ValueError:
        return True  # some CI services set CI to their own name; any value that is not false means CI


def offline() -> bool:
    """COURSE_OFFLINE: True when the helpers must not download."""
    return bool(flag("COURSE_OFFLINE"))


def device() -> str | None:
    """COURSE_DEVICE (cuda, mps or cpu), or None for the best available device."""
    raw = os.environ.get("COURSE_DEVICE")
    if raw is None or not raw.strip():
        return None
    kind = raw.strip().lower()
    if kind not in DEVICE_KINDS:
        raise ValueError(f"environment variable COURSE_DEVICE={raw!r} is not a device kind; use one of "
                         f"{', '.join(DEVICE_KINDS)}, or leave it empty for the best available one")
    return kind


def data_root() -> Path:
    """COURSE_DATA, or ~/.cache/cnn-course: where datasets are downloaded."""
    raw = os.environ.get("COURSE_DATA", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "cnn-course"


class Distributed(NamedTuple):
    """Where this process sits in a run started by torchrun."""

    rank: int        # 0 .. world_size - 1 over all machines
    local_rank: int  # 0 .. processes on this machine - 1: picks the GPU
    world_size: int  # processes in the run


def distributed() -> Distributed | None:
    """RANK, LOCAL_RANK and WORLD_SIZE as torchrun sets them, or None when this process was not
    started by torchrun (or is its only process). Taught in notebooks/10_beyond_one_machine.ipynb."""
    values = {}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        raw = os.environ.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            values[name] = int(raw)
        except ValueError:
            raise ValueError(f"environment variable {name}={raw!r} is not an integer; torchrun sets it to one") from None
    world_size = values.get("WORLD_SIZE", 1)
    if world_size <= 1:
        return None
    rank = values.get("RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"environment variable RANK={rank} must lie in 0..{world_size - 1} (WORLD_SIZE={world_size})")
    return Distributed(rank, values.get("LOCAL_RANK", rank), world_size)
