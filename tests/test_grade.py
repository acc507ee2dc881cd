"""tools/grade.py: verdicts per exercise, and one bad notebook never stops the others.

A small course of one notebook with two checked exercises and an open one is graded for students
who answer right, wrong, not at all, tamper with a check, crash their kernel and loop forever. Then
a real notebook's student edition, filled in with the answer key's answers, grades all correct.
"""

import csv

import nbformat
import pytest

from tools import editions, grade
from tools.notebooks import NOTEBOOKS

pytest.importorskip("nbclient")


def _code(source, tags=()):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})


def _markdown(source):
    return nbformat.v4.new_markdown_cell(source)


def course_notebook():
    """01_tiny.ipynb: exercise 1 (checked), exercise 2 (checked), exercise 3 (open)."""
    return nbformat.v4.new_notebook(cells=[
        _markdown("# 01 Tiny"),
        _code("from course_utils.exercises import check\nbase = 20"),
        _markdown("## Exercises"),
        _markdown("**1.** What is base + 1?"),
        _code("answer = None"),
        _code("answer = base + 1", tags=["solution"]),
        _code("check(answer, 21)"),
        _markdown("**2.** What is base times 2?"),
        _code("answer = None"),
        _code("answer = base * 2", tags=["solution"]),
        _code("check(answer, 40, hint='multiply')"),
        _markdown("**3.** Explain."),
        nbformat.v4.new_markdown_cell("Because.", metadata={"tags": ["solution"]}),
    ])


def submission(answers: dict[int, str], check_sources: dict[int, str] | None = None):
    """The student edition of the tiny notebook with the given answer cells (and changed check cells)."""
    nb = editions.student_edition(course_notebook())
    for exercise in editions.exercises(nb):
        for index in exercise.cells:
            cell = nb.cells[index]
            if cell.source == "answer = None" and exercise.number in answers:
                cell.source = answers[exercise.number]
            if index in exercise.checks and check_sources and exercise.number in check_sources:
                cell.source = check_sources[exercise.number]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    course = root / "course"
    course.mkdir()
    nbformat.write(course_notebook(), course / "01_tiny.ipynb")
    students = {
        "ada": submission({1: "answer = 21", 2: "answer = base * 2"}),
        "ben": submission({1: "answer = 22"}),
        "cy": submission({1: "answer = 5", 2: "answer = = 3"}, check_sources={1: "check(answer, answer)"}),
        "dee": submission({1: "import os\nos._exit(1)"}),
        "eve": submission({1: "while True:\n    pass"}),
    }
    submissions = root / "submitted"
    for name, nb in students.items():
        (submissions / name).mkdir(parents=True)
        nbformat.write(nb, submissions / name / "01_tiny (1).ipynb")
    (submissions / "ada" / "notes.ipynb").write_text("{}")
    header, rows = grade.grade_folder(submissions, time_limit=5, course=course, log=lambda line: None)
    return header, {row["student"]: row for row in rows}


def test_the_header_names_each_exercise(graded):
    header, _ = graded
    assert header == ["student", "01 status", "01.1", "01.2", "01.3", "correct", "checked"]


def test_right_wrong_and_unanswered(graded):
    _, rows = graded
    assert (rows["ada"]["01.1"], rows["ada"]["01.2"], rows["ada"]["01.3"]) == ("correct", "correct", "open")
    assert (rows["ada"]["correct"], rows["ada"]["checked"], rows["ada"]["01 status"]) == (2, 2, "ok")
    assert (rows["ben"]["01.1"], rows["ben"]["01.2"], rows["ben"]["correct"]) == ("wrong", "unanswered", 0)


def test_a_changed_check_is_put_back_and_an_error_is_recorded(graded):
    _, rows = graded
    assert rows["cy"]["01.1"] == "wrong"  # check(answer, answer) would have said correct
    assert rows["cy"]["01.2"] == "error"
    assert "raised SyntaxError" in rows["cy"]["01 status"]


def test_a_dead_kernel_and_an_endless_loop_stop_only_their_notebook(graded):
    _, rows = graded
    assert "kernel died in cell" in rows["dee"]["01 status"]
    assert "time limit of 5 s reached in cell" in rows["eve"]["01 status"]
    for student in ("dee", "eve"):
        assert (rows[student]["01.1"], rows[student]["01.2"]) == ("not run", "not run")
    assert rows["ada"]["01.2"] == "correct" and rows["ben"]["01.1"] == "wrong"  # graded before and after them


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="one folder per student"):
        grade.grade_folder(tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="no student folder"):
        grade.grade_folder(tmp_path)
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--time-limit", "0"])


def test_a_real_student_edition_filled_in_grades_all_correct(tmp_path, monkeypatch):
    name = "02_convolution_by_hand.ipynb"
    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    student = editions.student_edition(source)
    solutions = {e.number: "\n".join(source.cells[i].source for i in e.solutions) for e in editions.exercises(source)}
    for exercise in editions.exercises(student):
        for index in exercise.cells:
            if student.cells[index].source == "answer = None":
                student.cells[index].source = solutions[exercise.number]
    (tmp_path / "in" / "zoe").mkdir(parents=True)
    nbformat.write(student, tmp_path / "in" / "zoe" / name)
    monkeypatch.chdir(tmp_path)  # the CSV's path is relative, as a lecturer would type it
    assert grade.main(["in", "--out", "grades.csv", "--time-limit", "300"]) == 0
    with open(tmp_path / "grades.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    checked = [e.number for e in editions.exercises(source) if e.checks]
    assert row["02 status"] == "ok"
    assert [row[f"02.{n}"] for n in checked] == ["correct"] * len(checked)
    assert (row["correct"], row["checked"]) == (str(len(checked)), str(len(checked)))
