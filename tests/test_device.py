"""course_utils.device: device choice with availability patched, smoke mode, seeding."""

import random

import numpy as np
import pytest
import torch

from course_utils import device as dev


@pytest.fixture
def availability(monkeypatch):
    """Patch which accelerators PyTorch reports, and clear COURSE_DEVICE."""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)

    def set_available(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Test GPU")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_available


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_device_order_is_cuda_then_mps_then_cpu(availability, cuda, mps, expected):
    availability(cuda, mps)
    assert dev.get_device() == torch.device(expected)
    choice = dev.choose_device()
    assert choice.device.type == expected
    assert expected in choice.reason.lower() or (expected == "cpu" and "cpu" in choice.reason.lower())


def test_reason_names_the_gpu(availability):
    availability(True, False)
    assert "Test GPU" in dev.choose_device().reason


def test_verbose_says_which_device_and_why(availability, capsys):
    availability(False, False)
    dev.get_device(verbose=True)
    line = capsys.readouterr().out.strip()
    assert line.startswith("Using cpu:")
    assert "no CUDA" in line


def test_prefer_and_environment_override(availability, monkeypatch):
    availability(True, True)
    assert dev.get_device(prefer="cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    assert dev.get_device() == torch.device("mps")


def test_prefer_unavailable_or_unknown_is_a_clear_error(availability):
    availability(False, False)
    with pytest.raises(ValueError, match=r"prefer='cuda'.*no cuda device"):
        dev.get_device(prefer="cuda")
    with pytest.raises(ValueError, match=r"prefer='gpu'.*cuda, mps, cpu"):
        dev.get_device(prefer="gpu")


@pytest.mark.parametrize(
    "course_smoke, ci, expected",
    [
        (None, None, False),
        ("1", None, True),
        ("true", None, True),
        ("0", None, False),
        (None, "true", True),
        (None, "1", True),
        (None, "false", False),
        (None, "github-actions", True),
        ("0", "true", False),  # an explicit COURSE_SMOKE wins over CI
        ("1", "false", True),
    ],
)
def test_smoke_mode_from_each_variable(monkeypatch, course_smoke, ci, expected):
    for name, value in (("COURSE_SMOKE", course_smoke), ("CI", ci)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert dev.smoke_mode() is expected
    assert dev.for_mode(full="full", smoke="smoke") == ("smoke" if expected else "full")


def test_unreadable_course_smoke_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "maybe")
    with pytest.raises(ValueError, match="COURSE_SMOKE='maybe'"):
        dev.smoke_mode()


def _draws():
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        torch.randn(3).tolist(),
        torch.randperm(10).tolist(),
    )


def test_seeding_makes_two_runs_equal():
    dev.seed_everything(123)
    first = _draws()
    dev.seed_everything(123)
    second = _draws()
    assert first == second


def test_different_seeds_give_different_runs():
    dev.seed_everything(1)
    first = _draws()
    dev.seed_everything(2)
    assert _draws() != first


def test_seeding_makes_two_trainings_equal():
    def train() -> torch.Tensor:
        dev.seed_everything(7)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        data = torch.randn(32, 4)
        for _ in range(5):
            optimizer.zero_grad()
            model(data).pow(2).mean().backward()
            optimizer.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(train(), train())


def test_deterministic_flag_turns_on_deterministic_algorithms():
    before = torch.are_deterministic_algorithms_enabled()
    try:
        dev.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True, None])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        dev.seed_everything(seed)


def test_is_colab_follows_google_colab_module(monkeypatch):
    import sys
    import types

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert dev.is_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert dev.is_colab() is True


def test_describe_environment_reports_what_the_design_asks(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    report = dev.describe_environment()
    for key in ("python", "torch", "torchvision", "cv2", "ipywidgets", "device", "cpu threads", "smoke mode"):
        assert key in report
    assert report["torch"] == torch.__version__
    assert report["device"] == str(dev.get_device())
    assert report["smoke mode"] == "True"
    assert report["cpu threads"] == str(torch.get_num_threads())
    lines = str(report).splitlines()
    assert len(lines) == len(report)
    assert lines[0].startswith("python")
