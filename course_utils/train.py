"""Train one of the course's models from the command line, on one process or several.

    python -m course_utils.train --model lenet5 --data mnist --epochs 3
    torchrun --nproc_per_node=2 -m course_utils.train --model lenet5 --data mnist --epochs 3

Under torchrun every process runs this same script; `training.fit` sees torchrun's settings and
trains with DistributedDataParallel (gloo on CPUs, NCCL on GPUs, one GPU per process). The README's
"Training on several GPUs or machines" section gives the commands for several machines; the ideas
are taught in notebooks/10_beyond_one_machine.ipynb.

`--checkpoint FILE` saves every epoch and resumes from FILE when it exists, with any number of
processes. `--history FILE` writes the data's name and the per-epoch results as JSON (rank 0 only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed
from torch.utils.data import DataLoader

from . import data, models, settings, training
from .device import get_device, seed_everything

__all__ = ["main", "parser", "MODELS", "DATASETS"]

# name: (builder taking num_classes, the datasets it fits)
MODELS = {
    "lenet5": (lambda n: models.LeNet5(num_classes=n), ("mnist",)),
    "lenet5-bn": (lambda n: models.LeNet5(num_classes=n, batch_norm=True), ("mnist",)),
    "alexnet": (lambda n: models.AlexNet(num_classes=n), ("cats-vs-dogs",)),
    "vgg11": (lambda n: models.vgg("A", num_classes=n), ("cats-vs-dogs",)),
    "googlenet": (lambda n: models.GoogLeNet(num_classes=n), ("cats-vs-dogs",)),
    "resnet18": (lambda n: models.resnet18(num_classes=n), ("cats-vs-dogs",)),
    "resnet34": (lambda n: models.resnet34(num_classes=n), ("cats-vs-dogs",)),
    "densenet121": (lambda n: models.densenet121(num_classes=n), ("cats-vs-dogs",)),
}
DATASETS = ("mnist", "cats-vs-dogs")
MAX_IMAGE_SIZE = 1024


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=list(MODELS), help="the architecture (course_utils.models)")
    p.add_argument("--data", required=True, choices=DATASETS,
                   help="mnist (digits, 28x28 grey) or cats-vs-dogs (RGB); offline each falls back and says so")
    p.add_argument("--data-folder", help="cats-vs-dogs only: a folder of Kaggle's train images (cat.N.jpg, dog.N.jpg)")
    p.add_argument("--image-size", type=int, default=64, help="cats-vs-dogs only: image side in pixels (default 64)")
    p.add_argument("--epochs", type=int, default=3, help="epochs in all, counting those a checkpoint already holds")
    p.add_argument("--batch-size", type=int, default=64, help="examples per process and step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 0.001)")
    p.add_argument("--scale-lr", action="store_true",
                   help="multiply the learning rate by the number of processes (the linear scaling rule)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--momentum", type=float, default=0.9, help="sgd only (default 0.9)")
    p.add_argument("--limit", type=int, help="use only the first N training and N validation examples")
    p.add_argument("--no-shuffle", action="store_true", help="read the training examples in order")
    p.add_argument("--checkpoint", type=Path, help="save every epoch here; resume from it if it exists")
    p.add_argument("--history", type=Path, help="write the per-epoch results here as JSON")
    p.add_argument("--device", choices=settings.DEVICE_KINDS, help="default: COURSE_DEVICE, else the best available")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per training process")
    p.add_argument("--seed", type=int, default=0)
    return p


def _check(args, p: argparse.ArgumentParser) -> None:
    fits = MODELS[args.model][1]
    if args.data not in fits:
        suited = [name for name, (_, datasets) in MODELS.items() if args.data in datasets]
        p.error(f"--model {args.model} does not fit --data {args.data}; for {args.data} use one of: {', '.join(suited)}")
    for name in ("epochs", "batch_size", "image_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        p.error(f"--limit must be a positive integer, got {args.limit}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error(f"--lr must be a positive, finite number, got {args.lr}")
    if not (0 <= args.momentum < 1):
        p.error(f"--momentum must be at least 0 and below 1, got {args.momentum}")
    if args.workers < 0:
        p.error(f"--workers must be 0 or more, got {args.workers}")
    if args.image_size > MAX_IMAGE_SIZE:
        p.error(f"--image-size {args.image_size} is more than {MAX_IMAGE_SIZE} pixels a side; the course trains on "
                "64 to 224")
    given = set(_given(p, args))
    if args.optimizer != "sgd" and "momentum" in given:
        p.error("--momentum is for --optimizer sgd; Adam keeps its own running averages")
    if args.data != "cats-vs-dogs" and ("data_folder" in given or "image_size" in given):
        p.error("--data-folder and --image-size are for --data cats-vs-dogs; MNIST's digits are 28x28")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: this machine has no CUDA GPU (torch.cuda.is_available() is False); use --device cpu")
    if args.device == "mps" and not torch.backends.mps.is_available():
        p.error("--device mps: this machine has no Apple-silicon GPU; use --device cpu")
    for name in ("checkpoint", "history"):
        problem = _unwritable(getattr(args, name))
        if problem:
            p.error(f"--{name} {getattr(args, name)}: {problem}")


def _given(p: argparse.ArgumentParser, args) -> list[str]:
    """The options whose value differs from the default: those the command line set."""
    return [name for name, value in vars(args).items() if value != p.get_default(name)]


def _unwritable(path: Path | None) -> str | None:
    """Why `path` could not be written at the end of an epoch (None when it can), found before training."""
    if path is None:
        return None
    if path.is_dir():
        return "is a folder; name a file in it, such as run.pt"
    if path.exists() and not path.is_file():
        return "is not a regular file (a device or a pipe); name a file"
    folder = path.parent
    while not folder.exists():  # the folders fit makes
        folder = folder.parent
    try:  # the one sure test: write a file there (access() says yes to root on /proc, say)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"cannot be written: no file can be made in {folder} ({error.strerror})"
    if path.exists() and not os.access(path, os.W_OK):
        return "exists and cannot be written"
    return None


def datasets(args):
    if args.data == "mnist":
        train, val = data.mnist(train=True), data.mnist(train=False)
    else:
        train = data.cats_vs_dogs(train=True, image_size=args.image_size, folder=args.data_folder)
        val = data.cats_vs_dogs(train=False, image_size=args.image_size, folder=args.data_folder)
    if args.limit is not None:  # the first examples, keeping the name of the data (`source`)
        train = data.Transformed(train, indices=range(min(args.limit, len(train))))
        val = data.Transformed(val, indices=range(min(args.limit, len(val))))
    return train, val


def main(argv: list[str] | None = None) -> training.History:
    p = parser()
    args = p.parse_args(argv)
    _check(args, p)
    place, device = training.start_distributed(args.device or settings.device())
    device = device if device is not None else get_device()
    world = place.world_size if place is not None else 1
    main_process = place is None or place.rank == 0  # the one that prints and writes
    seed_everything(args.seed)
    first_on_machine = place is None or place.local_rank == 0
    if not first_on_machine:
        torch.distributed.barrier()  # wait until this machine's first process has downloaded the data
    train_set, val_set = datasets(args)
    if place is not None and first_on_machine:
        torch.distributed.barrier()
    source = getattr(train_set, "source", args.data)
    model = MODELS[args.model][0](2 if args.data == "cats-vs-dogs" else 10)
    lr = args.lr * world if args.scale_lr else args.lr
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=args.momentum)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if main_process:
        print(f"{args.model} on {source}: {len(train_set)} training and {len(val_set)} validation examples; "
              f"{world} process(es) on {device}; learning rate {lr:g}")
    # A last batch of one example teaches nothing and batch normalisation cannot take it: leave it out.
    lone_last = math.ceil(len(train_set) / world) % args.batch_size == 1
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=not args.no_shuffle, num_workers=args.workers,
                              drop_last=lone_last)
    val_loader = DataLoader(val_set, batch_size=256, num_workers=args.workers)
    try:
        history = training.fit(model, train_loader, val_loader, epochs=args.epochs, optimizer=optimizer, device=device,
                               checkpoint=args.checkpoint, live=False)
        if place is not None and torch.distributed.is_initialized():
            # every process done before any leaves: torch 2.2's gloo could hang at exit in one process whose
            # partner had already taken the group down (seen by make compat, nearly every run)
            torch.distributed.barrier()
    finally:
        if place is not None and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if args.history is not None and main_process:
        args.history.parent.mkdir(parents=True, exist_ok=True)
        args.history.write_text(json.dumps({"processes": world, "data": source, "epochs": history.epochs}, indent=1), encoding="utf-8")
    return history


if __name__ == "__main__":
    main()
