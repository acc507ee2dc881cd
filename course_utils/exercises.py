"""Instant right/wrong feedback for the exercises at the end of each notebook, with no answer in sight.

First used in notebooks/03_padding_stride_pooling.ipynb. A check cell names its exercise and the
student's answer, `check("03.1", answer)`, and nothing else: the expected value is not in the
notebook. What the package holds instead is `exercise_bank.json`, written from the answer key
(tools/answer_key.py) by `python -m tools.answer_key`: for each exercise its hint, how precisely it
is compared, and for each variant the exercise's numbers and a salted, slow hash (PBKDF2) of the
right answer in canonical form. `check` brings the student's answer to the same canonical form and
compares the hashes.

The canonical form rounds numbers to the exercise's decimals (whole numbers exactly), lists and
arrays element by element with their shape, text without case or surrounding spaces. The grader
(tools/grade.py) compares with the same canonical form, against the values it computes itself.

Some exercises give each student their own numbers (variants): `student("ada")` at the top of the
exercises, or the environment variable COURSE_STUDENT_ID (which the grader sets), picks them, and
`numbers("03.1")` shows them. With no id, every exercise takes the lecture's numbers.

Instant feedback is an oracle, as in every self-checking course: it says right or wrong, slowly
enough (about 10 ms a try) that guessing through it is no shortcut for an exercise worth doing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check", "numbers", "student", "current_student", "hand_over", "Feedback", "Numbers", "canonical", "plain", "digest",
           "variant_index", "VERDICT_MIME", "HAND_OVER_MIME", "STUDENT_VARIABLE", "EXERCISE_ID"]

VERDICT_MIME = "application/vnd.cnn-course.verdict+json"
HAND_OVER_MIME = "application/vnd.cnn-course.answer+json"
STUDENT_VARIABLE = "COURSE_STUDENT_ID"
EXERCISE_ID = re.compile(r"^\d{2}\.\d+$")
BANK = Path(__file__).with_name("exercise_bank.json")
ITERATIONS = 40_000  # PBKDF2 rounds: about 10 ms per hash on one core
_MAX_ELEMENTS = 10_000
_student_id = ""


class Feedback:
    """The verdict of `check`: true when the answer is right, shown as one line of text."""

    def __init__(self, correct: bool, message: str, answered: bool = True):
        self.correct = correct
        self.message = message
        self.answered = answered

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return self.message

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.message)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        verdict = {"correct": self.correct, "answered": self.answered, "message": self.message}
        return {"text/plain": self.message, VERDICT_MIME: verdict}


class Numbers(dict):
    """One student's numbers for an exercise: `numbers.n` or `numbers["n"]`, shown as one line."""

    def __init__(self, exercise: str, values: dict, who: str):
        super().__init__(values)
        self.exercise = exercise
        self.who = who

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"exercise {self.exercise} has no number {name!r}; it has {', '.join(self)}") from None

    def __repr__(self) -> str:
        values = ", ".join(f"{name} = {value:,}" if isinstance(value, int) else f"{name} = {value}" for name, value in self.items())
        whose = f", numbers for student {self.who!r}" if self.who else " (the lecture's numbers: no student id set)"
        return f"Exercise {self.exercise}{whose}: {values}"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


