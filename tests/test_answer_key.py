"""tools/answer_key.py: the bank is current, every variant is fair, and the worked solutions agree.

The check cells of the notebooks name only their exercise; these tests tie the three places an
answer lives together: the key (the grader's truth), the bank (the students' hashes) and the worked
solutions (which CI runs and checks against the bank).
"""

import ast
import json
import math

import nbformat
import numpy as np
import pytest

from course_utils import exercises as ex
from course_utils.coding import CODING
from tools import answer_key, editions
from tools.notebooks import NOTEBOOKS

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_bank_is_what_the_key_writes():
    assert ex.BANK.read_text(encoding="utf-8") == answer_key.bank_text(), "run python -m tools.answer_key"
    assert answer_key.main(["--check"]) == 0


def test_the_bank_holds_no_answer():
    """No exercise's entry (hint and numbers) shows one of its right answers; the hashes are hashes."""
    entries = json.loads(ex.BANK.read_text(encoding="utf-8"))["exercises"]
    for exercise in answer_key.KEY:
        for variant, entry_variant in enumerate(entries[exercise]["variants"]):
            assert len(entry_variant["digest"]) == 64
            text = json.dumps({"hint": entries[exercise]["hint"], "numbers": entry_variant["numbers"]})
            right = answer_key.expected(exercise, variant)
            if isinstance(right, (int, float)) and abs(right) > 100:  # small numbers are everywhere in the text
                assert f"{right}" not in text, (exercise, variant)
                assert f"{right:,}" not in text, (exercise, variant)


def test_every_exercise_with_a_check_is_in_the_key_once():
    ids = []
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        for exercise in editions.exercises(nb):
            ids += [f"{path.name[:2]}.{exercise.number}"] * len(exercise.checks)
    assert sorted(ids) == sorted([*answer_key.KEY, *CODING])


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_student_edition_checks_name_only_the_exercise(path):
    """No expected value can be read from a check cell: check("NN.k", answer), nothing else."""
    student = editions.student_edition(nbformat.read(path, as_version=4))
    for exercise in editions.exercises(student):
        for index in exercise.checks:
            (statement,) = ast.parse(student.cells[index].source).body
            call = statement.value
            assert isinstance(call, ast.Call)
            assert call.func.id == "check"
            assert not call.keywords
            ident, answer = call.args
            assert ident.value == f"{path.name[:2]}.{exercise.number}"
            assert isinstance(answer, ast.Name)
            assert answer.id == "answer"


@pytest.mark.parametrize("exercise", sorted(answer_key.KEY))
def test_every_variant_is_fair(exercise):
    """Distinct numbers, and a right answer well inside its rounding step."""
    item = answer_key.KEY[exercise]
    assert len({tuple(sorted(v.items())) for v in item.variants}) == len(item.variants)
    step = 1.0 if item.decimals is None else 10.0 ** -item.decimals
    for variant in range(len(item.variants)):
        right = np.asarray(answer_key.expected(exercise, variant), dtype=float) if ex.kind(
            answer_key.expected(exercise, variant)) == "number" else None
        if right is not None:
            off = np.abs(right / step - np.round(right / step))
            assert (off < 0.25).all() or item.decimals is None and (off < 1e-6).all(), (exercise, variant, right)


@pytest.mark.parametrize("exercise", ["01.1", "03.1", "06.2", "02.2", "01.3"])
def test_the_grader_and_the_student_s_check_agree(exercise):
    """Random answers near the right one: the digest route (check) and the grader's comparison agree."""
    rng = np.random.default_rng(0)
    item = answer_key.KEY[exercise]
    right = np.asarray(answer_key.expected(exercise), dtype=float)
    step = 1.0 if item.decimals is None else 10.0 ** -item.decimals
    for scale in (0.05, 0.3, 1.0, 3.0):
        for _ in range(25):
            answer = right + rng.normal(0, scale * step, right.shape)
            graded = ex.canonical(answer.tolist(), item.decimals) == ex.canonical(right.tolist(), item.decimals)
            assert bool(ex.check(exercise, answer.tolist())) == graded


def _solution_source(number: str, exercise: int) -> str:
    path = next(p for p in PATHS if p.name.startswith(number))
    nb = nbformat.read(path, as_version=4)
    (found,) = [e for e in editions.exercises(nb) if e.number == exercise]
    return "\n".join(nb.cells[i].source for i in found.solutions)


@pytest.mark.parametrize("exercise", [e for e, item in answer_key.KEY.items() if len(item.variants) > 1])
def test_the_worked_solution_is_right_for_every_student_s_numbers(exercise):
    item = answer_key.KEY[exercise]
    source = _solution_source(exercise[:2], int(exercise[3:]))
    for variant, values in enumerate(item.variants):
        scope = {"math": math, "numbers": lambda ident, values=values: ex.Numbers(ident, values, "someone")}
        exec(source, scope)  # noqa: S102 -- the course's own worked solution
        assert ex.canonical(scope["answer"], item.decimals) == ex.canonical(answer_key.expected(exercise, variant),
                                                                             item.decimals), (exercise, values)
