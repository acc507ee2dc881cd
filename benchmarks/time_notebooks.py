"""Time every notebook, top to bottom in a fresh kernel, in smoke mode and in full mode.

    python -m benchmarks.time_notebooks [NAME ...] [--modes smoke full]

Writes the table into BENCHMARKS.md between the notebook-times markers (other sections of that
file are left as they are). Times include starting the kernel, as a student would experience them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch

from benchmarks.common import OUTPUT, cpu_name, write_section
from tools.notebooks import notebook_paths, run_notebook

ROOT = Path(__file__).resolve().parents[1]

START, END = "<!-- notebook-times:start -->", "<!-- notebook-times:end -->"
MODES = ("smoke", "full")


def time_notebook(path: Path, mode: str, timeout: int) -> tuple[float, str]:
    """Execute one notebook in a fresh kernel; return (seconds, "ok" or the error's first line)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        run_notebook(nb, smoke=mode == "smoke", timeout=timeout, folder=path.parent)
        status = "ok"
    except Exception as error:  # noqa: BLE001 - reported in the table, not raised
        status = "failed: " + (str(error).strip().splitlines() or [type(error).__name__])[-1][:80]
    return time.perf_counter() - start, status


def table(rows: list[tuple[str, dict[str, tuple[float, str]]]], modes: list[str]) -> str:
    device = "cuda (" + torch.cuda.get_device_name(0) + ")" if torch.cuda.is_available() else "cpu"
    lines = [
        "## Notebooks, top to bottom in a fresh kernel",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m benchmarks.time_notebooks` on "
        f"{os.cpu_count()} CPU cores ({cpu_name()}), device {device}, Python {platform.python_version()}, "
        f"torch {torch.__version__}. Times include the kernel's start.",
        "",
        "| notebook | " + " | ".join(f"{mode} mode (s)" for mode in modes) + " |",
        "|---|" + "---:|" * len(modes),
    ]
    for name, results in rows:
        cells = []
        for mode in modes:
            seconds, status = results[mode]
            cells.append(f"{seconds:.1f}" if status == "ok" else f"{seconds:.1f} ({status})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    rows = []
    for path in notebook_paths(args.names):
        results = {}
        for mode in args.modes:
            results[mode] = time_notebook(path, mode, args.timeout)
            print(f"{path.name:<40} {mode:>5}: {results[mode][0]:7.1f} s  {results[mode][1]}", flush=True)
        rows.append((path.name, results))
    write_section(table(rows, args.modes), START, END)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0 if all(r[1] == "ok" for _, results in rows for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
