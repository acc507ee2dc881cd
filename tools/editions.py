"""The lecturer's editions of the notebooks: one for students, without solutions, and an answer key.

    python -m tools.editions student [NAME ...] [--out editions/student]
    python -m tools.editions solutions [NAME ...] [--out editions/solutions]

How an exercise is written (tests/test_notebook_hygiene.py enforces it): the last section of every
notebook, "## Exercises", holds the exercises, each a markdown cell that starts with **N.**. Its
worked solution is the cells after it tagged `solution`. An exercise with a right answer also has
a cell `answer = None`, which the student fills in, and after the solution a check cell
`check("NN.k", answer)` (course_utils.exercises) that stores its verdict. The check cell names only
the exercise: its expected value lives in the answer key (tools/answer_key.py), and the package has
only its hash.

The student edition leaves out every solution cell and every output, and keeps the `answer = None`
and check cells, so students still get instant feedback. Its Colab badge opens the student edition
itself (the Pages workflow publishes it on the branch `student_branch` of pyproject.toml's
[tool.course]), and a line under it says where the solutions are. The answer key is the full
notebook, each solution announced by a line. `make student` and `make solutions` run this;
tools/grade.py grades the student notebooks that come back.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools.notebooks import BADGE_TAG, ROOT, notebook_paths, tags

SOLUTION_TAG = "solution"
EXERCISES_HEADING = "## Exercises"
EXERCISE = re.compile(r"^\*\*(\d+)\.\*\*")
CHECK_CALL = re.compile(r"^check\(", re.MULTILINE)
KEY_NOTE = "*Worked solution:*"
STUDENT_NOTE = ("*Student edition: the exercises at the end check your answers without showing them; their "
                "worked solutions are in the answer key, which your lecturer has.*")


@dataclass
class Exercise:
    """One exercise of a notebook: its number and the indices of its cells."""

    number: int
    prompt: int                                        # the markdown cell that states it
    cells: list[int] = field(default_factory=list)     # every cell up to the next exercise
    solutions: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)    # code cells that call check(...), solutions excluded


def is_solution(cell) -> bool:
    return SOLUTION_TAG in tags(cell)


def is_check(cell) -> bool:
    return cell.cell_type == "code" and not is_solution(cell) and bool(CHECK_CALL.search(cell.source))


def exercises_start(nb) -> int | None:
    """The index of the "## Exercises" cell, or None."""
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith(EXERCISES_HEADING)),
                None)


def exercises(nb) -> list[Exercise]:
    """The exercises of a notebook, in order, with their cells."""
    start = exercises_start(nb)
    if start is None:
        return []
    found: list[Exercise] = []
    for index in range(start + 1, len(nb.cells)):
        cell = nb.cells[index]
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            break  # the next section (the closing notes on the lecture slides) is no exercise
        match = EXERCISE.match(cell.source) if cell.cell_type == "markdown" else None
        if match:
            found.append(Exercise(int(match.group(1)), index))
        if not found:
            continue
        current = found[-1]
        current.cells.append(index)
        if is_solution(cell):
            current.solutions.append(index)
        elif is_check(cell):
            current.checks.append(index)
    return found


def _without_outputs(cell) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def answered_edition(name: str, folder: Path | None = None):
    """The student edition of a notebook with each answer cell replaced by the worked solution: what a
    student who got everything right hands in (the grader's tests and benchmark grade it)."""
    source = nbformat.read((folder or ROOT / "notebooks") / f"{name}.ipynb", as_version=4)
    solutions = {e.number: "\n".join(source.cells[i].source for i in e.solutions) for e in exercises(source)}
    nb = student_edition(source)
    for exercise in exercises(nb):
        for index in exercise.cells:
            if nb.cells[index].source == "answer = None":
                nb.cells[index].source = solutions[exercise.number]
    return nb


def student_edition(nb):
    """A copy of the notebook without solution cells or outputs, with a line under its badge saying so."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if is_solution(cell):
            continue
        _without_outputs(cell)
        cells.append(cell)
        if BADGE_TAG in tags(cell):
            cells.append(nbformat.v4.new_markdown_cell(STUDENT_NOTE, metadata={"slideshow": {"slide_type": "skip"}}))
    nb.cells = cells
    return nb


def answer_key(nb):
    """A copy of the notebook with a line before each exercise's solution."""
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        starts_solution = is_solution(cell) and not (index > 0 and is_solution(nb.cells[index - 1]))
        if starts_solution and not cell.source.startswith("**Solution"):
            cells.append(nbformat.v4.new_markdown_cell(KEY_NOTE, metadata={"tags": [SOLUTION_TAG]}))
        cells.append(cell)
    nb.cells = cells
    return nb


EDITIONS = {"student": student_edition, "solutions": answer_key}
STUDENT_CALL = re.compile(r"""^student\((["'])(.*?)\1\)""", re.MULTILINE)


def student_id_in(nb) -> str | None:
    """The id written in the notebook's `student("...")` cell ('' when blank), or None if it has none."""
    for cell in nb.cells:
        match = STUDENT_CALL.search(cell.source) if cell.cell_type == "code" else None
        if match:
            return match.group(2).strip()
    return None


def with_student(nb, student: str):
    """A copy of a student edition with the id cell filled in, so the student sees their own numbers."""
    if not re.fullmatch(r"[\w.@-]{1,64}", student):
        raise ValueError(f"a student id is 1 to 64 letters, digits and . _ @ -, as the hand-in folders are named; "
                         f"got {student!r}")
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and STUDENT_CALL.search(cell.source):
            cell.source = STUDENT_CALL.sub(lambda m: f'student("{student}")', cell.source, count=1)
            break
    return nb


def write_edition(kind: str, paths: list[Path], out: Path, students: list[str] | None = None) -> list[Path]:
    """Write the `kind` edition of each notebook into `out` (one folder per student, if given)."""
    if kind not in EDITIONS:
        raise ValueError(f"kind must be one of {', '.join(EDITIONS)}, got {kind!r}")
    written = []
    for path in paths:
        nb = EDITIONS[kind](nbformat.read(path, as_version=4))
        for student, folder in ([(s, out / s) for s in students] if students else [(None, out)]):
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / path.name
            target.write_text(nbformat.writes(with_student(nb, student) if student else nb) + "\n", encoding="utf-8")
            written.append(target)
    return written


def read_roster(path: Path) -> list[str]:
    """Student ids, one a line (blank lines and lines starting with # left out)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SystemExit(f"--students: cannot read {path}: {error.strerror}") from None
    students = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not students:
        raise SystemExit(f"--students: {path} names no student (one id a line)")
    return list(dict.fromkeys(students))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=list(EDITIONS), help="student: no solutions; solutions: the answer key")
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: editions/KIND)")
    parser.add_argument("--students", type=Path, default=None,
                        help="a roster, one student id a line: a folder per student, each with its id filled in")
    args = parser.parse_args(argv)
    out = (args.out or ROOT / "editions" / args.kind).resolve()
    students = read_roster(args.students) if args.students else None
    try:
        written = write_edition(args.kind, notebook_paths(args.names), out, students)
    except ValueError as error:
        raise SystemExit(f"--students: {error}") from None
    counted = sum(len(exercises(nbformat.read(p, as_version=4))) for p in written)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    whose = f" for {len(students)} students" if students else ""
    print(f"wrote {len(written)} notebooks ({counted} exercises){whose} to {shown}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
