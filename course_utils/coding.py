"""The coding exercises: a student's function, run on generated cases, against a reference.

First used in notebooks/02_convolution_by_hand.ipynb. `check("02.5", corr2d_strided)` (through
course_utils.exercises) draws fresh random cases, runs the student's function and the reference on
each, and says which case differs and how (shape, values, an exception), never the expected output.
The grader draws its own cases from a seed it picks, runs the reference itself and compares what the
student's function handed over.

Each exercise is a `Coding`: how to draw its cases from a random generator (plain numbers and
arrays, so that a case can be named in the feedback), how to run a function on one case (`probe`:
build the model or loader the case describes, call the function, reduce what it returns to numbers),
and the reference function. The references are PyTorch's own (`F.conv2d`, autograd, torchvision's
transforms, `F.batch_norm`) or the course's (`explain.grad_cam`), the libraries a lesson checks its
hand-written code against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from course_utils.models import BasicBlock, count_parameters, resnet18

__all__ = ["Coding", "CODING", "run_cases", "compare_outputs"]

CASES = 6


@dataclass(frozen=True)
class Coding:
    """One coding exercise: its cases, how a function is run on one, and the reference function."""

    cases: Callable[[np.random.Generator], list[dict]]
    reference: Callable[..., Any]
    hint: str
    probe: Callable[[Callable, dict], Any] | None = None   # default: call the function with the case
    rtol: float = 1e-5
    atol: float = 1e-6


def _numbers(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def run_cases(function: Callable, coding: Coding, seed: int) -> list[Any]:
    """Each case's output as plain data (a nested list), or {"error": name, "message": text}."""
    outputs: list[Any] = []
    for case in coding.cases(np.random.default_rng(seed)):
        try:
            output = coding.probe(function, case) if coding.probe else function(**_copies(case))
            array = _numbers(output)
            if array.size > 100_000:
                raise ValueError(f"the output has {array.size:,} numbers; far more than the exercise asks for")
            outputs.append(array.tolist())
        except Exception as error:  # noqa: BLE001 -- the student's function may raise anything: that is the feedback
            outputs.append({"error": type(error).__name__, "message": str(error)[:200]})
    return outputs


def _copies(case: dict) -> dict:
    """The case's arguments, copied, so that a function that changes its input cannot change the case."""
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in case.items()}


def describe(case: dict) -> str:
    """One case in a few words: arrays by shape, numbers by value."""
    parts = []
    for name, value in case.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} of shape {value.shape}")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def compare_outputs(mine: list, expected: list, coding: Coding, cases: list[dict] | None = None) -> tuple[bool, str]:
    """Whether every case's output matches; if not, what differs in the first case that does not."""
    if not isinstance(mine, list) or len(mine) != len(expected):
        return False, "the function was not run on every case"
    for index, (got, want) in enumerate(zip(mine, expected)):
        where = f"for {describe(cases[index])}" if cases else f"in case {index + 1}"
        if isinstance(want, dict):  # the reference itself failed: a case the exercise should not have drawn
            raise RuntimeError(f"the reference failed {where}: {want}")
        if isinstance(got, dict):
            return False, f"your function raised {got.get('error')} {where}: {got.get('message', '')}"
        try:
            got_array = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return False, f"your function's output {where} is not an array of numbers"
        want_array = np.asarray(want, dtype=float)
        if got_array.shape != want_array.shape:
            return False, f"your output has shape {got_array.shape} {where}; the expected shape is {want_array.shape}"
        if not np.allclose(got_array, want_array, rtol=coding.rtol, atol=coding.atol, equal_nan=False):
            gap = np.abs(got_array - want_array)
            at = np.unravel_index(int(np.nanargmax(np.where(np.isnan(gap), np.inf, gap))), gap.shape) if gap.size else ()
            return False, (f"your output differs {where}: the largest difference is {float(np.nanmax(gap)):.3g} "
                           f"at index {tuple(int(i) for i in at)}")
    return True, ""


# -- 02: cross-correlation with stride and padding ------------------------------------------------------

def _corr2d_cases(rng: np.random.Generator) -> list[dict]:
    cases = [{"X": np.arange(9.0).reshape(3, 3), "K": np.array([[0.0, 1.0], [2.0, 3.0]]), "stride": 1, "padding": 0}]
    while len(cases) < CASES:
        kh, kw = (int(k) for k in rng.integers(1, 4, size=2))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = (int(n) for n in rng.integers(1, 9, size=2))
        if h + 2 * padding >= kh and w + 2 * padding >= kw:
            cases.append({"X": rng.normal(size=(h, w)).round(2), "K": rng.normal(size=(kh, kw)).round(2),
                          "stride": stride, "padding": padding})
    return cases


def _corr2d_reference(X, K, stride, padding):
    return F.conv2d(torch.tensor(X)[None, None], torch.tensor(K)[None, None], stride=stride, padding=padding)[0, 0]


