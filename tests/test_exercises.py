"""course_utils.exercises: right, wrong and unanswered by exercise id, with no answer in the notebook.

The expected values here come from the answer key (tools/answer_key.py), never from the bank the
package ships, so these tests also check that the bank's hashes say what the key says.
"""

import numpy as np
import pytest
import torch

from course_utils import exercises as ex
from course_utils.exercises import check, numbers, student
from tools import answer_key


@pytest.fixture(autouse=True)
def no_student(monkeypatch):
    monkeypatch.delenv(ex.STUDENT_VARIABLE, raising=False)
    monkeypatch.setattr(ex, "_student_id", "")


@pytest.mark.parametrize("exercise, answer", [
    ("03.1", 13), ("03.1", 13.0), ("03.1", np.int64(13)), ("03.1", torch.tensor(13)),
    ("02.1", (24, 24)), ("02.1", torch.Size([24, 24])), ("02.1", np.array([24, 24])),
    ("02.2", [[2, 4], [6, 8]]), ("02.2", np.array([[2.0, 4.0], [6.0, 8.0]])), ("02.3", torch.tensor([[-1], [1]])),
    ("01.1", 0.6931), ("01.1", 0.69315), ("06.2", 0.7), ("06.2", 0.69), ("01.3", (1.0, 0.0)), ("01.3", (0.99999999, -1e-9)),
    ("01.5", 22_500), ("04.4", 0.96), ("10.2", 0.4),
])
def test_right_answers(exercise, answer):
    feedback = check(exercise, answer)
    assert repr(feedback) == "Correct!"
    assert feedback


@pytest.mark.parametrize("exercise, answer, reason", [
    ("03.1", 12, ""), ("03.1", 13.4, ""), ("03.1", "13", "should be a number"), ("02.1", (24, 24, 1), "shape (3,)"),
    ("02.2", [[2, 4], [6, 9]], ""), ("01.1", 0.7, "compared to 3 decimals"), ("06.2", 0.8, "compared to 1 decimal)"),
    ("01.5", 22_499, ""), ("03.5", (2, 0), ""),
])
def test_wrong_answers_give_the_hint_but_not_the_answer(exercise, answer, reason):
    feedback = check(exercise, answer)
    assert not feedback
    message = repr(feedback)
    assert message.startswith("Not quite.")
    assert reason in message
    assert answer_key.KEY[exercise].hint in message
    right = answer_key.expected(exercise)
    assert str(right) not in message.replace(str(answer), "")


def test_unanswered():
    for answer in (None, ...):
        feedback = check("03.1", answer)
        assert not feedback
        assert not feedback.answered
        assert "Not answered yet" in repr(feedback)


def test_an_answer_that_is_not_data_is_refused_with_a_reason():
    assert "you gave a dict" in repr(check("03.1", {"n": 13}))
    assert "at most 10,000" in repr(check("02.2", np.zeros(20_000)))


def test_unknown_exercises_are_named():
    with pytest.raises(ValueError, match="such as '03.1'"):
        check("3.1", 13)
    with pytest.raises(ValueError, match="notebook 03 has 03.1, 03.2, 03.3, 03.4, 03.5"):
        check("03.9", 13)


def test_the_verdict_is_also_a_record():
    from IPython.core.formatters import DisplayFormatter

    for feedback, correct, answered in ((check("03.1", 13), True, True), (check("03.1", 3), False, True),
                                        (check("03.1", None), False, False)):
        data, _ = DisplayFormatter().format(feedback)
        assert data["text/plain"] == repr(feedback)
        assert data[ex.VERDICT_MIME] == {"correct": correct, "answered": answered, "message": repr(feedback)}


def test_each_student_has_their_own_numbers_and_answers(monkeypatch, capsys):
    lecture = numbers("03.1")
    assert dict(lecture) == answer_key.KEY["03.1"].variants[0]
    assert "the lecture's numbers" in repr(lecture)
    seen = {}
    for who in [f"student{i}" for i in range(40)]:
        student(who)
        index = ex.variant_index("03.1", who, len(answer_key.KEY["03.1"].variants))
        assert dict(numbers("03.1")) == answer_key.KEY["03.1"].variants[index]
        assert check("03.1", answer_key.expected("03.1", index))
        seen[who] = index
    assert len(set(seen.values())) >= 8  # 40 students spread over the 12 variants
    assert "Student id 'student39'" in capsys.readouterr().out
    other = next(w for w, i in seen.items() if answer_key.expected("03.1", i) != answer_key.expected("03.1", seen["student0"]))
    student("student0")
    assert not check("03.1", answer_key.expected("03.1", seen[other]))  # a classmate's answer is wrong for you


def test_the_grader_s_id_wins_over_the_cell(monkeypatch):
    student("mallory")
    monkeypatch.setenv(ex.STUDENT_VARIABLE, "ada")
    assert ex.current_student() == "ada"
    assert numbers("06.2").who == "ada"
    with pytest.raises(TypeError, match="student_id is text"):
        student(42)


def test_numbers_read_like_attributes():
    mine = numbers("03.1")
    assert (mine.n, mine.k, mine.stride, mine.padding) == (28, 5, 2, 1)
    with pytest.raises(AttributeError, match="has no number 'p'; it has n, k, stride, padding"):
        print(mine.p)


@pytest.mark.parametrize("value, decimals, text", [
    (2, None, "number[]:2"), (2.0000000001, None, "number[]:2"), (2.5, None, "number[]:f2.5"),
    (-0.0, 3, "number[]:0"), ((1, 2), None, "number[2]:1,2"), (" Same ", None, "text:same"), (True, None, "bool:true"),
    (float("nan"), 2, "number[]:nan"), ([[1], [2, 3]], None, 'ragged:[[1], [2, 3]]'),
])
def test_canonical_forms(value, decimals, text):
    assert ex.canonical(value, decimals) == text


def test_a_bool_is_not_a_number():
    assert ex.canonical(True) != ex.canonical(1)


def test_hand_over_gives_plain_data_only():
    record = ex.hand_over("02.2", torch.tensor([[2, 4], [6, 8]]))._repr_mimebundle_()[ex.HAND_OVER_MIME]
    assert record == {"exercise": "02.2", "answer": [[2, 4], [6, 8]]}

    class Sneaky:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("never called")

    record = ex.hand_over("02.2", Sneaky())._repr_mimebundle_()[ex.HAND_OVER_MIME]
    assert record["answer"] is None
    assert "you gave a Sneaky" in record["unreadable"]
