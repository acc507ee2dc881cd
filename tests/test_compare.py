"""course_utils.compare: the verdicts are the libraries' own, and the numbers shown are the real ones."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_utils.compare import bound, close, every, report, same

SETTINGS = settings(max_examples=300, deadline=None, database=None)
FLOATS = st.floats(-1e3, 1e3, allow_nan=False, width=32)
SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 5))
TOLERANCES = st.sampled_from([0.0, 1e-8, 1e-6, 1e-3, 0.1])


@st.composite
def nearby_pairs(draw, dtype=np.float32):
    """An array and a copy of it with a few entries nudged by amounts near typical tolerances."""
    shape = draw(SHAPES)
    a = draw(arrays(dtype, shape, elements=FLOATS))
    nudges = [float(np.asarray(v, dtype)) for v in (0.0, 0.0, 1e-9, 1e-7, 1e-5, 1e-3, 0.5, -0.5)]  # as the dtype holds them
    nudge = draw(arrays(dtype, shape, elements=st.sampled_from(nudges)))
    return a, (a + nudge).astype(dtype)


@SETTINGS
@given(nearby_pairs(), TOLERANCES, TOLERANCES)
def test_close_gives_torch_allclose_verdict_and_the_true_largest_difference(pair, atol, rtol):
    a, b = (torch.from_numpy(x) for x in pair)
    check = close(a, b, atol=atol, rtol=rtol)
    assert bool(check) == torch.allclose(a, b, atol=atol, rtol=rtol)
    assert check.value == pytest.approx(float((a.double() - b.double()).abs().max()), abs=0)
    assert repr(check).startswith("agree: " if check else "differ: ")


@SETTINGS
@given(nearby_pairs(np.float64), TOLERANCES, TOLERANCES)
def test_close_gives_numpy_allclose_verdict(pair, atol, rtol):
    a, b = pair
    check = close(a, b, atol=atol, rtol=rtol)
    assert bool(check) == bool(np.allclose(a, b, atol=atol, rtol=rtol))
    assert check.value == float(np.abs(a - b).max())


@SETTINGS
@given(nearby_pairs())
def test_same_is_torch_equal_and_numpy_array_equal(pair):
    a, b = pair
    assert bool(same(a, b)) == bool(np.array_equal(a, b))
    assert bool(same(torch.from_numpy(a), torch.from_numpy(b))) == torch.equal(torch.from_numpy(a), torch.from_numpy(b))
    assert (same(a, b).value == 0) == bool(np.array_equal(a, b))


def test_lists_of_tensors_compare_entry_by_entry():
    grads = [torch.ones(3, 2), torch.zeros(4)]
    nudged = [torch.ones(3, 2), torch.tensor([0.0, 0.0, 0.3, 0.0])]
    assert close(grads, [g.clone() for g in grads])
    check = close(grads, nudged, atol=0.1)
    assert not check
    assert check.value == pytest.approx(0.3)
    with pytest.raises(ValueError, match="list of 2 arrays"):
        close(grads, grads[:1])


def test_tuples_of_numbers_and_mismatched_shapes():
    assert same((0.5, 1.0, 2.0), (0.5, 1.0, 2.0))
    assert not same((0.5, 1.0), (0.5, 1.5))
    assert same((0.5, 1.0), (0.5, 1.5)).value == 0.5
    check = close(np.zeros((2, 3)), np.zeros((3, 2)))
    assert not check
    assert "shapes (2, 3) and (3, 2)" in repr(check)


def test_nan_differs_and_says_so():
    check = close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    assert not check
    assert math.isnan(check.value)
    assert "nan" in repr(check)


@SETTINGS
@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False),
       st.floats(-1e6, 1e6, allow_nan=False))
def test_bound_agrees_with_the_comparisons_it_names(value, low, high):
    assert bool(bound(value, above=low)) == (value > low)
    assert bool(bound(value, at_most=high)) == (value <= high)
    assert bool(bound(value, at_least=low, below=high)) == (low <= value < high)


def test_bound_shows_the_number_and_the_bounds():
    check = bound(torch.tensor(2.3026), above=2.1, below=2.5)
    assert repr(check) == "holds: measured 2.3 (needs above 2.1 and below 2.5)"
    assert repr(bound(3e-15, below=1e-12)) == "holds: measured 3e-15 (needs below 1e-12)"
    assert not bound(float("nan"), below=1.0)


@pytest.mark.parametrize("call, message", [
    (lambda: bound(1.0), "at least one of above"),
    (lambda: bound(1.0, above=0, at_least=0), "not both"),
    (lambda: bound(torch.ones(2), below=2), "one number"),
    (lambda: bound(True, below=2), "must be a number"),
    (lambda: close(1.0, 1.0, atol=-1), "atol must be a finite number of at least 0"),
    (lambda: close(None, 1.0), "actual must be numbers"),
    (lambda: bound(0.5, below="one"), "below must be a number"),
    (lambda: every(np.arange(3), "entries"), "booleans"),
    (lambda: every(np.ones(3, bool), " "), "what must say"),
    (lambda: report(), "at least one check"),
    (lambda: report(x=True), "'x' is a bool"),
])
def test_bad_input_gets_a_named_error(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_every_counts_and_report_lines_up():
    x = torch.arange(6.0)
    assert repr(every(x >= 0, "entries are at least 0")) == "holds: 6 of 6 entries are at least 0"
    assert not every(x > 0, "entries are positive")
    checks = report({"ReLU, He init": bound(0.8, above=0.05)}, loops=close(x, x))
    assert bool(checks)
    assert len(checks) == 2
    assert checks["loops"]
    lines = repr(checks).splitlines()
    assert lines[0].startswith("ReLU, He init  holds: ")
    assert lines[1].startswith("loops          agree: ")
    assert not report(a=close(x, x), b=close(x, x + 1))


def test_the_notebook_tests_blank_out_exactly_the_measured_numbers():
    """tests/nbval_sanitize.cfg replaces the numbers that vary by machine and keeps the verdicts."""
    text = Path(__file__).with_name("nbval_sanitize.cfg").read_text()
    patterns = re.findall(r"^regex: (.*)\nreplace: (.*)$", text, flags=re.MULTILINE)
    shown = "\n".join([repr(close(torch.ones(2), torch.ones(2) + 2.4e-7, atol=1e-6)), repr(bound(2.31, below=2.5)),
                       repr(close(torch.ones(1), torch.tensor([float("nan")])))])
    for regex, replacement in patterns:
        shown = re.sub(regex, replacement, shown)
    assert shown.splitlines() == ["agree: largest difference <number> (atol 1e-06, rtol 1e-05)",
                                  "holds: measured <number> (needs below 2.5)",
                                  "differ: largest difference <number> (atol 1e-08, rtol 1e-05)"]