# -- 03: average pooling's backward pass ----------------------------------------------------------------

def _pool_cases(rng: np.random.Generator) -> list[dict]:
    cases = []
    for size, stride in [(2, 2), (3, 1), (3, 2), *[(int(rng.integers(1, 4)), int(rng.integers(1, 4))) for _ in range(3)]]:
        n = int(rng.integers(size, 9))
        out = (n - size) // stride + 1
        cases.append({"X": rng.normal(size=(n, n)).round(2), "size": size, "stride": stride,
                      "grad_out": rng.normal(size=(out, out)).round(2)})
    return cases


def _avg_pool_grad_reference(X, size, stride, grad_out):
    x = torch.tensor(X, requires_grad=True)
    F.avg_pool2d(x[None, None], size, stride)[0, 0].backward(torch.tensor(grad_out))
    return x.grad


# -- 04: an image into a normalised batch --------------------------------------------------------------

def _image_cases(rng: np.random.Generator) -> list[dict]:
    return [{"image": rng.integers(0, 256, size=(int(rng.integers(2, 12)), int(rng.integers(2, 12)), 3), dtype=np.uint8)}
            for _ in range(CASES)]


def _to_batch_reference(image):
    from torchvision import transforms  # slow to import: only when this exercise is checked

    from course_utils.data import IMAGENET_MEAN, IMAGENET_STD

    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(transforms.ToTensor()(image))[None]


# -- 05: a residual block ------------------------------------------------------------------------------

def _block_cases(rng: np.random.Generator) -> list[dict]:
    fixed = [(16, 16, 1), (16, 32, 2), (8, 8, 2), (8, 24, 1)]
    drawn = [(int(rng.choice([4, 8, 16])), int(rng.choice([4, 8, 16])), int(rng.integers(1, 3))) for _ in range(2)]
    return [{"in_channels": a, "out_channels": b, "stride": s} for a, b, s in fixed + drawn]


def _block_probe(make_block: Callable, case: dict) -> list[float]:
    """Parameters, then the output's shape for a 2 x C x 8 x 8 input: what a block's design decides."""
    block = make_block(**case)
    if not isinstance(block, nn.Module):
        raise TypeError(f"the function should return an nn.Module, it returned a {type(block).__name__}")
    block.eval()
    with torch.no_grad():
        output = block(torch.randn(2, case["in_channels"], 8, 8))
    return [count_parameters(block), *output.shape]


def _block_reference(in_channels, out_channels, stride):
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))
    return BasicBlock(in_channels, out_channels, stride, downsample)


# -- 06: an evaluation loop ----------------------------------------------------------------------------

def _evaluation_cases(rng: np.random.Generator) -> list[dict]:
    return [{"examples": int(rng.integers(5, 60)), "features": int(rng.integers(2, 6)), "classes": int(rng.integers(2, 5)),
             "batch_size": int(rng.integers(2, 17)), "seed": int(rng.integers(0, 2**31))} for _ in range(CASES)]


def _evaluation_probe(evaluate: Callable, case: dict) -> list[float]:
    """The function's (mean loss per example, accuracy) for a random linear model on random data."""
    generator = torch.Generator().manual_seed(case["seed"])
    model = nn.Linear(case["features"], case["classes"])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    inputs = torch.randn(case["examples"], case["features"], generator=generator)
    labels = torch.randint(0, case["classes"], (case["examples"],), generator=generator)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=case["batch_size"])
    loss, accuracy = evaluate(model, loader, nn.CrossEntropyLoss())
    return [float(loss), float(accuracy)]


def _evaluate_reference(model, loader, loss_fn):
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            scores = model(inputs)
            total += F.cross_entropy(scores, labels, reduction="sum").item()
            correct += (scores.argmax(dim=1) == labels).sum().item()
            count += len(labels)
    return total / count, correct / count


# -- 07: a new head for transfer learning --------------------------------------------------------------

def _head_cases(rng: np.random.Generator) -> list[dict]:
    return [{"classes": c} for c in (2, 10, int(rng.integers(3, 40)))]


def _head_probe(replace_head: Callable, case: dict) -> list[float]:
    """Trainable and total parameters, and the output's shape, after replacing ResNet-18's head."""
    torch.manual_seed(0)
    model = replace_head(resnet18(), case["classes"])
    if not isinstance(model, nn.Module):
        raise TypeError(f"the function should return the model, it returned a {type(model).__name__}")
    model.eval()
    with torch.no_grad():
        output = model(torch.zeros(1, 3, 64, 64))
    return [count_parameters(model, trainable=True), count_parameters(model), *output.shape]


def _head_reference(model, classes):
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, classes)
    return model


# -- 08: Grad-CAM at any layer -------------------------------------------------------------------------

