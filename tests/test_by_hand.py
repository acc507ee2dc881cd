"""course_utils.by_hand against SciPy and PyTorch on hundreds of random inputs, and its errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import signal

from course_utils import by_hand

RNG = np.random.default_rng(2024)


def _random_configs(count, seed, channels=False):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        h, w = rng.integers(1, 12, size=2)
        kh, kw = rng.integers(1, 6, size=2)
        sh, sw = rng.integers(1, 4, size=2)
        ph, pw = rng.integers(0, 3, size=2)
        if kh > h + 2 * ph or kw > w + 2 * pw:
            continue
        config = dict(h=int(h), w=int(w), kh=int(kh), kw=int(kw), stride=(int(sh), int(sw)), padding=(int(ph), int(pw)))
        if channels:
            config.update(c_in=int(rng.integers(1, 5)), c_out=int(rng.integers(1, 5)))
        configs.append(config)
    return configs


def _torch_corr(X, K, stride, padding):
    """Reference: F.conv2d on (C, H, W) input and (O, C, kh, kw) kernel, in float64."""
    out = F.conv2d(torch.from_numpy(X)[None].double(), torch.from_numpy(K).double(), stride=stride, padding=padding)
    return out[0].numpy()


# --------------------------------------------------------------------------- the seeds' examples
def test_seed_example_3x3_input_2x2_kernel():
    assert by_hand.corr2d(np.arange(9).reshape(3, 3), [[0, 1], [2, 3]]).tolist() == [[19, 25], [37, 43]]


def test_seed_example_5x5_input_3x3_kernel():
    X = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
    K = [[0, 1, 2], [2, 2, 0], [0, 1, 2]]
    assert by_hand.corr2d(X, K).tolist() == [[12, 12, 17], [10, 17, 19], [9, 6, 14]]


def test_two_input_channels_example():
    X = np.stack([np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    assert by_hand.corr2d_multi_in(X, K).tolist() == [[56, 72], [104, 120]]


# --------------------------------------------------------------------------- against references
@pytest.mark.parametrize("config", _random_configs(150, seed=1), ids=lambda c: str(tuple(c.values())))
def test_corr2d_matches_torch(config):
    X = RNG.standard_normal((config["h"], config["w"]))
    K = RNG.standard_normal((config["kh"], config["kw"]))
    expected = _torch_corr(X[None], K[None, None], config["stride"], config["padding"])[0]
    np.testing.assert_allclose(by_hand.corr2d(X, K, config["stride"], config["padding"]), expected, atol=1e-10)


@pytest.mark.parametrize("seed", range(60))
def test_corr2d_and_conv2d_match_scipy(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(tuple(rng.integers(3, 10, size=2)))
    K = rng.standard_normal(tuple(rng.integers(1, 4, size=2)))
    np.testing.assert_allclose(by_hand.corr2d(X, K), signal.correlate2d(X, K, mode="valid"), atol=1e-10)
    np.testing.assert_allclose(by_hand.conv2d(X, K), signal.convolve2d(X, K, mode="valid"), atol=1e-10)
    # with padding p = k - 1 the true convolution is SciPy's "full" one
    p = (K.shape[0] - 1, K.shape[1] - 1)
    np.testing.assert_allclose(by_hand.conv2d(X, K, padding=p), signal.convolve2d(X, K, mode="full"), atol=1e-10)


@pytest.mark.parametrize("seed", range(40))
def test_corr1d_matches_numpy_and_torch(seed):
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal(rng.integers(4, 20)), rng.standard_normal(rng.integers(1, 4))
    np.testing.assert_allclose(by_hand.corr1d(x, k), np.correlate(x, k, mode="valid"), atol=1e-10)
    stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    expected = F.conv1d(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None], stride=stride, padding=padding)
    np.testing.assert_allclose(by_hand.corr1d(x, k, stride, padding), expected[0, 0].numpy(), atol=1e-10)


@pytest.mark.parametrize("config", _random_configs(100, seed=2, channels=True), ids=lambda c: str(tuple(c.values())))
def test_multi_channel_and_im2col_match_torch(config):
    X = RNG.standard_normal((config["c_in"], config["h"], config["w"]))
    K = RNG.standard_normal((config["c_out"], config["c_in"], config["kh"], config["kw"]))
    stride, padding = config["stride"], config["padding"]
    expected = _torch_corr(X, K, stride, padding)
    np.testing.assert_allclose(by_hand.corr2d_multi_in_out(X, K, stride, padding), expected, atol=1e-10)
    np.testing.assert_allclose(by_hand.corr2d_multi_in(X, K[0], stride, padding), expected[0], atol=1e-10)
    np.testing.assert_allclose(by_hand.corr2d_im2col(X, K, stride, padding), expected, atol=1e-10)
    unfolded = F.unfold(torch.from_numpy(X)[None], (config["kh"], config["kw"]), stride=stride, padding=padding)
    np.testing.assert_allclose(by_hand.im2col(X, (config["kh"], config["kw"]), stride, padding), unfolded[0].numpy())


def _pool_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        h, w, k = (int(v) for v in rng.integers(1, 10, size=3))
        stride = int(rng.integers(1, 4))
        padding = int(rng.integers(0, k // 2 + 1))
        if k <= min(h, w) + 2 * padding:
            configs.append((h, w, k, stride, padding))
    return configs


@pytest.mark.parametrize("h, w, k, stride, padding", _pool_configs(120, seed=3))
def test_pool2d_matches_torch(h, w, k, stride, padding):
    X = RNG.standard_normal((h, w))
    t = torch.from_numpy(X)[None, None]
    np.testing.assert_allclose(by_hand.pool2d(X, k, stride, "max", padding), F.max_pool2d(t, k, stride, padding)[0, 0].numpy())
    np.testing.assert_allclose(
        by_hand.pool2d(X, k, stride, "avg", padding), F.avg_pool2d(t, k, stride, padding)[0, 0].numpy(), atol=1e-12
    )


def test_pool2d_stride_defaults_to_window_and_seed_example():
    X = np.arange(9).reshape(3, 3)
    assert by_hand.pool2d(X, 2, stride=1).tolist() == [[4, 5], [7, 8]]
    assert by_hand.pool2d(X, 2, stride=1, mode="avg").tolist() == [[2, 3], [5, 6]]
    assert by_hand.pool2d(np.arange(16).reshape(4, 4), 2).tolist() == [[5, 7], [13, 15]]


def test_flip_relates_convolution_and_cross_correlation():
    X, K = RNG.standard_normal((6, 7)), RNG.standard_normal((3, 2))
    np.testing.assert_allclose(by_hand.conv2d(X, K), by_hand.corr2d(X, np.flip(K)))


def test_integer_inputs_stay_exact():
    out = by_hand.corr2d(np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]]))
    assert out.dtype.kind == "i"


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, bool, np.float16])
def test_narrow_types_do_not_wrap_around(dtype):
    """An 8-bit photo times an 8-bit kernel: the sums are computed wide, as SciPy does on int64."""
    rng = np.random.default_rng(3)
    high = 2 if dtype is bool else 200 if np.dtype(dtype).kind == "u" else 100
    X = rng.integers(0, high, size=(6, 7)).astype(dtype)
    K = rng.integers(0, high, size=(3, 3)).astype(dtype)
    wide_X, wide_K = X.astype(np.float64 if dtype is np.float16 else np.int64), K.astype(np.float64 if dtype is np.float16 else np.int64)
    expected = signal.correlate2d(wide_X, wide_K, mode="valid")
    np.testing.assert_allclose(by_hand.corr2d(X, K), expected, rtol=1e-3)
    np.testing.assert_allclose(by_hand.conv2d(X, K), signal.convolve2d(wide_X, wide_K, mode="valid"), rtol=1e-3)
    np.testing.assert_allclose(by_hand.corr2d_multi_in_out(X[None], K[None, None])[0], expected, rtol=1e-3)
    np.testing.assert_allclose(by_hand.corr2d_im2col(X[None], K[None, None])[0], expected, rtol=1e-3)
    np.testing.assert_allclose(by_hand.pool2d(X, 2, mode="avg"), by_hand.pool2d(wide_X, 2, mode="avg"), rtol=1e-3)
    assert int(by_hand.corr1d(X[0], K[0]).max()) == int(np.correlate(wide_X[0], wide_K[0], mode="valid").max())


# --------------------------------------------------------------------------- invalid input
X2, K2 = np.zeros((5, 5)), np.ones((3, 3))
INVALID = [
    ("kernel larger than input", lambda: by_hand.corr2d(np.zeros((2, 2)), K2), r"kernel height 3 is larger than the padded input height 2"),
    ("kernel wider than padded input", lambda: by_hand.corr2d(np.zeros((5, 2)), np.ones((1, 5)), padding=1),
     r"kernel width 5 .* 2 \+ 2\*1 = 4"),
    ("stride zero", lambda: by_hand.corr2d(X2, K2, stride=0), r"stride must be at least 1"),
    ("negative stride", lambda: by_hand.corr2d(X2, K2, stride=(1, -2)), r"stride must be at least 1"),
    ("negative padding", lambda: by_hand.corr2d(X2, K2, padding=-1), r"padding must be 0 or more"),
    ("fractional stride", lambda: by_hand.corr2d(X2, K2, stride=1.5), r"stride must be an integer"),
    ("bool padding", lambda: by_hand.corr2d(X2, K2, padding=True), r"padding must be an integer"),
    ("three-value stride", lambda: by_hand.corr2d(X2, K2, stride=(1, 1, 1)), r"stride must be an integer or a pair"),
    ("3-D input to corr2d", lambda: by_hand.corr2d(np.zeros((2, 5, 5)), K2), r"X must be 2-D"),
    ("1-D kernel to corr2d", lambda: by_hand.corr2d(X2, np.ones(3)), r"K must be 2-D"),
    ("empty input", lambda: by_hand.corr2d(np.zeros((0, 5)), K2), r"X is empty"),
    ("text input", lambda: by_hand.corr2d([["a", "b"], ["c", "d"]], [[1]]), r"X must be an array of numbers"),
    ("ragged input", lambda: by_hand.corr2d([[1, 2], [3]], [[1]]), r"X must be an array of numbers|inhomogeneous"),
    ("channel mismatch", lambda: by_hand.corr2d_multi_in(np.zeros((3, 5, 5)), np.ones((2, 3, 3))),
     r"K has 2 channels but X has 3.*\(3, 3, 3\)"),
    ("channel mismatch im2col", lambda: by_hand.corr2d_im2col(np.zeros((3, 5, 5)), np.ones((4, 2, 3, 3))),
     r"K expects 2 input channels but X has 3"),
    ("multi_in_out needs 4-D kernel", lambda: by_hand.corr2d_multi_in_out(np.zeros((3, 5, 5)), np.ones((3, 3, 3))),
     r"K must be 4-D"),
    ("multi_in needs 3-D input", lambda: by_hand.corr2d_multi_in(X2, np.ones((1, 3, 3))), r"X must be 3-D"),
    ("pool mode", lambda: by_hand.pool2d(X2, 2, mode="median"), r"mode must be 'max' or 'avg'"),
    ("pool window larger than input", lambda: by_hand.pool2d(np.zeros((2, 2)), 3), r"pooling window \(size\) height 3 is larger"),
    ("pool zero size", lambda: by_hand.pool2d(X2, 0), r"size must be at least 1"),
    ("pool padding over half the window", lambda: by_hand.pool2d(X2, 2, padding=2), r"padding .* at most half"),
    ("im2col kernel too big", lambda: by_hand.im2col(np.zeros((1, 3, 3)), 4), r"kernel \(kernel_size\) height 4 is larger"),
    ("corr1d 2-D input", lambda: by_hand.corr1d(X2, [1, 2]), r"x must be 1-D"),
    ("corr1d kernel too long", lambda: by_hand.corr1d([1, 2], [1, 2, 3]), r"kernel height 3 is larger"),
]


@pytest.mark.parametrize("name, call, message", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_input_names_the_argument(name, call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", list(by_hand.SEED_EXAMPLES))
def test_every_worked_example_of_the_lectures_agrees_with_torch(name):
    X, K = by_hand.SEED_EXAMPLES[name]
    expected = F.conv2d(torch.tensor(X, dtype=torch.float64)[None, None], torch.tensor(K, dtype=torch.float64)[None, None])
    assert np.array_equal(by_hand.corr2d(X, K), expected[0, 0].numpy())
