"""Grade the exercise notebooks students hand back: run each one, collect check(...)'s verdicts.

    python -m tools.grade SUBMISSIONS [--out grades.csv] [--time-limit 600] [--full]

SUBMISSIONS holds one folder per student (the folder's name is the student's), each with any of the
course's notebooks, found by their number: `02_convolution_by_hand.ipynb` and
`02_convolution_by_hand (1).ipynb` both grade as notebook 02. Every notebook runs top to bottom in a
fresh kernel in a scratch folder, in smoke mode (`--full` for full mode), under a time limit: a cell
that raises is recorded and the run goes on, and a notebook that loops forever or kills its kernel
stops at that cell, without stopping the others. An exercise whose cells raised grades as error.
Before running, each check cell gets back the course's own source, so a changed check cannot pass a
wrong answer.

The CSV has one row per student: for each notebook, its status and one column per exercise
("03.2": notebook 03, exercise 2) holding correct, wrong, unanswered, error, not run, open (no
automatic check: grade by hand) or missing, and at the end the student's correct answers out of all
checked exercises.

Why a script over nbclient and not nbgrader or otter-grader: the course's exercises already carry
their checks (course_utils.exercises.check, whose verdict every notebook run records), and the
student edition is the course's own (tools/editions.py). nbgrader would need its own cell metadata,
a database and a course directory layout; otter its own assignment format. Both would duplicate what
the notebooks already say.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.exercises import VERDICT_MIME
from tools.editions import exercises
from tools.notebooks import NOTEBOOKS, ROOT

NUMBER = re.compile(r"^(\d{2})[_\s-]")
VERDICTS = ("correct", "wrong", "unanswered", "error", "not run", "open", "missing")


@dataclass
class Graded:
    """The result of one student's notebook."""

    notebook: str                                   # the course notebook's number, "03"
    status: str = "ok"
    seconds: float = 0.0
    verdicts: dict[int, str] = field(default_factory=dict)  # exercise number -> one of VERDICTS