def small_cnn() -> nn.Sequential:
    """notebooks/08's small CNN: three 3x3 convolutions (layers "0", "3" and "6"), two 2x2 poolings, 2 classes."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2),
    )


def _cam_cases(rng: np.random.Generator) -> list[dict]:
    layers = ["0", "3", "6", *(str(rng.choice(["0", "3", "6"])) for _ in range(3))]
    return [{"seed": int(rng.integers(0, 2**31)), "layer": layer, "target": int(rng.integers(0, 2)),
             "size": int(rng.choice([16, 24, 32]))} for layer in layers]


def _cam_probe(grad_cam: Callable, case: dict) -> Any:
    torch.manual_seed(case["seed"])
    model = small_cnn().eval()
    image = torch.rand(3, case["size"], case["size"])
    return grad_cam(model, image, case["target"], case["layer"])


def _cam_reference(model, image, target, layer):
    from course_utils.explain import grad_cam  # captum, slow to import: only when this exercise is checked

    return grad_cam(model, image, target, layer, upsample=False)


# -- 09: batch normalisation in training mode ----------------------------------------------------------

def _bn_cases(rng: np.random.Generator) -> list[dict]:
    cases = []
    for _ in range(CASES):
        n, c, h, w = (int(v) for v in rng.integers(1, 5, size=4))
        n = max(n, 2)
        cases.append({"X": (rng.normal(size=(n, c, h, w)) * rng.uniform(0.5, 3) + rng.normal()).round(3),
                      "gamma": rng.normal(size=c).round(2), "beta": rng.normal(size=c).round(2), "eps": 1e-5})
    return cases


def _bn_probe(batch_norm: Callable, case: dict) -> Any:
    arguments = {name: torch.tensor(value) if isinstance(value, np.ndarray) else value for name, value in case.items()}
    return batch_norm(**arguments)


def _bn_reference(X, gamma, beta, eps):
    return F.batch_norm(X, None, None, gamma, beta, training=True, eps=eps)


# -- 11: ShuffleNet's channel shuffle ------------------------------------------------------------------

def _shuffle_cases(rng: np.random.Generator) -> list[dict]:
    # never one group, one channel per group, or as many groups as channels per group: for those the shuffle
    # is the identity or its own inverse, and a function that skips the transpose (or swaps the roles) would pass
    cases = []
    for _ in range(CASES):
        groups = int(rng.integers(2, 5))
        per_group = int(rng.choice([v for v in range(2, 6) if v != groups]))
        n, h, w = (int(v) for v in rng.integers(1, 4, size=3))
        cases.append({"X": rng.normal(size=(n, groups * per_group, h, w)).round(3), "groups": groups})
    return cases


def _shuffle_probe(channel_shuffle: Callable, case: dict) -> Any:
    return channel_shuffle(torch.tensor(case["X"]), case["groups"])


def _shuffle_reference(X, groups):
    return nn.ChannelShuffle(groups)(X)


CODING: dict[str, Coding] = {
    "02.5": Coding(_corr2d_cases, _corr2d_reference,
                   "pad first, then the output has floor((n + 2p - k) / s) + 1 rows; window (i, j) starts at (i*s, j*s)"),
    "03.6": Coding(_pool_cases, _avg_pool_grad_reference,
                   "each output is the mean of size^2 inputs: every input in its window gets grad / size^2, added up "
                   "where windows overlap"),
    "04.5": Coding(_image_cases, _to_batch_reference,
                   "divide by 255, subtract the channel's mean and divide by its std, then move channels first and add "
                   "a batch axis", rtol=1e-4, atol=1e-5),
    "05.5": Coding(_block_cases, _block_reference,
                   "conv3x3 (stride) - BN - ReLU - conv3x3 - BN, plus a shortcut: the input itself, or a 1x1 convolution "
                   "(stride, no bias) and BN when the shape changes; ReLU after the sum", probe=_block_probe),
    "06.5": Coding(_evaluation_cases, _evaluate_reference,
                   "sum the loss over examples (reduction='sum') and divide by the number of examples, not of batches; "
                   "evaluation mode, no gradients", probe=_evaluation_probe),
    "07.2": Coding(_head_cases, _head_reference,
                   "freeze every parameter first (requires_grad_(False)), then put a new nn.Linear(512, classes) in "
                   "model.fc: new layers are trainable", probe=_head_probe),
    "08.3": Coding(_cam_cases, _cam_reference,
                   "a forward hook keeps the layer's output; torch.autograd.grad gives its gradient; weight each channel "
                   "by its mean gradient, add the channels, keep the positive part", probe=_cam_probe, rtol=1e-4, atol=1e-6),
    "09.4": Coding(_bn_cases, _bn_reference,
                   "mean and variance over the batch, height and width (dim=(0, 2, 3)), the biased variance "
                   "(unbiased=False), eps inside the square root", probe=_bn_probe, rtol=1e-4, atol=1e-5),
    "11.4": Coding(_shuffle_cases, _shuffle_reference,
                   "view the channels as groups x (channels / groups), swap those two axes, and flatten them again "
                   "(reshape, transpose(1, 2), reshape)", probe=_shuffle_probe),
}
