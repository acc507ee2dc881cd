"""Output sizes, padding, receptive fields and parameter counts of convolution and pooling layers.

The formula is built up in notebooks/03_padding_stride_pooling.ipynb:

    out = floor((n + 2p - d(k - 1) - 1) / s) + 1

with n the input size, k the kernel size, s the stride, p the padding on each side and d the
dilation. These functions follow PyTorch's Conv2d and MaxPool2d exactly, ceil_mode included.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Iterable, NamedTuple

# The layer-by-layer table runs the model with hooks, so it lives beside stage_outputs in models;
# it is offered here too, with the other counts of parameters and multiply-adds.
from .models import LayerRow, LayerTable, layer_table

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "same_padding",
    "tf_padding",
    "fits_exactly",
    "what_would_fit",
    "explain_output_size",
    "receptive_field",
    "conv_params",
    "conv_mult_adds",
    "layer_table",
    "LayerTable",
    "LayerRow",
]


def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        what = {0: "0 or more", 1: "at least 1"}.get(minimum, f"at least {minimum}")
        raise ValueError(f"{name} must be {what}, got {value}")
    return int(value)


def _check(n, kernel_size, stride, padding, dilation, ceil_mode: bool = False) -> tuple[int, int, int, int, int]:
    n = _int(n, "n", 1)
    k = _int(kernel_size, "kernel_size", 1)
    s = _int(stride, "stride", 1)
    p = _int(padding, "padding", 0)
    d = _int(dilation, "dilation", 1)
    span = d * (k - 1) + 1
    # With ceil_mode a window may hang over the end of the padded input, so PyTorch (and this module)
    # still gives one window when the kernel is wider than that input by less than the stride.
    if span > n + 2 * p + (s - 1 if ceil_mode else 0):
        hint = f"kernel_size of at most {(n + 2 * p - 1) // d + 1}" if d > 1 else f"kernel_size of at most {n + 2 * p}"
        raise ValueError(
            f"the kernel spans {span} cells (kernel_size={k}, dilation={d}) but the padded input has only "
            f"n + 2*padding = {n + 2 * p}; use a {hint} or padding of at least {math.ceil((span - n) / 2)}"
        )
    return n, k, s, p, d


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length along one axis: floor((n + 2p - d(k-1) - 1)/s) + 1 (ceil with ceil_mode)."""
    if not isinstance(ceil_mode, bool):
        raise ValueError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    n, k, s, p, d = _check(n, kernel_size, stride, padding, dilation, ceil_mode)
    numerator = n + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return numerator // s + 1
    out = -(-numerator // s) + 1
    if (out - 1) * s >= n + p:  # PyTorch: the last window must start inside the input or left padding
        out -= 1
    if out < 1:
        raise ValueError(f"no window fits: the kernel spans {d * (k - 1) + 1} cells (kernel_size={k}, dilation={d}) and "
                         f"the padded input has n + 2*padding = {n + 2 * p}; use a smaller kernel_size or more padding")
    return out


def pool_output_size(n: int, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of pooling along one axis; stride defaults to kernel_size, as in PyTorch."""
    stride = kernel_size if stride is None else stride
    k = _int(kernel_size, "kernel_size", 1)
    p = _int(padding, "padding", 0)
    if p > k // 2:
        raise ValueError(f"padding={p} must be at most half of kernel_size={k} for pooling (at most {k // 2})")
    return conv_output_size(n, k, stride, p, dilation, ceil_mode)


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding on each side that keeps the size at stride 1: (d(k - 1)) / 2, for odd spans."""
    k = _int(kernel_size, "kernel_size", 1)
    d = _int(dilation, "dilation", 1)
    total = d * (k - 1)
    if total % 2:
        raise ValueError(
            f"kernel_size={k} with dilation={d} needs {total} padding in all, which cannot be split evenly; "
            f"use an odd kernel_size, or pad {total // 2} on one side and {total - total // 2} on the other "
            f"(what TensorFlow's 'SAME' does, see tf_padding)"
        )
    return total // 2


class TFPadding(NamedTuple):
    """TensorFlow's padding along one axis: output length and the zeros added before and after."""

    output: int
    pad_before: int
    pad_after: int


def tf_padding(n: int, kernel_size: int, stride: int, mode: str) -> TFPadding:
    """TensorFlow's "VALID" (no padding, drop what does not fit) or "SAME" (out = ceil(n / s))."""
    n = _int(n, "n", 1)
    k = _int(kernel_size, "kernel_size", 1)
    s = _int(stride, "stride", 1)
    if not isinstance(mode, str) or mode.upper() not in ("VALID", "SAME"):
        raise ValueError(f"mode must be 'VALID' or 'SAME', got {mode!r}")
    if mode.upper() == "VALID":
        if k > n:
            raise ValueError(f"kernel_size={k} is larger than n={n}; VALID padding needs kernel_size <= n")
        return TFPadding((n - k) // s + 1, 0, 0)
    if mode.upper() == "SAME":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return TFPadding(out, total // 2, total - total // 2)  # the odd extra zero goes after
    raise ValueError(f"mode must be 'VALID' or 'SAME', got {mode!r}")


MAX_SEARCHED = 100_000  # what_would_fit tries sizes one by one up to this


def fits_exactly(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> bool:
    """True when the last window ends exactly at the padded input's edge (nothing is dropped)."""
    n, k, s, p, d = _check(n, kernel_size, stride, padding, dilation)
    return (n + 2 * p - d * (k - 1) - 1) % s == 0


def what_would_fit(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> list[str]:
    """Nearby settings that fit exactly, changing one of padding, stride or kernel_size (searched among
    sizes up to MAX_SEARCHED)."""
    n, k, s, p, d = _check(n, kernel_size, stride, padding, dilation)
    for name, value in (("n", n), ("kernel_size", k), ("stride", s), ("padding", p), ("dilation", d)):
        if value > MAX_SEARCHED:
            raise ValueError(f"what_would_fit searches settings one by one: {name}={value:,} is more than "
                             f"{MAX_SEARCHED:,}; conv_output_size gives the output size of any size")
    suggestions = []
    for extra in range(1, s + 1):
        if (n + 2 * (p + extra) - d * (k - 1) - 1) % s == 0:
            out = conv_output_size(n, k, s, p + extra, d)
            suggestions.append(f"padding={p + extra} (output {out})")
            break
    for other in list(range(s - 1, 0, -1)) + list(range(s + 1, s + 4)):
        if (n + 2 * p - d * (k - 1) - 1) % other == 0:
            suggestions.append(f"stride={other} (output {conv_output_size(n, k, other, p, d)})")
            break
    for other in sorted(range(1, n + 2 * p + 1), key=lambda value: (abs(value - k), value)):
        if other != k and d * (other - 1) + 1 <= n + 2 * p and (n + 2 * p - d * (other - 1) - 1) % s == 0:
            suggestions.append(f"kernel_size={other} (output {conv_output_size(n, other, s, p, d)})")
            break
    return suggestions


def explain_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> str:
    """The output-size formula written out with these numbers, and whether the windows fit exactly."""
    n, k, s, p, d = _check(n, kernel_size, stride, padding, dilation)
    numerator = n + 2 * p - d * (k - 1) - 1
    out = numerator // s + 1
    text = (f"floor(({n} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1 = floor({numerator}/{s}) + 1 "
            f"= {numerator // s} + 1 = {out}")
    if numerator % s:
        dropped = numerator % s
        text += (f"\n{numerator}/{s} is not a whole number: the windows do not fit, and the last {dropped} "
                 f"row(s)/column(s) of the padded input are never covered.")
        if max(n, k, s, p, d) <= MAX_SEARCHED:
            text += " Would fit: " + "; ".join(what_would_fit(n, k, s, p, d))
    return text


def receptive_field(layers: Iterable) -> int:
    """How many input pixels (along one axis) one output pixel sees through stacked layers.

    `layers` holds (kernel_size, stride) or (kernel_size, stride, dilation) tuples, or torch
    modules: Conv2d and pooling layers count, others (activations, normalisation) do not.
    """
    field, jump = 1, 1
    for index, layer in enumerate(_layer_specs(layers)):
        k, s, d = layer
        _int(k, f"layers[{index}] kernel_size", 1)
        _int(s, f"layers[{index}] stride", 1)
        _int(d, f"layers[{index}] dilation", 1)
        field += d * (k - 1) * jump
        jump *= s
    return field


def _first(value):
    """The height of a (height, width) pair, or the number itself: receptive fields assume square layers."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _layer_specs(layers) -> list[tuple[int, int, int]]:
    specs = []
    modules = layers.modules() if hasattr(layers, "modules") else layers
    if isinstance(modules, (str, bytes)) or not hasattr(modules, "__iter__"):
        raise TypeError(f"layers must be a list of (kernel_size, stride) tuples or a torch model, got {layers!r}")
    for layer in modules:
        if isinstance(layer, (tuple, list)):
            if len(layer) not in (2, 3):
                raise ValueError(f"each layer must be (kernel_size, stride) or (kernel_size, stride, dilation), got {layer!r}")
            k, s, *rest = layer
            specs.append((k, s, rest[0] if rest else 1))
        elif hasattr(layer, "kernel_size") and hasattr(layer, "stride"):
            stride = layer.stride if layer.stride is not None else layer.kernel_size
            specs.append((_first(layer.kernel_size), _first(stride), _first(getattr(layer, "dilation", 1))))
        elif hasattr(layer, "forward"):
            continue  # containers, activations, normalisation: no spatial window
        else:
            raise ValueError(f"layers may hold (kernel_size, stride[, dilation]) tuples or torch modules, got {layer!r}")
    return specs


def _size_pair(value, name: str) -> tuple[int, int]:
    """(height, width) from a size or a pair of sizes, each a positive integer."""
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an integer or a pair (height, width), got {value!r}")
    return _int(pair[0], name, 1), _int(pair[1], name, 1)


def conv_params(in_channels: int, out_channels: int, kernel_size, bias: bool = True) -> int:
    """Weights (and biases) of a conv layer: out * in * kh * kw (+ out)."""
    c_in = _int(in_channels, "in_channels", 1)
    c_out = _int(out_channels, "out_channels", 1)
    kh, kw = _size_pair(kernel_size, "kernel_size")
    return c_out * c_in * kh * kw + (c_out if bias else 0)


def conv_mult_adds(in_channels: int, out_channels: int, kernel_size, output_size) -> int:
    """Multiply-adds of a conv layer: one kernel-sized dot product per output value."""
    oh, ow = _size_pair(output_size, "output_size")
    weights = conv_params(in_channels, out_channels, kernel_size, bias=False)
    return weights * oh * ow