def course_notebooks(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """The course's notebooks by number."""
    return {path.name[:2]: path for path in sorted(folder.glob("*.ipynb")) if NUMBER.match(path.name)}


def restore_checks(submitted, reference) -> int:
    """Give each check cell of the submitted notebook the course's source; return how many were restored.

    Check cells are matched by exercise number and order. A check cell the student deleted is not
    put back: that exercise then has no verdict and grades as "not run".
    """
    restored = 0
    wanted = {e.number: [reference.cells[i].source for i in e.checks] for e in exercises(reference)}
    for exercise in exercises(submitted):
        for index, source in zip(exercise.checks, wanted.get(exercise.number, [])):
            if submitted.cells[index].source != source:
                submitted.cells[index].source = source
                restored += 1
    return restored


def _raised(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _verdict(cell, executed: bool) -> str:
    if not executed:
        return "not run"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return "error"
        record = output.get("data", {}).get(VERDICT_MIME)
        if record is not None:
            if not record.get("answered", True):
                return "unanswered"
            return "correct" if record.get("correct") else "wrong"
    return "error"  # the check ran but showed no verdict


def run_and_grade(path: Path, reference, time_limit: float, smoke: bool = True) -> Graded:
    """Run one submitted notebook in a scratch folder under `time_limit` seconds and grade it."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    graded = Graded(path.name[:2])
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 -- an unreadable file is a result to report, not a crash
        graded.status = f"unreadable: {type(error).__name__}"
        graded.verdicts = {e.number: "not run" if e.checks else "open" for e in exercises(reference)}
        return graded
    restore_checks(nb, reference)
    executed: set[int] = set()
    problems = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        env = {**os.environ, "COURSE_SMOKE": "1" if smoke else "0"}
        client = NotebookClient(nb, timeout=max(1, int(time_limit)), kernel_name="python3", allow_errors=True,
                                shutdown_kernel="immediate", resources={"metadata": {"path": scratch}})
        try:
            with client.setup_kernel(env=env):
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    remaining = time_limit - (time.monotonic() - started)
                    if remaining <= 0:
                        problems.append(f"time limit of {time_limit:g} s reached before cell {index}")
                        break
                    client.timeout = max(1, int(remaining))
                    try:
                        client.execute_cell(cell, index)
                    except CellTimeoutError:
                        problems.append(f"time limit of {time_limit:g} s reached in cell {index}")
                        break
                    except DeadKernelError:
                        problems.append(f"the kernel died in cell {index}")
                        break
                    executed.add(index)
                    if _raised(cell) and len(problems) < 3:
                        ename = next(o.get("ename", "an error") for o in cell.outputs if o.get("output_type") == "error")
                        problems.append(f"cell {index} raised {ename}")
        except DeadKernelError:
            problems.append("the kernel died")
        except RuntimeError as error:  # the kernel did not start
            problems.append(f"the kernel did not start: {error}")
    graded.seconds = time.monotonic() - started
    graded.status = "; ".join(problems) if problems else "ok"
    submitted = {e.number: e for e in exercises(nb)}
    for exercise in exercises(reference):
        if not exercise.checks:
            graded.verdicts[exercise.number] = "open"
            continue
        mine = submitted.get(exercise.number)
        if mine is None or not mine.checks:
            graded.verdicts[exercise.number] = "not run"
            continue
        verdicts = [_verdict(nb.cells[i], i in executed) for i in mine.checks]
        if any(_raised(nb.cells[i]) for i in mine.cells):  # the answer cell failed: its check saw a stale answer
            verdicts.append("error")
        graded.verdicts[exercise.number] = next((v for v in ("not run", "error", "unanswered", "wrong") if v in verdicts),
                                                "correct")
    return graded


def grade_folder(submissions: Path, time_limit: float = 600, smoke: bool = True, course: Path = NOTEBOOKS,
                 log=print) -> tuple[list[str], list[dict]]:
    """Grade every student's notebooks in `submissions`; return the CSV header and rows."""
    if not submissions.is_dir():
        raise SystemExit(f"SUBMISSIONS must be a folder with one folder per student; {submissions} is not a folder")
    references = {number: nbformat.read(path, as_version=4) for number, path in course_notebooks(course).items()}
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise SystemExit(f"{submissions} holds no student folder (one folder per student, with their notebooks)")
    results: dict[str, dict[str, Graded]] = {}
    for student in students:
        results[student.name] = {}
        for path in sorted(student.rglob("*.ipynb")):
            match = NUMBER.match(path.name)
            if ".ipynb_checkpoints" in path.parts or not match or match.group(1) not in references:
                log(f"{student.name}: skipped {path.name} (not a course notebook: names start with its number)")
                continue
            number = match.group(1)
            if number in results[student.name]:
                log(f"{student.name}: skipped {path.name} (a second copy of notebook {number})")
                continue
            graded = run_and_grade(path, references[number], time_limit, smoke)
            graded.notebook = number
            results[student.name][number] = graded
            counts = {v: list(graded.verdicts.values()).count(v) for v in ("correct", "wrong", "unanswered")}
            log(f"{student.name}: notebook {number}: {graded.status} ({graded.seconds:.1f} s), "
                + ", ".join(f"{n} {v}" for v, n in counts.items()))
    numbers = sorted({n for graded in results.values() for n in graded})
    header = ["student"]
    for number in numbers:
        header += [f"{number} status"] + [f"{number}.{e.number}" for e in exercises(references[number])]
    header += ["correct", "checked"]
    rows = []
    for student, by_number in results.items():
        row = {"student": student, "correct": 0, "checked": 0}
        for number in numbers:
            graded = by_number.get(number)
            row[f"{number} status"] = graded.status if graded else "missing"
            for exercise in exercises(references[number]):
                verdict = graded.verdicts[exercise.number] if graded else ("missing" if exercise.checks else "open")
                row[f"{number}.{exercise.number}"] = verdict
                if exercise.checks:
                    row["checked"] += 1
                    row["correct"] += verdict == "correct"
        rows.append(row)
    return header, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="a folder with one folder of notebooks per student")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (default: grades.csv)")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds per notebook (default: 600)")
    parser.add_argument("--full", action="store_true", help="run in full mode instead of smoke mode")
    parser.add_argument("--course", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)  # the tests' own course
    args = parser.parse_args(argv)
    if args.time_limit <= 0:
        parser.error(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
    header, rows = grade_folder(args.submissions, args.time_limit, smoke=not args.full, course=args.course)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    out = args.out.resolve()
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"graded {len(rows)} student(s): {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
