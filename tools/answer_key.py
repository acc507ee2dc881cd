"""The answer key of every checked exercise: how the right answer is computed, for each variant.

    python -m tools.answer_key           # write course_utils/exercise_bank.json from this key
    python -m tools.answer_key --check   # exit 1 if the bank is out of date

Each exercise's right answer is computed here by the course's own functions (or PyTorch), from the
exercise's numbers, never copied from a notebook. The grader (tools/grade.py) computes every expected
value from this module, loaded before any hand-in runs; the notebooks never see it. What students
get is the bank: hints, numbers and salted hashes (course_utils/exercises.py), and their notebooks'
check cells name only the exercise: `check("03.1", answer)`.

Variants: exercises of notebooks 03 and 06 give each student their own numbers. Variant 0 is the
lecture's example, which the notebooks' worked solutions use in CI. The others are drawn once, with
a fixed seed, and kept only where the right answer is well inside its rounding step (so that an
honest answer a little off in its last digit is not judged by luck).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from torchvision import transforms

from course_utils import by_hand, models, shapes, weights
from course_utils import exercises as ex
from course_utils.coding import CODING, small_cnn
from course_utils.models import count_parameters

VARIANTS = 12  # numbers per exercise with variants, the lecture's included


@dataclass(frozen=True)
class Item:
    """One checked exercise: its right answer as a function of its numbers, its hint and precision."""

    answer: Callable[..., Any]
    hint: str
    decimals: int | None = None              # None: whole numbers, compared exactly
    variants: tuple[dict, ...] = field(default=({},))


def _draw(first: dict, draw: Callable[[random.Random], dict], seed: str, keep=lambda numbers: True) -> tuple[dict, ...]:
    """The lecture's numbers, then distinct numbers drawn with a fixed seed until there are VARIANTS."""
    rng = random.Random(seed)
    found = [first]
    for _ in range(10_000):
        if len(found) == VARIANTS:
            break
        numbers = draw(rng)
        if numbers not in found and keep(numbers):
            found.append(numbers)
    return tuple(found)


def _same_padding_total(n, k, stride):
    return tuple(shapes.tf_padding(n, k, stride, "SAME")[1:])


def _meta(build):
    """Build a module on PyTorch's meta device: shapes and counts, no weights to initialise."""
    with torch.device("meta"):
        return build()


def _tanh_slope_peak():
    grid = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
    torch.tanh(grid).sum().backward()
    slope = grid.grad.numpy()
    return float(slope.max()), float(np.round(grid.detach().numpy()[slope.argmax()], 12))


def _alexnet_after_features(size: int) -> int:
    model = _meta(torchvision.models.alexnet)
    return model.features(torch.zeros(1, 3, size, size, device="meta")).shape[-1]


def _alexnet_dense_share() -> float:
    model = _meta(torchvision.models.alexnet)
    dense = sum(count_parameters(m) for m in model.modules() if isinstance(m, nn.Linear))
    return round(dense / count_parameters(model), 2)


def _resize_width(width: int, height: int, size: int) -> int:
    return transforms.Resize(size)(Image.new("RGB", (width, height))).size[0]


def _batches(images: int, batch_size: int) -> int:
    return len(DataLoader(range(images), batch_size=batch_size))


def _sampler_share(examples: int, processes: int) -> int:
    return len(list(DistributedSampler(range(examples), num_replicas=processes, rank=0, shuffle=False)))


def _small_cnn_map(size: int, layer: str) -> tuple[int, int]:
    """The map of notebooks/08's small CNN at `layer` (a name in its Sequential), by a pass on the meta device."""
    network = _meta(small_cnn)
    return tuple(network[: int(layer) + 1](torch.zeros(1, 3, size, size, device="meta")).shape[-2:])


