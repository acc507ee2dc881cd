"""Bad input, generated: every public function of the package that a notebook calls with values (84 of
them: the arithmetic of by_hand and shapes, the checks, explanations, figures, models, datasets,
training, checkpoints and widgets) either works (with a finite result) or raises an error that names
the argument that was wrong, and never hangs.

Each function has one valid call below; Hypothesis replaces one argument of it at a time with a value
drawn from a list of usual mistakes (None, text, negative, zero, fractional, NaN, infinite, enormous,
empty, of the wrong shape) and checks what comes back; the census tries every mistake in every argument.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from course_utils import by_hand, compare, data, device, exercises, explain, models, plotting, shapes, training, weights, widgets


class Fresh:
    """An argument built anew for each call (a model that a call with a huge learning rate would spoil)."""

    def __init__(self, build):
        self.build = build


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

# notebook-level helpers: figures, models, data, training and widgets, each on inputs small enough to answer at once
SCRATCH = Path(tempfile.mkdtemp(prefix="bad-input-"))
torch.manual_seed(0)
def tiny():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))


TINY = Fresh(tiny)
LOADER = DataLoader(TensorDataset(torch.randn(8, 3, 2, 2), torch.randint(0, 3, (8,))), batch_size=4)
training.save_checkpoint(SCRATCH / "valid.pt", tiny())
HISTORY = training.History([{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4,
                             "seconds": 0.1}])
MAPS = torch.rand(4, 6, 6)
PHOTO = np.zeros((32, 32, 3), dtype=np.uint8)
CALLS.update({
    "plotting.show_image": (plotting.show_image, {"image": np.zeros((8, 8)), "title": "t", "cmap": "gray",
                                                  "vmin": 0.0, "vmax": 1.0}),
    "plotting.show_images": (plotting.show_images, {"images": [np.zeros((4, 4))] * 2, "titles": ["a", "b"], "ncols": 2,
                                                    "size": 1.0}),
    "plotting.show_matrix": (plotting.show_matrix, {"matrix": np.eye(3), "title": "t", "highlight": (0, 0, 2, 2),
                                                    "fmt": "{:.0f}"}),
    "plotting.show_filters": (plotting.show_filters, {"weight": torch.rand(4, 3, 3, 3), "n": 4, "ncols": 2, "size": 1.0}),
    "plotting.show_feature_maps": (plotting.show_feature_maps, {"maps": MAPS, "n": 4, "ncols": 2, "size": 1.0,
                                                                "scale": "each"}),
    "plotting.confusion_matrix": (plotting.confusion_matrix, {"targets": [0, 1, 1], "predictions": [0, 1, 0],
                                                              "num_classes": 2}),
    "plotting.plot_confusion_matrix": (plotting.plot_confusion_matrix, {"targets": [0, 1, 1], "predictions": [0, 1, 0],
                                                                        "class_names": ["cat", "dog"]}),
    "plotting.block_diagram": (plotting.block_diagram, {"branches": [["1x1 conv"], ["3x3 conv"]], "merge": "concatenate",
                                                        "title": "t", "top": "input"}),
    "plotting.plot_history": (plotting.plot_history, {"history": HISTORY}),
    "plotting.to_displayable": (plotting.to_displayable, {"image": np.zeros((4, 4, 3)), "name": "image"}),
    "plotting.normalise_each": (plotting.normalise_each, {"filters": np.random.rand(2, 3, 3, 3)}),
    "models.LeNet5": (models.LeNet5, {"num_classes": 10, "in_channels": 1, "batch_norm": False}),
    "models.AlexNet": (models.AlexNet, {"num_classes": 2, "dropout": 0.5, "variant": "torchvision"}),
    "models.Inception": (models.Inception, {"in_channels": 4, "ch1x1": 2, "ch3x3_reduce": 2, "ch3x3": 2,
                                            "ch5x5_reduce": 2, "ch5x5": 2, "pool_proj": 2}),
    "models.BasicBlock": (models.BasicBlock, {"in_channels": 4, "channels": 4, "stride": 1}),
    "models.Bottleneck": (models.Bottleneck, {"in_channels": 16, "channels": 4, "stride": 1}),
    "models.ResNet": (models.ResNet, {"block": models.BasicBlock, "layers": [1, 1, 1, 1], "num_classes": 2}),
    "models.DenseBlock": (models.DenseBlock, {"num_layers": 2, "in_channels": 4, "growth_rate": 2, "bn_size": 2}),
    "models.DenseNet": (models.DenseNet, {"growth_rate": 4, "block_config": (1, 1), "num_init_features": 8, "bn_size": 2,
                                          "num_classes": 2}),
    "models.AlphaGoPolicyNet": (models.AlphaGoPolicyNet, {"filters": 8, "planes": 4, "board": 9}),
    "models.stage_outputs": (models.stage_outputs, {"model": NETWORK, "x": IMAGE[None], "names": ["0", "1"]}),
    "models.count_parameters": (models.count_parameters, {"model": NETWORK, "trainable": False}),
    "models.layer_table": (models.layer_table, {"model": NETWORK, "input_size": (3, 16, 16)}),
    "data.sample_image": (data.sample_image, {"name": "cat"}),
    "data.load_image": (data.load_image, {"path": data.sample_image_path("cat")}),
    "data.imagenet_preprocess": (data.imagenet_preprocess, {"resize": 32, "crop": 32}),
    "data.cats_vs_dogs_transforms": (data.cats_vs_dogs_transforms, {"image_size": 32, "train": True,
                                                                    "crop_scale": (0.5, 1.0)}),
    "data.SyntheticCatsDogs": (data.SyntheticCatsDogs, {"count": 4, "seed": 0, "size": 32}),
    "data.PatternPatches": (data.PatternPatches, {"count": 4, "seed": 0, "size": 32, "patch": 8, "decoy": False}),
    "data.Transformed": (data.Transformed, {"dataset": TensorDataset(torch.zeros(4, 2)), "transform": None,
                                            "indices": [0, 1]}),
    "training.fit": (training.fit, {"model": TINY, "train_loader": LOADER, "val_loader": LOADER, "epochs": 1, "lr": 1e-3,
                                    "device": "cpu", "scheduler_step": None, "progress": False, "live": False,
                                    "amp": True, "aux_weight": 0.3, "distributed": False, "verbose": False}),
    "training.evaluate": (training.evaluate, {"model": TINY, "loader": LOADER, "device": "cpu"}),
    "training.predict": (training.predict, {"model": TINY, "loader": LOADER, "device": "cpu"}),
    "training.save_checkpoint": (training.save_checkpoint, {"path": SCRATCH / "saved.pt", "model": TINY, "epoch": 0}),
    "training.load_checkpoint": (training.load_checkpoint, {"path": SCRATCH / "valid.pt", "model": TINY,
                                                            "restore_rng": False}),
    "training.stale_temporaries": (training.stale_temporaries, {"path": SCRATCH / "valid.pt"}),
    "widgets.sliding_window_figure": (widgets.sliding_window_figure, {"X": ARRAY_2D, "K": KERNEL_2D, "stride": 1,
                                                                      "padding": 0, "step": 0}),
    "widgets.output_size_figure": (widgets.output_size_figure, {"n": 7, "kernel_size": 3, "stride": 1, "padding": 0,
                                                                "dilation": 1}),
    "widgets.function_and_derivative": (widgets.function_and_derivative, {"function": torch.tanh,
                                                                          "x": np.linspace(-1, 1, 5)}),
    "widgets.function_figure": (widgets.function_figure, {"name": "tanh", "function": torch.tanh, "x_range": (-2.0, 2.0)}),
    "widgets.feature_map_figure": (widgets.feature_map_figure, {"model": NETWORK, "image": PHOTO, "stage": "0",
                                                                "channel": 1}),
    "widgets.sliding_window_stepper": (widgets.sliding_window_stepper, {"example": "3x3 input, 2x2 kernel"}),
    "widgets.output_size_calculator": (widgets.output_size_calculator, {"n": 7, "kernel_size": 3, "stride": 3, "padding": 0,
                                                                        "dilation": 1}),
    "widgets.function_explorer": (widgets.function_explorer, {"functions": {"tanh": torch.tanh}, "x_range": (-2.0, 2.0)}),
    "compare.same": (compare.same, {"actual": np.arange(3), "expected": np.arange(3)}),
    "compare.report": (lambda checks: compare.report(checks), {"checks": {"equal": compare.same(1, 1)}}),  # positional
    "exercises.numbers": (exercises.numbers, {"exercise": "03.1"}),
    "exercises.check": (exercises.check, {"exercise": "01.1", "answer": 0}),
    "device.get_device": (device.get_device, {"prefer": "cpu", "verbose": False}),
    "weights.classifier_head": (weights.classifier_head, {"model": NETWORK}),
    "explain.layer_names": (explain.layer_names, {"model": NETWORK}),
    "data.ImageFiles": (data.ImageFiles, {"items": [(data.sample_image_path("cat"), 0)], "transform": None,
                                          "source": "image folder"}),
    "widgets.explanation_figure": (widgets.explanation_figure, {"model": NETWORK, "image": IMAGE, "target": 1,
                                                                "method": "saliency"}),
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
    arguments = {name: value.build() if isinstance(value, Fresh) else value for name, value in arguments.items()}
    try:
        with time_limit(SECONDS), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning is fine; what comes back is judged
            result = function(**arguments)
    except TimeoutError:
        return "hang"
    except (ValueError, TypeError, IndexError, FileNotFoundError) as error:
        return "clear" if argument in str(error) else f"vague: {type(error).__name__}: {str(error)[:160]}"
    except Exception as error:  # noqa: BLE001 - anything else is a failure to report, with its name
        return f"vague: {type(error).__name__}: {str(error)[:160]}"
    finally:
        plt.close("all")  # the figure functions' figures
    return "works" if _finite(result) else "silent non-finite"


@pytest.fixture(autouse=True, scope="module")
def in_scratch():
    """Paths such as 'seven' are written (a checkpoint) and read in a scratch folder, not the repository."""
    before = Path.cwd()
    os.chdir(SCRATCH)
    yield
    os.chdir(before)


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
