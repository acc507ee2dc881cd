"""Instant right/wrong feedback for the exercises at the end of each notebook.

First used in notebooks/03_padding_stride_pooling.ipynb. The expected value is computed in the
exercise cell (usually by a course_utils function), so no answer is printed unless asked for.

Each verdict is also shown as a small JSON record under the media type `VERDICT_MIME` (JupyterLab
and Colab show the text line and ignore it): the grading command (tools/grade.py) reads it from the
notebook's outputs instead of parsing the text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check", "Feedback", "VERDICT_MIME"]

VERDICT_MIME = "application/vnd.cnn-course.verdict+json"


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


def _as_array(value: Any) -> np.ndarray | None:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes, dict, set)):
        return None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


def _compare(answer: Any, expected: Any, rtol: float, atol: float) -> tuple[bool, str]:
    if isinstance(expected, str):
        ok = isinstance(answer, str) and answer.strip().lower() == expected.strip().lower()
        return ok, "" if isinstance(answer, str) else f"the answer should be text, you gave a {type(answer).__name__}"
    if isinstance(expected, bool):
        ok = isinstance(answer, (bool, np.bool_)) and bool(answer) == expected
        return ok, "" if isinstance(answer, (bool, np.bool_)) else "the answer should be True or False"
    want, got = _as_array(expected), _as_array(answer)
    if want is None:
        return answer == expected, ""
    if got is None:
        return False, f"the answer should be a number or an array of numbers, you gave a {type(answer).__name__}"
    if want.shape != got.shape:
        return False, f"your answer has shape {got.shape}, the expected one has shape {want.shape}"
    return bool(np.allclose(got, want, rtol=rtol, atol=atol)), ""


def check(answer: Any, expected: Any, hint: str = "", solution: str | None = None, show_solution: bool = False,
          rtol: float = 1e-6, atol: float = 1e-9) -> Feedback:
    """Compare a student's answer with the expected one; return feedback with a hint, never the answer.

    Numbers and arrays are compared with a tolerance, text without case. `show_solution=True`
    adds the solution (or the expected value) to the feedback.
    """
    if answer is None or answer is Ellipsis:
        return Feedback(False, "Not answered yet: replace None with your answer and run the cells again.", answered=False)
    correct, reason = _compare(answer, expected, rtol, atol)
    if correct:
        message = "Correct!"
    else:
        message = "Not quite." + (f" ({reason})" if reason else "") + (f" Hint: {hint}" if hint else "")
    if show_solution:
        message += f"\nSolution: {solution if solution is not None else expected}"
    return Feedback(correct, message)
