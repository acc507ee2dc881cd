"""Checks that show what they compared, not only True or False.

First used in notebooks/00_setup.ipynb. A notebook that checks its hand-written code against PyTorch
or NumPy used to end the cell with `torch.allclose(ours, theirs)` and print `True`. The helpers here
give the same verdict and print the number behind it:

    close(ours, theirs, atol=1e-6)   agree: largest difference 2.4e-07 (atol 1e-06, rtol 1e-05)
    same(a, b)                       differ: largest difference 1.9 (exact)
    bound(loss, below=2.5)           holds: measured 2.31 (needs below 2.5)
    every(mask, "entries are 0")     holds: 16 of 16 entries are 0

`report(name=check, ...)` lines several up under their names. Every check is truthy exactly when its
verdict is good, so `assert close(...)` and `all(...)` work as with booleans.

The verdicts are the libraries' own: `close` is `torch.allclose` for tensors and `numpy.allclose`
otherwise, `same` is `torch.equal` or `numpy.array_equal`. The measured numbers vary slightly from
machine to machine; the notebook tests blank them out (tests/nbval_sanitize.cfg) and compare the
verdicts and everything else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["close", "same", "bound", "every", "report", "Check", "Report"]


class Check:
    """One verdict and the line that explains it; truthy when the verdict is good."""

    def __init__(self, ok: bool, verdict: str, detail: str, value: float | None = None):
        self.ok = bool(ok)
        self.verdict = verdict
        self.detail = detail
        self.value = value  # the measured number (largest difference, or the bounded value)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{self.verdict}: {self.detail}"

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's display
        printer.text(repr(self))


class Report:
    """Several named checks, one line each; truthy when every one is."""

    def __init__(self, checks: Mapping[str, Check]):
        for name, check in checks.items():
            if not isinstance(check, Check):
                raise TypeError(f"report: {name!r} is a {type(check).__name__}; give it a check from close, same, "
                                "bound or every")
        if not checks:
            raise ValueError("report: give at least one check (named checks or a dict of them), e.g. "
                             "report(ours=close(a, b))")
        self.checks = dict(checks)

    def __bool__(self) -> bool:
        return all(self.checks.values())

    def __getitem__(self, name: str) -> Check:
        return self.checks[name]

    def __iter__(self):
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __repr__(self) -> str:
        width = max(len(name) for name in self.checks)
        return "\n".join(f"{name:<{width}}  {check!r}" for name, check in self.checks.items())

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def report(checks: Mapping[str, Check] | None = None, /, **named: Check) -> Report:
    """Line several checks up under their names: `report(loops=close(...), im2col=close(...))`, or a
    dict for names that are not identifiers: `report({"ReLU, He init": bound(...)})`."""
    if checks is not None and not isinstance(checks, Mapping):
        raise TypeError(f"report: checks must be a dict of named checks, such as {{'ours': close(a, b)}}, got "
                        f"{type(checks).__name__}")
    return Report({**(dict(checks) if checks is not None else {}), **named})


def _number(value: float) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.2g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.3g}"


def _pairs(actual: Any, expected: Any, argument: str) -> list[tuple[Any, Any]]:
    """What to compare, as pairs of arrays or tensors: a list of tensors (a network's gradients)
    against another list of the same length compares entry by entry."""
    if isinstance(actual, (list, tuple)) and actual and all(isinstance(a, (torch.Tensor, np.ndarray)) for a in actual):
        if not isinstance(expected, (list, tuple)) or len(expected) != len(actual):
            raise ValueError(f"{argument}: actual is a list of {len(actual)} arrays, so expected must be a list of as "
                             f"many; got {type(expected).__name__}"
                             + (f" of {len(expected)}" if isinstance(expected, Sequence) else ""))
        return list(zip(actual, expected))
    return [(actual, expected)]


def _as_tensor_pair(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.detach(), b.detach()
    return None


def _largest_difference(a: Any, b: Any) -> float:
    x = np.asarray(a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    y = np.asarray(b.detach().cpu().double().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if x.size == 0 and y.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        difference = np.abs(x - y)
    return float(np.nan) if np.isnan(difference).any() else float(difference.max())


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if hasattr(value, "shape") else np.shape(value)


def _numeric(value: Any, name: str, function: str) -> None:
    """Refuse what cannot be compared as numbers (None, text, objects), naming the argument."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (torch.Tensor, np.ndarray)) for v in value):
        return
    if isinstance(value, torch.Tensor):
        return
    array = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([value])
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{function}: {name} must be numbers (an array, a tensor or a number), got {type(value).__name__}")


def _compare(actual: Any, expected: Any, exact: bool, atol: float, rtol: float, argument: str) -> Check:
    _numeric(actual, "actual", argument)
    _numeric(expected, "expected", argument)
    pairs = _pairs(actual, expected, argument)
    ok, largest = True, 0.0
    for a, b in pairs:
        if _shape(a) != _shape(b) and not (np.ndim(a) == 0 or np.ndim(b) == 0):
            try:
                np.broadcast_shapes(_shape(a), _shape(b))
            except ValueError:
                return Check(False, "differ", f"shapes {_shape(a)} and {_shape(b)} do not match")
        tensors = _as_tensor_pair(a, b)
        if tensors is not None:
            x, y = tensors
            if exact:
                pair_ok = torch.equal(x, y)
            else:
                pair_ok = torch.allclose(x, y.to(x.dtype) if x.dtype != y.dtype else y, atol=atol, rtol=rtol)
        else:
            x = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
            y = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
            pair_ok = np.array_equal(x, y) if exact else bool(np.allclose(x, y, atol=atol, rtol=rtol))
        difference = _largest_difference(a, b)
        ok = ok and bool(pair_ok)
        largest = difference if math.isnan(difference) or math.isnan(largest) else max(largest, difference)
    where = "exact" if exact else f"atol {_number(atol)}, rtol {_number(rtol)}"
    return Check(ok, "agree" if ok else "differ", f"largest difference {_number(largest)} ({where})", largest)


def close(actual: Any, expected: Any, *, atol: float = 1e-8, rtol: float = 1e-5) -> Check:
    """Whether `actual` is within `atol + rtol * |expected|` of `expected` everywhere (the verdict of
    torch.allclose for two tensors, numpy.allclose otherwise), shown with the largest difference.
    Lists of tensors (a network's gradients) compare entry by entry."""
    for name, tolerance in (("atol", atol), ("rtol", rtol)):
        if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 <= tolerance < math.inf:
            raise ValueError(f"close: {name} must be a finite number of at least 0, e.g. {name}=1e-6; got {tolerance!r}")
    return _compare(actual, expected, False, float(atol), float(rtol), "close")


def same(actual: Any, expected: Any) -> Check:
    """Whether `actual` equals `expected` exactly (torch.equal for two tensors, numpy.array_equal
    otherwise), shown with the largest difference."""
    return _compare(actual, expected, True, 0.0, 0.0, "same")


def bound(value: Any, *, above: float | None = None, below: float | None = None, at_least: float | None = None,
          at_most: float | None = None) -> Check:
    """Whether one measured number lies within the given bounds (`above`/`below` strictly,
    `at_least`/`at_most` inclusively), shown with the number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"bound: value must be one number; got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"bound: value must be a number; got {type(value).__name__}")
    limits = {"above": above, "below": below, "at_least": at_least, "at_most": at_most}
    given = {name: limit for name, limit in limits.items() if limit is not None}
    for name, limit in given.items():
        if isinstance(limit, torch.Tensor) and limit.numel() == 1:
            given[name] = limit = limit.item()
        if isinstance(limit, bool) or not isinstance(limit, (int, float, np.number)) or math.isnan(limit):
            raise TypeError(f"bound: {name} must be a number, e.g. {name}=0.5; got {limit!r}")
    if not given:
        raise ValueError("bound: give at least one of above, below, at_least, at_most, e.g. bound(loss, below=2.5)")
    if above is not None and at_least is not None or below is not None and at_most is not None:
        raise ValueError("bound: give above or at_least (not both), and below or at_most (not both)")
    value = float(value)
    tests = {"above": lambda v, t: v > t, "below": lambda v, t: v < t,
             "at_least": lambda v, t: v >= t, "at_most": lambda v, t: v <= t}
    ok = not math.isnan(value) and all(tests[name](value, limit) for name, limit in given.items())
    needs = " and ".join(f"{name.replace('_', ' ')} {_number(limit)}" for name, limit in given.items())
    return Check(ok, "holds" if ok else "fails", f"measured {_number(value)} (needs {needs})", value)


def every(mask: Any, what: str) -> Check:
    """Whether every entry of a boolean mask is true, shown as how many of how many: `what` says what
    the entries are, e.g. every(out == 0, "entries are 0")."""
    if not isinstance(what, str) or not what.strip():
        raise ValueError('every: what must say what the entries are, e.g. "entries are 0 or twice the input"')
    values = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if values.dtype != bool:
        raise TypeError(f"every: mask must hold booleans (e.g. x == 0); got {values.dtype}")
    count, total = int(values.sum()), int(values.size)
    ok = count == total
    return Check(ok, "holds" if ok else "fails", f"{count} of {total} {what}", float(count))