KEY: dict[str, Item] = {
    # 01 From linear models to deep networks
    "01.1": Item(lambda: -math.log(0.5), "only the true class counts: -ln of its probability", decimals=3),
    "01.2": Item(lambda: _meta(lambda: nn.Linear(64 * 64 * 3, 512, bias=False)).weight.numel(),
                 "every input number connects to every unit"),
    "01.3": Item(_tanh_slope_peak, "1 - tanh(x)^2 is largest where tanh(x) is 0", decimals=4),
    "01.4": Item(lambda: nn.init.calculate_gain("linear") ** 2 * 2 / (300 + 100),
                 "sigma^2 = 2 / (n_in + n_out)", decimals=6),
    "01.5": Item(lambda: 2_500 * (0.6 / 0.2) ** 2, "the spread shrinks like 1/sqrt(n)"),
    # 02 Convolution by hand
    "02.1": Item(lambda: by_hand.corr2d([[0] * 28] * 28, [[0] * 5] * 5).shape,
                 "the kernel must stay inside the image: n - k + 1 along each axis"),
    "02.2": Item(lambda: by_hand.corr2d([[1, 2], [3, 4]], [[2]]),
                 "a 1x1 kernel multiplies every pixel by its one weight"),
    "02.3": Item(lambda: [[-1], [1]], "a vertical kernel with two rows; the top weight multiplies the pixel above"),
    "02.4": Item(lambda: shapes.conv_mult_adds(3, 64, 11, 55), "one output value needs in_channels x 11 x 11 multiplications"),
    # 03 Padding, stride and pooling: every student has their own numbers
    "03.1": Item(lambda n, k, stride, padding: shapes.conv_output_size(n, k, stride=stride, padding=padding),
                 "floor((n + 2p - k)/s) + 1",
                 variants=_draw({"n": 28, "k": 5, "stride": 2, "padding": 1},
                                lambda r: {"n": r.randrange(16, 65), "k": r.choice([3, 5, 7]), "stride": r.choice([2, 3]),
                                           "padding": r.randrange(0, 3)}, "03.1")),
    "03.2": Item(lambda k: shapes.same_padding(k), "the kernel adds k - 1 cells in all, split over two sides",
                 variants=tuple({"k": k} for k in (9, 3, 5, 7, 11, 13, 15, 17, 19, 21, 23, 25))),
    "03.3": Item(lambda region: next(d for d in range(1, 100) if shapes.receptive_field([(3, 1)] * d) == region),
                 "each 3x3 layer widens the view by 2 pixels",
                 variants=tuple({"region": r} for r in (11, 5, 7, 9, 13, 15, 17, 19, 21, 23, 25, 27))),
    "03.4": Item(lambda c_in, c_out, k: shapes.conv_params(c_in, c_out, k),
                 "out_channels x in_channels x k x k weights, plus one bias per output channel",
                 variants=_draw({"c_in": 64, "c_out": 128, "k": 3},
                                lambda r: {"c_in": r.choice([3, 16, 32, 48, 64, 96, 128]),
                                           "c_out": r.choice([16, 32, 64, 128, 192, 256]), "k": r.choice([1, 3, 5, 7])},
                                "03.4")),
    "03.5": Item(lambda n, k, stride: _same_padding_total(n, k, stride),
                 "the output is ceil(n / s); the total padding is (out - 1)s + k - n, extra zero on the right",
                 variants=_draw({"n": 20, "k": 4, "stride": 3},
                                lambda r: {"n": r.randrange(10, 41), "k": r.choice([2, 3, 4, 5, 6]), "stride": r.choice([2, 3])},
                                "03.5", keep=lambda v: sum(_same_padding_total(**v)) % 2 == 1)),
    # 04 AlexNet
    "04.1": Item(lambda: _resize_width(640, 480, 224), "the aspect ratio is kept: 640 x 224 / 480, rounded down"),
    "04.2": Item(lambda: _meta(torchvision.models.alexnet).features[3].weight.numel(),
                 "out_channels x in_channels x 5 x 5"),
    "04.3": Item(lambda: _alexnet_after_features(256), "apply the formula stage by stage, starting from 256"),
    "04.4": Item(_alexnet_dense_share, "add up the three Linear rows of the table", decimals=2),
    # 05 Architectures
    "05.1": Item(lambda: count_parameters(_meta(lambda: models.vgg("A")).features[0]), "64 filters of 3 x 3 x 3, plus 64 biases"),
    "05.2": Item(lambda: models.Inception(480, 192, 96, 208, 16, 48, 64).out_channels,
                 "the four branch outputs are stacked; reductions do not count"),
    "05.3": Item(lambda: shapes.conv_params(832, 128, 1, bias=False), "in_channels x out_channels x 1 x 1"),
    "05.4": Item(lambda: sum(len(getattr(_meta(models.resnet34), f"layer{i}")) for i in range(1, 5)), "3-4-6-3"),
    # 06 Training LeNet: every student has their own numbers
    "06.1": Item(lambda images, batch_size: _batches(images, batch_size), "divide and round up",
                 variants=_draw({"images": 60_000, "batch_size": 64},
                                lambda r: {"images": r.choice([50_000, 54_000, 60_000, 45_000, 48_000]),
                                           "batch_size": r.choice([24, 48, 96, 100, 128, 200, 256, 384])},
                                "06.1", keep=lambda v: v["images"] % v["batch_size"] != 0)),
    "06.2": Item(lambda classes: math.log(classes), "-ln of 1/(number of classes)", decimals=1,
                 variants=_draw({"classes": 2}, lambda r: {"classes": r.randrange(3, 1001)}, "06.2",
                                keep=lambda v: abs(math.log(v["classes"]) * 10 - round(math.log(v["classes"]) * 10)) < 0.25)),
    # 07 Transfer learning
    "07.1": Item(lambda: count_parameters(_meta(lambda: weights.classifier_head(
        models.resnet34(num_classes=2))[0])), "in_features x out_features + out_features"),
    # 08 What the network looks at
    "08.1": Item(lambda: shapes.conv_output_size(64, 16, 8) ** 2, "positions per axis by the output-size formula, then squared"),
    "08.2": Item(lambda: _small_cnn_map(64, "3"), "the second convolution works on the maps after the first 2x2 max pooling"),
    # 09 After ResNet
    "09.1": Item(lambda: (2 * 64, 2 * 64), "a scale and a shift per channel are learned; a running mean and a running "
                 "variance per channel are kept"),
    "09.2": Item(lambda: _meta(lambda: models.DenseNet(32, (6, 12, 32, 32), 64)).classifier.in_features,
                 "64 + 6 x 32, halve, + 12 x 32, halve, + 32 x 32, halve, + 32 x 32"),
    "09.3": Item(lambda: shapes.conv_params(512, 10, 1), "a weight per input channel per class, plus a bias per class"),
    # 10 Beyond one machine
    "10.1": Item(lambda: 4 * 8 * 32, "one process per GPU; every process takes its own batch"),
    "10.2": Item(lambda: 0.1 * 1024 / 256, "the learning rate grows by the same factor as the batch", decimals=6),
    "10.3": Item(lambda: _sampler_share(10, 3), "every process gets the same number; the sampler rounds up and repeats "
                 "examples to get there"),
    # 11 Efficient and designed CNNs
    "11.1": Item(lambda: count_parameters(nn.Conv2d(256, 256, 3, groups=32, bias=False)),
                 "each filter sees in_channels / groups channels, k x k weights each; there are out_channels filters"),
    "11.2": Item(lambda: 1 / 256 + 1 / 9, "depthwise k^2 C_in plus pointwise C_in C_out, over C_in C_out k^2", decimals=4),
    "11.3": Item(lambda: 64 // 8 * 14 * 14, "one example, the channels of one group, and every position of each"),
}


def expected(exercise: str, variant: int = 0) -> Any:
    """The right answer to one variant of an exercise, as plain data."""
    item = KEY[exercise]
    return ex.plain(item.answer(**item.variants[variant]))


def bank() -> dict:
    """The bank the package ships: hints, precision, numbers and hashed answers, no answer itself.

    Coding exercises (course_utils/coding.py) are listed by kind only: their reference is code.
    """
    entries = {}
    for exercise, item in KEY.items():
        answers = [expected(exercise, v) for v in range(len(item.variants))]
        entries[exercise] = {
            "hint": item.hint, "decimals": item.decimals, "kind": ex.kind(answers[0]), "shape": ex.shape(answers[0]),
            "variants": [{"numbers": numbers, "digest": ex.digest(exercise, v, ex.canonical(answer, item.decimals))}
                         for v, (numbers, answer) in enumerate(zip(item.variants, answers))],
        }
    for exercise, coding in CODING.items():
        entries[exercise] = {"hint": coding.hint, "decimals": None, "kind": "function", "shape": [], "variants": []}
    return {"format": 1, "iterations": ex.ITERATIONS, "exercises": dict(sorted(entries.items()))}


def bank_text() -> str:
    return json.dumps(bank(), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the bank is up to date")
    args = parser.parse_args(argv)
    text = bank_text()
    if args.check:
        current = ex.BANK.read_text(encoding="utf-8") if ex.BANK.exists() else ""
        if current != text:
            print(f"{ex.BANK.name} is out of date: run python -m tools.answer_key")
            return 1
        print(f"{ex.BANK.name} is up to date")
        return 0
    ex.BANK.write_text(text, encoding="utf-8")
    variants = sum(len(item.variants) for item in KEY.values())
    print(f"wrote {ex.BANK.name}: {len(KEY)} exercises with answers ({variants} variants), {len(CODING)} coding exercises")
    return 0


if __name__ == "__main__":
    sys.exit(main())
