"""course_utils/coding.py: the coding exercises pass the worked solutions and catch the usual mistakes.

For each exercise the notebook's own worked solution must be judged right (many seeds), and a
plausible wrong version must be judged wrong with a reason that names what differs. The grader's
side (a hand-over of outputs for its seed) is checked too.
"""

import math

import nbformat
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import coding, data, explain
from course_utils.exercises import check, hand_over
from tools import editions, grade
from tools.notebooks import NOTEBOOKS


def worked_solution(exercise: str):
    """The function the notebook's solution cell defines, run in a namespace like the notebook's."""
    path = next(NOTEBOOKS.glob(f"{exercise[:2]}_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    (found,) = [e for e in editions.exercises(nb) if e.number == int(exercise[3:])]
    scope = {"np": np, "torch": torch, "nn": nn, "F": F, "data": data, "math": math}
    for index in found.solutions:
        exec(nb.cells[index].source, scope)  # noqa: S102 -- the course's own worked solution
    return scope["answer"]


@pytest.mark.parametrize("exercise", sorted(coding.CODING))
def test_the_worked_solution_is_right_on_many_cases(exercise):
    function = worked_solution(exercise)
    exercise_code = coding.CODING[exercise]
    for seed in range(4):
        cases = exercise_code.cases(np.random.default_rng(seed))
        right, reason = coding.compare_outputs(coding.run_cases(function, exercise_code, seed),
                                               coding.run_cases(exercise_code.reference, exercise_code, seed),
                                               exercise_code, cases)
        assert right, f"{exercise}, seed {seed}: {reason}"
    assert repr(check(exercise, function)).startswith("Correct!")


def _corr2d_no_padding(X, K, stride, padding):
    return worked_solution("02.5")(X, K, stride, 0)


def _avg_pool_grad_no_division(X, size, stride, grad_out):
    return worked_solution("03.6")(X, size, stride, grad_out) * size**2


def _to_batch_unnormalised(image):
    return torch.tensor(image, dtype=torch.float32).permute(2, 0, 1)[None] / 255


def _block_without_projection(in_channels, out_channels, stride):
    block = worked_solution("05.5")(in_channels, out_channels, stride)
    block.shortcut = nn.Identity()
    return block


def _evaluate_mean_of_batches(model, loader, loss_fn):
    losses, correct, count = [], 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            scores = model(inputs)
            losses.append(loss_fn(scores, labels).item())
            correct += (scores.argmax(dim=1) == labels).sum().item()
            count += len(labels)
    return sum(losses) / len(losses), correct / count


def _head_not_frozen(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _cam_without_relu(model, image, target, layer):
    return explain.grad_cam(model, image, target, layer, upsample=False) - 1.0


def _bn_unbiased(X, gamma, beta, eps):
    mean, variance = X.mean(dim=(0, 2, 3), keepdim=True), X.var(dim=(0, 2, 3), keepdim=True)
    return gamma[None, :, None, None] * (X - mean) / torch.sqrt(variance + eps) + beta[None, :, None, None]


def _shuffle_the_other_way(X, groups):  # groups and channels per group swapped: the inverse shuffle
    n, c, h, w = X.shape
    return X.reshape(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)


WRONG = {
    "02.5": (_corr2d_no_padding, "shape"),
    "03.6": (_avg_pool_grad_no_division, "differs"),
    "04.5": (_to_batch_unnormalised, "differs"),
    "05.5": (_block_without_projection, "raised RuntimeError"),
    "06.5": (_evaluate_mean_of_batches, "differs"),
    "07.2": (_head_not_frozen, "differs"),
    "08.3": (_cam_without_relu, "differs"),
    "09.4": (_bn_unbiased, "differs"),
    "11.4": (_shuffle_the_other_way, "differs"),
}


def test_every_coding_exercise_has_a_wrong_version_here():
    assert sorted(WRONG) == sorted(coding.CODING)


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_a_usual_mistake_is_caught_and_named(exercise):
    function, words = WRONG[exercise]
    feedback = check(exercise, function)
    assert not feedback
    assert words in repr(feedback)
    assert "for " in repr(feedback)  # the case is named
    assert coding.CODING[exercise].hint in repr(feedback)


def test_what_is_not_a_function_or_raises_is_named():
    assert "should be your function, you gave an int" in repr(check("02.5", 3))
    feedback = check("09.4", lambda X, gamma, beta, eps: X.missing)
    assert "your function raised AttributeError" in repr(feedback)
    assert not check("09.4", None).answered


def test_the_grader_judges_the_outputs_for_its_own_seed():
    key = grade.Key({}, [])
    right, wrong = worked_solution("03.6"), _avg_pool_grad_no_division

    def handed(function, seed):
        return hand_over("03.6", function, seed=seed)._repr_mimebundle_()["application/vnd.cnn-course.answer+json"]

    assert key.verdict("03.6", "ada", handed(right, 7), seed=7) == "correct"
    assert key.verdict("03.6", "ada", handed(wrong, 7), seed=7) == "wrong"
    assert key.verdict("03.6", "ada", handed(right, 8), seed=7) == "wrong"  # outputs for another seed's cases
    assert key.verdict("03.6", "ada", handed(None, 7), seed=7) == "unanswered"
    assert key.verdict("03.6", "ada", handed(3, 7), seed=7) == "wrong"
    forged = {"exercise": "03.6", "answer": {"seed": 7, "outputs": [[1.0]] * 6}}
    assert key.verdict("03.6", "ada", forged, seed=7) == "wrong"
