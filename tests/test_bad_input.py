"""Bad input, generated: every public function of the arithmetic modules either works (with a finite
result) or raises an error that names the argument that was wrong, and never hangs.

Each function has one valid call below; Hypothesis replaces one argument of it at a time with a value
drawn from a list of usual mistakes (None, text, negative, zero, fractional, NaN, infinite, enormous,
empty, of the wrong shape) and checks what comes back.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_utils import by_hand, compare, device, explain, shapes

ARRAY_2D, KERNEL_2D = np.arange(16.0).reshape(4, 4), np.ones((2, 2))
CALLS = {
    "by_hand.pad2d": (by_hand.pad2d, {"X": ARRAY_2D, "padding": 1}),
    "by_hand.corr1d": (by_hand.corr1d, {"x": np.arange(6.0), "k": np.ones(2), "stride": 1, "padding": 0}),
    "by_hand.corr2d": (by_hand.corr2d, {"X": ARRAY_2D, "K": KERNEL_2D, "stride": 1, "padding": 0}),
    "by_hand.conv2d": (by_hand.conv2d, {"X": ARRAY_2D, "K": KERNEL_2D, "stride": 1, "padding": 0}),
    "by_hand.corr2d_multi_in": (by_hand.corr2d_multi_in, {"X": np.ones((2, 4, 4)), "K": np.ones((2, 2, 2)),
                                                          "stride": 1, "padding": 0}),
    "by_hand.corr2d_multi_in_out": (by_hand.corr2d_multi_in_out, {"X": np.ones((2, 4, 4)), "K": np.ones((3, 2, 2, 2)),
                                                                  "stride": 1, "padding": 0}),
    "by_hand.pool2d": (by_hand.pool2d, {"X": ARRAY_2D, "size": 2, "stride": None, "mode": "max", "padding": 0}),
    "by_hand.im2col": (by_hand.im2col, {"X": np.ones((2, 4, 4)), "kernel_size": 2, "stride": 1, "padding": 0}),
    "by_hand.corr2d_im2col": (by_hand.corr2d_im2col, {"X": np.ones((2, 4, 4)), "K": np.ones((3, 2, 2, 2)),
                                                      "stride": 1, "padding": 0}),
    "shapes.conv_output_size": (shapes.conv_output_size, {"n": 7, "kernel_size": 3, "stride": 1, "padding": 0,
                                                          "dilation": 1}),
    "shapes.pool_output_size": (shapes.pool_output_size, {"n": 7, "kernel_size": 3, "stride": None, "padding": 0,
                                                          "dilation": 1}),
    "shapes.same_padding": (shapes.same_padding, {"kernel_size": 3, "dilation": 1}),
    "shapes.tf_padding": (shapes.tf_padding, {"n": 7, "kernel_size": 3, "stride": 2, "mode": "SAME"}),
    "shapes.fits_exactly": (shapes.fits_exactly, {"n": 7, "kernel_size": 3, "stride": 2, "padding": 0, "dilation": 1}),
    "shapes.what_would_fit": (shapes.what_would_fit, {"n": 7, "kernel_size": 3, "stride": 3, "padding": 0,
                                                      "dilation": 1}),
    "shapes.explain_output_size": (shapes.explain_output_size, {"n": 7, "kernel_size": 3, "stride": 3, "padding": 0,
                                                                "dilation": 1}),
    "shapes.receptive_field": (shapes.receptive_field, {"layers": [(3, 1), (3, 2)]}),
    "shapes.conv_params": (shapes.conv_params, {"in_channels": 3, "out_channels": 8, "kernel_size": 3}),
    "shapes.conv_mult_adds": (shapes.conv_mult_adds, {"in_channels": 3, "out_channels": 8, "kernel_size": 3,
                                                      "output_size": 5}),
    "compare.close": (compare.close, {"actual": np.ones(3), "expected": np.ones(3), "atol": 1e-6, "rtol": 1e-5}),
    "compare.bound": (compare.bound, {"value": 0.5, "above": 0.0, "below": 1.0}),
    "compare.every": (compare.every, {"mask": np.ones(3, dtype=bool), "what": "entries are set"}),
}

# notebook 08's methods, on a network small enough to answer in milliseconds
torch.manual_seed(0)
NETWORK = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
IMAGE = torch.rand(3, 16, 16)
CALLS.update({
    "explain.find_layer": (explain.find_layer, {"model": NETWORK, "layer": "0"}),
    "explain.probabilities": (explain.probabilities, {"model": NETWORK, "image": IMAGE}),
    "explain.saliency": (explain.saliency, {"model": NETWORK, "image": IMAGE, "target": 1}),
    "explain.smoothgrad": (explain.smoothgrad, {"model": NETWORK, "image": IMAGE, "target": 1, "samples": 4,
                                                "noise_level": 0.15}),
    "explain.occlusion": (explain.occlusion, {"model": NETWORK, "image": IMAGE, "target": 1, "window": 8, "stride": 4}),
    "explain.grad_cam": (explain.grad_cam, {"model": NETWORK, "image": IMAGE, "target": 1, "layer": "0"}),
    "explain.overlay": (explain.overlay, {"image": np.zeros((16, 16, 3)), "heatmap": np.ones((4, 4)), "alpha": 0.5}),
    "device.choose_device": (device.choose_device, {"prefer": "cpu"}),
    "device.seed_everything": (device.seed_everything, {"seed": 0}),
})

MISTAKES = [None, "seven", -1, 0, 2.5, -0.5, float("nan"), float("inf"), 10**12, True, [], (), np.zeros(0),
            np.zeros((2, 2, 2, 2, 2)), np.full((3, 3), np.nan), object()]
SECONDS = 5  # longer than that is a hang


@contextmanager
def time_limit(seconds: int):
    def stop(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _finite(result) -> bool:
    """No NaN or infinity hides in what came back (text, booleans and None are fine)."""
    if isinstance(result, (str, bool, type(None), compare.Check, compare.Report)):
        return True
    if isinstance(result, (int, float, np.number)):
        return math.isfinite(float(result))
    if isinstance(result, torch.Tensor):
        return bool(torch.isfinite(result).all())
    if isinstance(result, np.ndarray):
        return result.dtype.kind not in "fc" or bool(np.isfinite(result).all())
    if isinstance(result, (list, tuple)):
        return all(_finite(item) for item in result)
    return True


def outcome(function, arguments: dict, argument: str) -> str:
    """'works', 'clear' (an error naming the argument), or what went wrong."""
    try:
        with time_limit(SECONDS):
            result = function(**arguments)
    except TimeoutError:
        return "hang"
    except (ValueError, TypeError, IndexError) as error:
        return "clear" if argument in str(error) else f"vague: {type(error).__name__}: {str(error)[:160]}"
    except Exception as error:  # noqa: BLE001 - anything else is a failure to report, with its name
        return f"vague: {type(error).__name__}: {str(error)[:160]}"
    return "works" if _finite(result) else "silent non-finite"


def test_every_valid_call_works():
    for name, (function, arguments) in CALLS.items():
        assert outcome(function, dict(arguments), next(iter(arguments))) == "works", name


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CALLS)), st.data())
def test_a_wrong_argument_gets_an_error_that_names_it(name, data):
    function, valid = CALLS[name]
    argument = data.draw(st.sampled_from(sorted(valid)), label="argument")
    bad = data.draw(st.sampled_from(MISTAKES), label="value")
    arguments = {**valid, argument: bad}
    result = outcome(function, arguments, argument)
    assert result in ("works", "clear"), f"{name}({argument}={bad!r}): {result}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_census(name):
    """Every mistake in every argument, once: the counts the closing note of the change reports."""
    function, valid = CALLS[name]
    results = {}
    for argument in valid:
        for bad in MISTAKES:
            results[(argument, repr(bad)[:20])] = outcome(function, {**valid, argument: bad}, argument)
    failures = {key: value for key, value in results.items() if value not in ("works", "clear")}
    assert not failures, f"{name}: {failures}"