# -- the canonical form --------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """The answer as plain data (None, a bool, a number, text, or nested lists of them).

    Tensors, arrays, tuples and torch.Size become lists; anything else raises TypeError. This is what
    a notebook hands over to the grader, and all it hands over.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if hasattr(value, "detach") and hasattr(value, "tolist"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size > _MAX_ELEMENTS:
            raise TypeError(f"an answer has at most {_MAX_ELEMENTS:,} numbers; this one has {value.size:,}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"an array answer holds numbers, not {value.dtype}")
        return value.tolist()
    if isinstance(value, (list, tuple)):  # torch.Size is a tuple
        if len(value) > _MAX_ELEMENTS:
            raise TypeError(f"an answer has at most {_MAX_ELEMENTS:,} elements; this one has {len(value):,}")
        return [plain(item) for item in value]
    raise TypeError(f"an answer is a number, text, True/False, or a list, tuple or array of numbers; "
                    f"you gave {_a(value)}")


def _a(value: Any) -> str:
    """'a list', 'an int': the type of a value with its article, for feedback."""
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _number_text(value: float, decimals: int | None) -> str:
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if decimals is None:
        whole = round(value)
        if abs(value - whole) <= 1e-6 * max(1.0, abs(value)):
            return str(int(whole))
        return f"f{value:.9g}"  # never equal to a whole number's form
    return str(int(round(value * 10**decimals)))


def canonical(value: Any, decimals: int | None = None) -> str:
    """The canonical text of an answer: what is hashed, and what the grader compares.

    `decimals=None` compares whole numbers exactly (2.0 is 2; 2.5 is never 2 or 3); an integer rounds
    every number to that many decimals. Text is compared without case and surrounding spaces.
    """
    value = plain(value)
    if isinstance(value, str):
        return "text:" + value.strip().lower()
    if isinstance(value, bool):
        return f"bool:{value}".lower()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return "ragged:" + json.dumps(value)
    numbers = ",".join(_number_text(float(v), decimals) for v in array.ravel())
    return f"number{list(array.shape)}:{numbers}"


def kind(value: Any) -> str:
    """'text', 'bool' or 'number': what an answer to this exercise must be."""
    value = plain(value)
    return "text" if isinstance(value, str) else "bool" if isinstance(value, bool) else "number"


def shape(value: Any) -> list[int]:
    value = plain(value)
    return [] if isinstance(value, (str, bool)) else list(np.shape(np.asarray(value, dtype=object)))


def digest(exercise: str, variant: int, text: str) -> str:
    """The salted, slow hash of a canonical answer for one variant of one exercise."""
    salt = f"cnn-course/{exercise}/{variant}".encode()
    return hashlib.pbkdf2_hmac("sha256", text.encode(), salt, ITERATIONS).hex()


# -- students and their numbers ------------------------------------------------------------------------

def student(student_id: str) -> None:
    """Set the student id that picks each exercise's numbers, and say which id is in use.

    The environment variable COURSE_STUDENT_ID wins over the cell: the grader sets it from the
    hand-in folder's name, so a notebook graded for "ada" always gets Ada's numbers.
    """
    global _student_id
    if not isinstance(student_id, str):
        raise TypeError(f"student_id is text in quotes, such as 'ada' or 's1234567'; you gave {_a(student_id)}")
    _student_id = student_id.strip()
    who = current_student()
    if not who:
        print("No student id: every exercise uses the lecture's numbers.")
    elif os.environ.get(STUDENT_VARIABLE, "").strip():
        print(f"Student id {who!r} (set for this run): the exercises use {who}'s numbers.")
    else:
        print(f"Student id {who!r}: the exercises use your own numbers.")


def current_student() -> str:
    """The student id in use: COURSE_STUDENT_ID if set, else the one given to `student`, else ''."""
    return os.environ.get(STUDENT_VARIABLE, _student_id).strip()


def variant_index(exercise: str, student_id: str, count: int) -> int:
    """Which of an exercise's `count` variants a student gets: the lecture's (0) with no id."""
    if count <= 1 or not student_id:
        return 0
    drawn = hashlib.sha256(f"{exercise}/{student_id}".encode()).digest()
    return int.from_bytes(drawn[:8], "big") % count


@lru_cache(maxsize=1)
def _bank() -> dict:
    return json.loads(BANK.read_text(encoding="utf-8"))["exercises"]


def _entry(exercise: str) -> dict:
    if not isinstance(exercise, str) or not EXERCISE_ID.match(exercise):
        raise ValueError(f"exercise is the exercise's number as text, such as '03.1' (notebook 03, exercise 1); "
                         f"got {exercise!r}")
    bank = _bank()
    if exercise not in bank:
        same = sorted(e for e in bank if e[:2] == exercise[:2])
        raise ValueError(f"there is no exercise {exercise}; notebook {exercise[:2]} has {', '.join(same) or 'none'}")
    return bank[exercise]


def numbers(exercise: str) -> Numbers:
    """The numbers of `exercise` for the current student (see `student`)."""
    entry = _entry(exercise)
    who = current_student()
    chosen = entry["variants"][variant_index(exercise, who, len(entry["variants"]))]
    return Numbers(exercise, chosen["numbers"], who)


# -- feedback and hand-over ----------------------------------------------------------------------------

def _why_not(entry: dict, answer: Any) -> str:
    if kind(answer) != entry["kind"]:
        wanted = {"text": "text", "bool": "True or False", "number": "a number or numbers"}[entry["kind"]]
        return f"the answer should be {wanted}, you gave {_a(answer)}"
    if entry["kind"] == "number" and shape(answer) != entry["shape"]:
        return f"your answer has shape {tuple(shape(answer))}, the expected one has shape {tuple(entry['shape'])}"
    return ""


def _check_function(exercise: str, function: Any) -> Feedback:
    """A coding exercise: the student's function and the reference on fresh random cases."""
    from course_utils import coding

    if not callable(function):
        return Feedback(False, f"Not quite. (the answer should be your function, you gave {_a(function)})")
    exercise_code = coding.CODING[exercise]
    seed = int.from_bytes(os.urandom(4), "big")
    cases = exercise_code.cases(np.random.default_rng(seed))
    right, reason = coding.compare_outputs(coding.run_cases(function, exercise_code, seed),
                                           coding.run_cases(exercise_code.reference, exercise_code, seed),
                                           exercise_code, cases)
    if right:
        return Feedback(True, f"Correct! (your function agrees with the reference on {len(cases)} random cases)")
    return Feedback(False, f"Not quite: {reason}. Hint: {exercise_code.hint}")


def check(exercise: str, answer: Any) -> Feedback:
    """Say whether `answer` is right for `exercise` (for this student's numbers), with a hint if not.

    For a coding exercise the answer is the student's function, run with the reference on random cases.
    """
    entry = _entry(exercise)
    if answer is None or answer is Ellipsis:
        return Feedback(False, "Not answered yet: replace None with your answer and run the cells again.", answered=False)
    if entry["kind"] == "function":
        return _check_function(exercise, answer)
    try:
        text = canonical(answer, entry["decimals"])
    except TypeError as error:
        return Feedback(False, f"Not quite. ({error})")
    index = variant_index(exercise, current_student(), len(entry["variants"]))
    if digest(exercise, index, text) == entry["variants"][index]["digest"]:
        return Feedback(True, "Correct!")
    reason = _why_not(entry, answer)
    places = entry["decimals"]
    precision = f" (compared to {places} decimal{'s' if places != 1 else ''})" if places else ""
    return Feedback(False, "Not quite." + (f" ({reason})" if reason else "") + precision
                    + (f" Hint: {entry['hint']}" if entry["hint"] else ""))


class _HandOver:
    def __init__(self, record: dict):
        self.record = record

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": f"answer to {self.record['exercise']} handed over", HAND_OVER_MIME: self.record}


def hand_over(exercise: str, answer: Any, seed: int | None = None) -> _HandOver:
    """The answer as plain data for the grader, which judges it outside the notebook.

    For a coding exercise, what is handed over is the function's outputs on the cases drawn from the
    grader's `seed`, which the grader compares with the reference's outputs on the same cases.
    """
    record: dict[str, Any] = {"exercise": exercise}
    try:
        if answer is not None and _bank().get(exercise, {}).get("kind") == "function":
            from course_utils import coding

            if not callable(answer):
                raise TypeError(f"the answer should be your function, you gave {_a(answer)}")
            record["answer"] = {"seed": seed, "outputs": coding.run_cases(answer, coding.CODING[exercise], int(seed or 0))}
        else:
            record["answer"] = plain(answer)
    except TypeError as error:
        record.update(answer=None, unreadable=str(error))
    return _HandOver(record)
