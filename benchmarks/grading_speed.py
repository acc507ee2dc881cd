"""Grading a class: 10 students x 3 notebooks, each in the sandbox, 2 at a time.

    python -m benchmarks.grading_speed [--students 10] [--jobs 2]

Each student hands in the student edition of notebooks 02, 03 and 06 filled in with the worked
solutions (which use the student's own numbers where an exercise has them), so every checked
exercise should grade correct: the run fails if one does not. The table gives the seconds per
notebook (kernel start and the sandbox included) and the whole run's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from benchmarks.common import cpu_name, write_section
from tools import editions, grade

START, END = "<!-- grading-speed:start -->", "<!-- grading-speed:end -->"
NAMES = ["02_convolution_by_hand", "03_padding_stride_pooling", "06_training_lenet_mnist"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    notebooks = {name: editions.answered_edition(name) for name in NAMES}
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        submissions = Path(folder) / "hand-ins"
        for i in range(args.students):
            who = f"student{i:02d}"
            (submissions / who).mkdir(parents=True)
            for name, nb in notebooks.items():  # as `make student STUDENTS=roster` hands them out
                nbformat.write(editions.with_student(nb, who), submissions / who / f"{name}.ipynb")
        started = time.perf_counter()
        header, rows = grade.grade_folder(submissions, grade.Limits(), out=Path(folder) / "grades.csv",
                                          jobs=args.jobs, log=lines.append)
        wall = time.perf_counter() - started
    checked = [c for c in header if c[:2].isdigit() and "." in c]
    wrong = [(row["student"], c, row[c]) for row in rows for c in checked if row[c] not in ("correct", "open")]
    statuses = {row[c] for row in rows for c in header if c.endswith(" status")}
    if wrong or statuses != {"ok"}:
        raise SystemExit(f"worked solutions did not grade correct: {wrong[:5]}, statuses {statuses}")
    table = ["| notebook | hand-ins | seconds per notebook: median | slowest |", "|---|---:|---:|---:|"]
    for name in NAMES:
        seconds = [float(row[f"{name[:2]} seconds"]) for row in rows]
        table.append(f"| {name} | {len(seconds)} | {statistics.median(seconds):.1f} | {max(seconds):.1f} |")
    total = args.students * len(NAMES)
    section = "\n".join([
        "## Grading a class",
        "",
        f"`python -m benchmarks.grading_speed`: {args.students} students x {len(NAMES)} notebooks = {total} hand-ins, "
        f"each the student edition filled in with the worked solutions, graded by `tools/grade.py` in the bubblewrap "
        f"sandbox, smoke mode, {args.jobs} at a time, on {torch.get_num_threads()} CPU cores ({cpu_name()}), "
        f"torch {torch.__version__}. Every checked exercise graded correct ({len(checked)} per student).",
        "",
        *table,
        "",
        f"The whole run: {wall:.0f} s, {wall / total:.1f} s per hand-in.",
    ])
    write_section(section, START, END)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
