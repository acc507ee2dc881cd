"""course_utils.exercises.check: right, wrong, unanswered, and never the answer unless asked."""

import numpy as np
import pytest
import torch

from course_utils.exercises import check


@pytest.mark.parametrize("answer, expected", [
    (55, 55), (3.5, 3.5000000001), ((32, 32, 10), [32, 32, 10]), (np.eye(2), [[1, 0], [0, 1]]),
    (torch.tensor([1.0, 2.0]), np.array([1, 2])), ("Same ", "same"), (True, True),
])
def test_right_answers(answer, expected):
    feedback = check(answer, expected, hint="think")
    assert feedback and repr(feedback) == "Correct!"


@pytest.mark.parametrize("answer, expected", [
    (54, 55), ((32, 32), (32, 32, 10)), ("valid", "same"), ([[1, 2]], [[1, 3]]), ("55", 55), (False, True),
])
def test_wrong_answers_give_the_hint_but_not_the_answer(answer, expected):
    feedback = check(answer, expected, hint="use the formula with floor")
    assert not feedback
    assert "Hint: use the formula with floor" in repr(feedback)
    assert str(expected) not in repr(feedback).replace(str(answer), "")


def test_shape_mismatch_is_explained():
    assert "shape (2,)" in repr(check([32, 32], [32, 32, 10]))


def test_a_number_is_not_a_yes_or_no():
    assert not check(1, True) and "True or False" in repr(check(1, True))


def test_unanswered():
    feedback = check(None, 7)
    assert not feedback and "Not answered yet" in repr(feedback)


def test_solution_only_when_asked():
    assert "Solution: 760" in repr(check(700, 760, show_solution=True))
    assert "Solution: 76 per filter" in repr(check(760, 760, solution="76 per filter", show_solution=True))


def test_the_verdict_is_also_a_record_for_the_grading_command():
    from IPython.core.formatters import DisplayFormatter

    from course_utils.exercises import VERDICT_MIME

    for feedback, correct, answered in ((check(3, 3), True, True), (check(2, 3, hint="add one"), False, True),
                                        (check(None, 3), False, False)):
        data, _ = DisplayFormatter().format(feedback)
        assert data["text/plain"] == repr(feedback)
        assert data[VERDICT_MIME] == {"correct": correct, "answered": answered, "message": repr(feedback)}
