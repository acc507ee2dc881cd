"""course_utils.shapes against the output of real torch conv and pool layers."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import shapes


def _conv_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        n, k, s, p, d = (int(v) for v in (rng.integers(1, 40), rng.integers(1, 8), rng.integers(1, 5),
                                          rng.integers(0, 4), rng.integers(1, 4)))
        if d * (k - 1) + 1 <= n + 2 * p:
            configs.append((n, k, s, p, d))
    return configs


def _pool_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        n, k, s, d = (int(v) for v in (rng.integers(1, 40), rng.integers(1, 7), rng.integers(1, 5), rng.integers(1, 3)))
        p = int(rng.integers(0, k // 2 + 1))
        ceil_mode = bool(rng.integers(0, 2))
        if d * (k - 1) + 1 <= n + 2 * p:
            configs.append((n, k, s, p, d, ceil_mode))
    return configs


@pytest.mark.parametrize("n, k, s, p, d", _conv_configs(200, seed=10))
def test_conv_output_size_matches_conv2d(n, k, s, p, d):
    layer = nn.Conv2d(1, 1, kernel_size=k, stride=s, padding=p, dilation=d, bias=False)
    with torch.no_grad():
        out = layer(torch.zeros(1, 1, n, n + 3))
    assert out.shape[-2] == shapes.conv_output_size(n, k, s, p, d)
    assert out.shape[-1] == shapes.conv_output_size(n + 3, k, s, p, d)


@pytest.mark.parametrize("n, k, s, p, d, ceil_mode", _pool_configs(200, seed=11))
def test_pool_output_size_matches_maxpool2d(n, k, s, p, d, ceil_mode):
    pool = nn.MaxPool2d(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    out = pool(torch.zeros(1, 1, n, n))
    assert out.shape[-1] == shapes.pool_output_size(n, k, s, p, d, ceil_mode)
    assert out.shape[-1] == shapes.conv_output_size(n, k, s, p, d, ceil_mode)


def _pytorch_pool_size(n, k, s, p, d, ceil_mode):
    try:
        return nn.MaxPool2d(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)(torch.zeros(1, 1, n, n)).shape[-1]
    except RuntimeError:  # PyTorch's "output size is too small"
        return None


def test_pool_output_size_follows_pytorch_where_the_kernel_is_wider_than_the_input():
    """Every small configuration, those where no window fits included: the same size as PyTorch, or an
    error where PyTorch raises (ceil_mode gives one window when the kernel overhangs by less than the stride)."""
    compared = overhanging = 0
    for n in range(1, 7):
        for k in range(1, 8):
            for s in range(1, 5):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        for ceil_mode in (False, True):
                            expected = _pytorch_pool_size(n, k, s, p, d, ceil_mode)
                            if expected is None:
                                with pytest.raises(ValueError):
                                    shapes.pool_output_size(n, k, s, p, d, ceil_mode)
                            else:
                                assert shapes.pool_output_size(n, k, s, p, d, ceil_mode) == expected, (n, k, s, p, d, ceil_mode)
                                overhanging += d * (k - 1) + 1 > n + 2 * p
                            compared += 1
    assert overhanging > 0  # the region that used to be filtered out is covered
    assert shapes.pool_output_size(2, 3, 2, ceil_mode=True) == 1 == _pytorch_pool_size(2, 3, 2, 0, 1, True)


@pytest.mark.parametrize("n, k", [(5, 2), (9, 3), (7, 7), (224, 3)])
def test_pool_stride_defaults_to_kernel(n, k):
    assert shapes.pool_output_size(n, k) == nn.MaxPool2d(k)(torch.zeros(1, 1, n, n)).shape[-1]


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (5, 3), (2, 2), (4, 2)])
def test_same_padding_keeps_the_size(k, d):
    p = shapes.same_padding(k, d)
    layer = nn.Conv2d(1, 1, k, padding=p, dilation=d)
    x = torch.randn(1, 1, 17, 17)
    assert layer(x).shape[-1] == 17
    torch_same = nn.Conv2d(1, 1, k, padding="same", dilation=d)
    torch_same.load_state_dict(layer.state_dict())
    assert torch.allclose(torch_same(x), layer(x), atol=1e-6)


@pytest.mark.parametrize("n, k, s", [(n, k, s) for n in (1, 7, 13, 20) for k in (1, 2, 3, 6) for s in (1, 2, 5) if k <= n])
def test_tf_padding_rules(n, k, s):
    valid = shapes.tf_padding(n, k, s, "VALID")
    assert valid.output == math.ceil((n - k + 1) / s)
    assert valid.pad_before == valid.pad_after == 0
    same = shapes.tf_padding(n, k, s, "SAME")
    assert same.output == math.ceil(n / s)
    assert same.pad_after - same.pad_before in (0, 1)
    padded = torch.nn.functional.pad(torch.zeros(1, 1, 1, n), (same.pad_before, same.pad_after))
    assert nn.Conv2d(1, 1, (1, k), stride=s)(padded).shape[-1] == same.output


def test_tf_padding_seed_example():
    assert shapes.tf_padding(13, 6, 5, "VALID") == (2, 0, 0)
    assert shapes.tf_padding(13, 6, 5, "SAME") == (3, 1, 2)


@pytest.mark.parametrize("layers, expected", [
    ([(3, 1)], 3), ([(3, 1)] * 2, 5), ([(3, 1)] * 3, 7), ([(7, 1)], 7),
    ([(3, 1, 2)], 5), ([(2, 2), (2, 2)], 4), ([(11, 4), (3, 2)], 19),
])
def test_receptive_field(layers, expected):
    assert shapes.receptive_field(layers) == expected


@pytest.mark.parametrize("seed", range(30))
def test_receptive_field_matches_gradient_support(seed):
    """The input pixels that influence one output pixel, found by autograd."""
    rng = np.random.default_rng(seed)
    modules = []
    for _ in range(rng.integers(1, 4)):
        k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        modules.append(nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False) if rng.integers(0, 2) else nn.MaxPool2d(k, s, dilation=d))
        modules.append(nn.ReLU())
    model = nn.Sequential(*modules)
    for module in model:
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 1.0)
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    out = model(x)
    out[0, 0, 0, 0].backward()
    touched = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    span = int(touched.max() - touched.min() + 1) if len(touched) else 0
    # max pooling routes the gradient to one input only, so the support can be smaller, never larger
    assert span <= shapes.receptive_field(model)
    if all(not isinstance(m, nn.MaxPool2d) for m in model):
        assert span == shapes.receptive_field(model)


def test_conv_params_matches_torch_and_seed_example():
    assert shapes.conv_params(3, 10, 5) == 760
    for c_in, c_out, k, bias in [(3, 64, 11, True), (64, 192, 5, True), (16, 32, (3, 1), False), (1, 1, 1, True)]:
        layer = nn.Conv2d(c_in, c_out, k, bias=bias)
        assert shapes.conv_params(c_in, c_out, k, bias) == sum(p.numel() for p in layer.parameters())


def test_three_3x3_versus_one_7x7():
    C, H, W = 64, 56, 56
    one = shapes.conv_params(C, C, 7, bias=False)
    three = 3 * shapes.conv_params(C, C, 3, bias=False)
    assert (one, three) == (49 * C**2, 27 * C**2)
    assert shapes.conv_mult_adds(C, C, 7, (H, W)) == 49 * H * W * C**2
    assert 3 * shapes.conv_mult_adds(C, C, 3, (H, W)) == 27 * H * W * C**2


@pytest.mark.parametrize("n, k, s, p, d", _conv_configs(60, seed=12))
def test_fits_exactly_and_suggestions(n, k, s, p, d):
    fits = shapes.fits_exactly(n, k, s, p, d)
    covered = (shapes.conv_output_size(n, k, s, p, d) - 1) * s + d * (k - 1) + 1
    assert fits == (covered == n + 2 * p)
    text = shapes.explain_output_size(n, k, s, p, d)
    assert text.splitlines()[0].endswith(f"= {shapes.conv_output_size(n, k, s, p, d)}")
    assert ("do not fit" in text) == (not fits)
    for suggestion in shapes.what_would_fit(n, k, s, p, d):
        name, value = suggestion.split(" ")[0].split("=")
        settings = dict(kernel_size=k, stride=s, padding=p, dilation=d)
        settings[name] = int(value)
        assert shapes.fits_exactly(n, **settings), suggestion


def test_seed_practice_problems():
    assert shapes.conv_output_size(6, 3, 1, 0) == 4
    assert (6 + 2 * 1 - 3) / 2 + 1 == 3.5
    assert shapes.conv_output_size(6, 3, 2, 1) == 3
    assert (224 + 2 * 2 - 11) / 4 + 1 == 55.25
    assert shapes.conv_output_size(224, 11, 4, 2) == 55
    assert [shapes.conv_output_size(5, 3, s, p) for s, p in [(1, 0), (1, 1), (2, 1)]] == [3, 5, 3]
    assert shapes.conv_output_size(32, 5, 1, 2) == 32
    assert shapes.conv_output_size(1, 5, 1, 2) == 1
    assert shapes.conv_output_size(2, 5, 1, 2) == 2
    assert not shapes.fits_exactly(7, 3, 3)
    assert shapes.conv_output_size(7, 3, 3) == 2
    assert shapes.pool_output_size(5, 3, 1) == 3  # one slide says 2x2


INVALID = [
    ("n zero", lambda: shapes.conv_output_size(0, 3), r"n must be at least 1"),
    ("stride zero", lambda: shapes.conv_output_size(5, 3, stride=0), r"stride must be at least 1"),
    ("negative padding", lambda: shapes.conv_output_size(5, 3, padding=-1), r"padding must be 0 or more"),
    ("zero dilation", lambda: shapes.conv_output_size(5, 3, dilation=0), r"dilation must be at least 1"),
    ("float kernel", lambda: shapes.conv_output_size(5, 2.5), r"kernel_size must be an integer"),
    ("kernel too big", lambda: shapes.conv_output_size(4, 7), r"kernel spans 7 cells .* padding of at least 2"),
    ("dilated kernel too big", lambda: shapes.conv_output_size(5, 3, dilation=3), r"kernel spans 7 cells"),
    ("pool padding too big", lambda: shapes.pool_output_size(8, 3, padding=2), r"padding=2 must be at most half"),
    ("same padding even kernel", lambda: shapes.same_padding(4), r"kernel_size=4 .* cannot be split evenly"),
    ("tf mode", lambda: shapes.tf_padding(13, 6, 5, "FULL"), r"mode must be 'VALID' or 'SAME'"),
    ("tf valid too big", lambda: shapes.tf_padding(3, 6, 1, "VALID"), r"kernel_size=6 is larger than n=3"),
    ("receptive field bad tuple", lambda: shapes.receptive_field([(3,)]), r"\(kernel_size, stride\)"),
    ("receptive field zero stride", lambda: shapes.receptive_field([(3, 0)]), r"layers\[0\] stride must be at least 1"),
    ("receptive field junk", lambda: shapes.receptive_field(["conv"]), r"layers may hold"),
    ("conv params zero channels", lambda: shapes.conv_params(0, 3, 3), r"in_channels must be at least 1"),
    ("bool stride", lambda: shapes.conv_output_size(5, 3, stride=True), r"stride must be an integer"),
]


@pytest.mark.parametrize("name, call, message", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_input_names_the_argument(name, call, message):
    with pytest.raises(ValueError, match=message):
        call()
