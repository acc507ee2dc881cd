"""Data-parallel training on this machine: 2 processes against 1, for the same epoch.

    python -m benchmarks.distributed_speed

Each case runs `python -m course_utils.train` once as one process (batch B) and once under
`torchrun --nproc_per_node=2` (batch B/2 per process, so the same B examples per step and the same
epoch of data). Seconds per epoch come from the run's own history (training and validation, the
last epoch, so that start-up and the first epoch's warm-up are left out); the wall time of the whole
command is reported beside it. One process uses every core through PyTorch's threads; under torchrun
each process gets one thread (OMP_NUM_THREADS=1, torchrun's default), so on a 2-core CPU the two
runs share the same two cores and data parallelism can gain little. On GPUs each process has its
own device, and the ratio is what to watch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import cpu_name, write_section

START, END = "<!-- distributed-speed:start -->", "<!-- distributed-speed:end -->"
CASES = [
    # (label, arguments of course_utils.train, batch per step in all)
    ("LeNet-5, digits", ["--model", "lenet5", "--data", "mnist"], 64),
    ("ResNet-18, 64x64 cats vs dogs (1,000 images)", ["--model", "resnet18", "--data", "cats-vs-dogs", "--limit", "1000"], 32),
]
EPOCHS = 3


def run(arguments: list[str], batch: int, processes: int, folder: Path) -> tuple[float, float, str]:
    """(seconds of the last epoch, wall seconds of the command, the data it trained on)."""
    history = folder / f"history_{processes}.json"
    command = [sys.executable, "-m", "course_utils.train", *arguments, "--epochs", str(EPOCHS),
               "--batch-size", str(batch // processes), "--history", str(history)]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   "-m", "course_utils.train", *command[3:]]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)  # the COURSE_* settings of this process
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    written = json.loads(history.read_text(encoding="utf-8"))
    return written["epochs"][-1]["seconds"], wall, written["data"]


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, arguments, batch in CASES:
            one = run(arguments, batch, 1, Path(folder))
            two = run(arguments, batch, 2, Path(folder))
            print(f"{label}: 1 process {one[0]:.2f} s/epoch, 2 processes {two[0]:.2f} s/epoch ({one[2]})", flush=True)
            rows.append((label, batch, one, two))
    lines = [
        "## Data-parallel training: 2 processes against 1",
        "",
        f"`python -m benchmarks.distributed_speed` on {os.cpu_count()} CPU cores ({cpu_name()}), torch {torch.__version__}, "
        f"gloo backend. The same epoch either way: one process with the whole batch, or `torchrun --nproc_per_node=2` "
        f"with half of it per process. Seconds of the last of {EPOCHS} epochs (training and validation), from the "
        f"run's history; the whole command's wall time (process start and data loading included) in brackets.",
        "",
        "| case | batch per step | 1 process (s/epoch) | 2 processes (s/epoch) | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, batch, one, two in rows:
        lines.append(f"| {label} | {batch} | {one[0]:.2f} ({one[1]:.0f}) | {two[0]:.2f} ({two[1]:.0f}) | "
                     f"{one[0] / two[0]:.2f}x |")
    lines += [
        "",
        "Data: " + "; ".join(sorted({row[2][2] for row in rows})) + ".",
        "",
        f"On this CPU the two processes share the same {os.cpu_count()} cores that one process already uses through its "
        "threads, and every step adds an all-reduce of the gradients, so a speed-up near 1x (or below) is what "
        "to expect: this row shows the overhead, not the gain. On GPUs each process drives its own GPU, the "
        "all-reduce runs over NVLink or PCIe with NCCL, and a network of ResNet's size should train close to "
        "N times faster on N GPUs of one machine when the per-GPU batch stays the same; small networks and small "
        "batches scale worse because the all-reduce then costs as much as the computation (not measured here: no GPU on this machine).",
    ]
    write_section("\n".join(lines), START, END)
    print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
