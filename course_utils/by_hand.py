"""Convolution and pooling in plain NumPy, written to be read rather than to be fast.

Derived step by step in notebooks/02_convolution_by_hand.ipynb (cross-correlation, true
convolution, channels, im2col) and notebooks/03_padding_stride_pooling.ipynb (stride, padding,
pooling). Every function checks its arguments and names the one that is wrong, and computes in a
wide type: integers (and booleans) as 64-bit integers, half precision as 32-bit floats, so that an
8-bit image does not wrap around at 256. SEED_EXAMPLES holds
the lectures' worked examples that these functions are checked on (and that the sliding-window
stepper of course_utils.widgets steps through).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = [
    "SEED_EXAMPLES",
    "corr1d",
    "corr2d",
    "conv2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "pool2d",
    "im2col",
    "corr2d_im2col",
    "pad2d",
]


# The worked examples of the lectures (input X, kernel K), by the name the stepper's menu shows.
SEED_EXAMPLES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "3x3 input, 2x2 kernel": (np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]])),
    "5x5 input, 3x3 kernel": (
        np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]),
        np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]]),
    ),
    "6x6 image, diagonal filter": (
        np.array([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
                  [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]),
        np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]),
    ),
    "7x7 image, X-shaped kernel": (
        np.array([[0, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 0, 0],
                  [0, 0, 1, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]]),
        np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]),
    ),
}


# ----------------------------------------------------------------------------- argument checks
# Sizes beyond this are mistakes, not lessons: a padding of a million cells would need terabytes.
MAX_SIZE = 100_000


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """Return (height, width) from an int or a pair of ints, each at least `minimum` and at most MAX_SIZE."""
    values = value if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, Integral) for v in values):
        raise ValueError(f"{name} must be an integer or a pair of integers (height, width), got {value!r}")
    pair = (int(values[0]), int(values[1]))
    if min(pair) < minimum:
        what = "at least 1" if minimum == 1 else "0 or more"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if max(pair) > MAX_SIZE:
        raise ValueError(f"{name} must be at most {MAX_SIZE:,} (a by-hand computation of that size would never end), "
                         f"got {value!r}")
    return pair


def _array(value, name: str, ndim: int, shape_hint: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must be an array of numbers, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D ({shape_hint}), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); it needs at least one element per axis")
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(array)).sum())} NaN or infinite value(s); every result "
                         "they touch would be NaN too")
    # A wide type for the arithmetic: uint8 pixels times a uint8 kernel would wrap around at 256.
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    return array


def _output_shape(in_hw, kernel_hw, stride, padding, what: str = "kernel") -> tuple[int, int]:
    """Output (height, width) of a window sliding over a padded input; raise if it does not fit."""
    sizes = []
    for axis, n, k, s, p in zip(("height", "width"), in_hw, kernel_hw, stride, padding):
        if k > n + 2 * p:
            raise ValueError(
                f"{what} {axis} {k} is larger than the padded input {axis} {n} + 2*{p} = {n + 2 * p}; "
                f"use a {what} of at most {n + 2 * p} or padding of at least {(k - n + 1) // 2}"
            )
        sizes.append((n + 2 * p - k) // s + 1)
    return sizes[0], sizes[1]


def pad2d(X, padding=0) -> np.ndarray:
    """Return X with `padding` rows/columns of zeros added on every side of its last two axes."""
    ph, pw = _pair(padding, "padding", 0)
    array = np.asarray(X)
    X = _array(X, "X", max(2, array.ndim), "height x width, with any axes before them")
    widths = [(0, 0)] * (X.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(X, widths)


# ----------------------------------------------------------------------------- one channel
def corr1d(x, k, stride: int = 1, padding: int = 0) -> np.ndarray:
    """1-D cross-correlation: y[i] = sum_j x[i*stride + j] * k[j] over the zero-padded x."""
    x = _array(x, "x", 1, "a sequence of numbers")
    k = _array(k, "k", 1, "a sequence of weights")
    (s, _), (p, _) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    n_out, _ = _output_shape((len(x), 1), (len(k), 1), (s, 1), (p, 0))
    x = np.pad(x, p)
    y = np.zeros(n_out, dtype=np.result_type(x, k))
    for i in range(n_out):
        y[i] = np.sum(x[i * s : i * s + len(k)] * k)
    return y


def corr2d(X, K, stride=1, padding=0) -> np.ndarray:
    """2-D cross-correlation (what deep learning calls convolution) of one channel X with kernel K."""
    X = _array(X, "X", 2, "height x width")
    K = _array(K, "K", 2, "kernel height x kernel width")
    s, p = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    out_h, out_w = _output_shape(X.shape, K.shape, s, p)
    X = pad2d(X, p)
    kh, kw = K.shape
    Y = np.zeros((out_h, out_w), dtype=np.result_type(X, K))
    for i in range(out_h):
        for j in range(out_w):
            window = X[i * s[0] : i * s[0] + kh, j * s[1] : j * s[1] + kw]
            Y[i, j] = np.sum(window * K)
    return Y


def conv2d(X, K, stride=1, padding=0) -> np.ndarray:
    """True 2-D convolution: cross-correlation with the kernel flipped in both directions."""
    K = _array(K, "K", 2, "kernel height x kernel width")
    return corr2d(X, K[::-1, ::-1], stride=stride, padding=padding)


# ----------------------------------------------------------------------------- channels
def corr2d_multi_in(X, K, stride=1, padding=0) -> np.ndarray:
    """Cross-correlate each input channel with its own kernel slice and sum over channels.

    X: channels x height x width; K: channels x kernel height x kernel width.
    """
    X = _array(X, "X", 3, "channels x height x width")
    K = _array(K, "K", 3, "channels x kernel height x kernel width")
    if X.shape[0] != K.shape[0]:
        raise ValueError(
            f"K has {K.shape[0]} channels but X has {X.shape[0]}; a kernel needs one slice per input channel, "
            f"so K's shape should be ({X.shape[0]}, {K.shape[1]}, {K.shape[2]})"
        )
    return sum(corr2d(x, k, stride, padding) for x, k in zip(X, K))


def corr2d_multi_in_out(X, K, stride=1, padding=0) -> np.ndarray:
    """One output channel per kernel: K is out_channels x in_channels x kernel height x kernel width."""
    X = _array(X, "X", 3, "channels x height x width")
    K = _array(K, "K", 4, "out_channels x in_channels x kernel height x kernel width")
    return np.stack([corr2d_multi_in(X, k, stride, padding) for k in K])


# ----------------------------------------------------------------------------- pooling
def pool2d(X, size, stride=None, mode: str = "max", padding=0) -> np.ndarray:
    """Max or average pooling of one channel over windows of `size` (stride defaults to size).

    Padding, as in PyTorch's MaxPool2d, is never chosen by max: padded cells count as -inf for
    "max" and as 0 for "avg" (PyTorch's default count_include_pad=True).
    """
    X = _array(X, "X", 2, "height x width")
    ph_pw = _pair(padding, "padding", 0)
    kh, kw = _pair(size, "size", 1)
    s = (kh, kw) if stride is None else _pair(stride, "stride", 1)
    if not isinstance(mode, str) or mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if ph_pw[0] > kh // 2 or ph_pw[1] > kw // 2:
        raise ValueError(f"padding {padding!r} must be at most half the window size {(kh, kw)}, as in PyTorch")
    out_h, out_w = _output_shape(X.shape, (kh, kw), s, ph_pw, what="pooling window (size)")
    fill = -np.inf if mode == "max" else 0
    X = np.pad(X.astype(float), [(ph_pw[0], ph_pw[0]), (ph_pw[1], ph_pw[1])], constant_values=fill)
    Y = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = X[i * s[0] : i * s[0] + kh, j * s[1] : j * s[1] + kw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


# ----------------------------------------------------------------------------- im2col
def im2col(X, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Unfold every kernel-sized patch of X (channels x height x width) into one column.

    Returns an array of shape (channels * kh * kw, out_h * out_w), rows ordered channel, then
    kernel row, then kernel column, exactly as `K.reshape(out_channels, -1)` orders a kernel,
    so that convolution becomes one matrix product. Matches torch.nn.functional.unfold.
    """
    X = _array(X, "X", 3, "channels x height x width")
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    s, p = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    out_h, out_w = _output_shape(X.shape[1:], (kh, kw), s, p, what="kernel (kernel_size)")
    X = pad2d(X, p)
    cols = np.empty((X.shape[0], kh, kw, out_h, out_w), dtype=X.dtype)
    for a in range(kh):  # one strided slice per kernel position: kh * kw copies, not out_h * out_w
        for b in range(kw):
            cols[:, a, b] = X[:, a : a + s[0] * out_h : s[0], b : b + s[1] * out_w : s[1]]
    return cols.reshape(X.shape[0] * kh * kw, out_h * out_w)


def corr2d_im2col(X, K, stride=1, padding=0) -> np.ndarray:
    """Multi-channel cross-correlation as one matrix product: K (out, in, kh, kw) times im2col(X)."""
    X = _array(X, "X", 3, "channels x height x width")
    K = _array(K, "K", 4, "out_channels x in_channels x kernel height x kernel width")
    if X.shape[0] != K.shape[1]:
        raise ValueError(
            f"K expects {K.shape[1]} input channels but X has {X.shape[0]}; "
            f"K's shape should be ({K.shape[0]}, {X.shape[0]}, {K.shape[2]}, {K.shape[3]})"
        )
    s, p = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    out_h, out_w = _output_shape(X.shape[1:], K.shape[2:], s, p)
    cols = im2col(X, K.shape[2:], stride=s, padding=p)
    return (K.reshape(K.shape[0], -1) @ cols).reshape(K.shape[0], out_h, out_w)
