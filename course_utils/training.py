"""Training and evaluation loops with progress bars, live curves and resumable checkpoints.

Taught in notebooks/06_training_lenet_mnist.ipynb (the loop written out once by hand first) and
used in notebooks/07_training_dogs_vs_cats.ipynb. Under `torchrun` the same `fit` trains with
DistributedDataParallel (notebooks/10_beyond_one_machine.ipynb; `python -m course_utils.train`).

Checkpoints are written after every epoch, atomically (a temporary file, then a rename), and hold
the model, the optimiser, the scheduler, the history and the random-number state. `fit` called
again with the same checkpoint resumes after the last finished epoch and ends with the same
weights as a run that was never interrupted.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset
from tqdm.auto import tqdm

from . import settings
from .models import evaluation_mode, model_device

__all__ = ["History", "fit", "evaluate", "predict", "save_checkpoint", "load_checkpoint", "start_distributed"]


@dataclass
class History:
    """Per-epoch results of `fit`: one dict per epoch with epoch, train_loss, train_accuracy,
    val_loss, val_accuracy (None without validation data) and seconds."""

    epochs: list[dict] = field(default_factory=list)
    interrupted: bool = False

    def _column(self, key: str) -> list:
        return [row[key] for row in self.epochs]

    @property
    def train_loss(self) -> list[float]:
        return self._column("train_loss")

    @property
    def train_accuracy(self) -> list[float]:
        return self._column("train_accuracy")

    @property
    def val_loss(self) -> list[float | None]:
        return self._column("val_loss")

    @property
    def val_accuracy(self) -> list[float | None]:
        return self._column("val_accuracy")

    @property
    def seconds(self) -> list[float]:
        return self._column("seconds")

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epochs)"
        last = self.epochs[-1]
        val = "" if last["val_accuracy"] is None else f", val_accuracy={last['val_accuracy']:.4f}"
        return (f"History({len(self.epochs)} epochs, train_loss={last['train_loss']:.4f}, "
                f"train_accuracy={last['train_accuracy']:.4f}{val}{', interrupted' if self.interrupted else ''})")


# ----------------------------------------------------------------------------- checkpoints
def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, epoch: int = 0,
                    history: History | None = None, scaler=None) -> Path:
    """Write a checkpoint atomically: a crash while writing leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "history": None if history is None else history.epochs,
        "rng": _rng_state(),
    }
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def load_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, scaler=None,
                    restore_rng: bool = True) -> tuple[int, History]:
    """Load a checkpoint into model (and optimizer, scheduler); return (epochs done, history)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"cannot read checkpoint {path}: {error}; delete it to start from scratch") from error
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} was written for a different model: {str(error).splitlines()[0]}") from error
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng and state.get("rng") is not None:
        _set_rng_state(state["rng"])
    return int(state["epoch"]), History(list(state.get("history") or []))


# ----------------------------------------------------------------------------- several processes
def start_distributed(device=None):
    """Join the process group of a run started by torchrun; return (Distributed, device), or (None, device)
    when this process was not started by torchrun.

    The backend is NCCL when the device is a GPU (each process takes the GPU of its LOCAL_RANK) and gloo
    on the CPU. Calling it again in the same process reuses the group.
    """
    place = settings.distributed()
    if place is None:
        return None, device
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; run without torchrun")
    kind = torch.device(device).type if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        if place.local_rank >= torch.cuda.device_count():
            raise ValueError(f"process LOCAL_RANK={place.local_rank} has no GPU of its own: this machine has "
                             f"{torch.cuda.device_count()}; start at most that many processes per machine "
                             "(--nproc_per_node=gpu), or train on the CPU (--device cpu)")
        device = torch.device("cuda", place.local_rank)
        torch.cuda.set_device(device)
    elif kind == "mps":
        raise ValueError("device 'mps' cannot train with several processes (torch.distributed has no MPS backend); use cpu")
    else:
        device = torch.device(kind)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    return place, device


def _sharded(loader, place, training: bool):
    """The same DataLoader, but each process reads its own share of the examples: a DistributedSampler
    for training (every process gets the same number of batches, as DDP needs), a plain every-n-th
    slice for evaluation (no example counted twice)."""
    if not isinstance(loader, DataLoader):
        raise ValueError(f"with several processes the loaders must be torch DataLoaders (fit gives each process its "
                         f"share of the dataset), got {type(loader).__name__}")
    if not training:  # evaluation: each example once, in order
        dataset = Subset(loader.dataset, range(place.rank, len(loader.dataset), place.world_size))
        sampler = None
    else:
        dataset = loader.dataset
        sampler = DistributedSampler(dataset, num_replicas=place.world_size, rank=place.rank,
                                     shuffle=isinstance(loader.sampler, RandomSampler), drop_last=False)
    return DataLoader(dataset, batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last)


def _backend() -> str:
    return dist.get_backend() if dist.is_available() and dist.is_initialized() else "none"


def _summed(values: list[float], device) -> list[float]:
    """Sums of `values` over all processes (the values themselves in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


# ----------------------------------------------------------------------------- loops
def _in_notebook() -> bool:
    """True in a Jupyter kernel: JupyterLab's shell, or a subclass of it such as Colab's."""
    if "IPython" not in sys.modules:
        return False
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
    except ImportError:  # no kernel package: not in a notebook
        return False
    return isinstance(sys.modules["IPython"].get_ipython(), ZMQInteractiveShell)


def _progress(iterable, **kwargs):
    return tqdm(iterable, **kwargs)


def _loss_of(outputs, targets, loss_fn, aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and main logits; a tuple output (GoogLeNet's auxiliary classifiers) adds aux_weight x their losses."""
    if isinstance(outputs, (tuple, list)):
        main, *aux = outputs
        loss = loss_fn(main, targets) + aux_weight * sum(loss_fn(a, targets) for a in aux)
        return loss, main
    return loss_fn(outputs, targets), outputs


def evaluate(model: nn.Module, loader, device=None, loss_fn: Callable | None = None) -> dict:
    """Mean loss and accuracy of `model` on `loader`, in evaluation mode without gradients (the model
    is given back in the mode it had)."""
    device = torch.device(device) if device is not None else model_device(model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    total_loss, correct, count = 0.0, 0, 0
    with evaluation_mode(model), torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            total_loss += loss_fn(outputs, targets).item() * len(targets)
            correct += (outputs.argmax(dim=1) == targets).sum().item()
            count += len(targets)
    total_loss, correct, count = _summed([total_loss, correct, count], device)  # over all processes, if several
    if count == 0:
        raise ValueError("loader is empty: evaluate needs at least one batch")
    return {"loss": total_loss / count, "accuracy": correct / count}


def predict(model: nn.Module, loader, device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(targets, predicted classes, probabilities) for every example of `loader`, on the CPU, in
    evaluation mode (the model is given back in the mode it had)."""
    device = torch.device(device) if device is not None else model_device(model)
    targets, probabilities = [], []
    with evaluation_mode(model), torch.no_grad():
        for inputs, labels in loader:
            probabilities.append(torch.softmax(model(inputs.to(device)), dim=1).cpu())
            targets.append(labels.cpu())
    if not probabilities:
        raise ValueError("loader is empty: predict needs at least one batch")
    probabilities = torch.cat(probabilities)
    return torch.cat(targets), probabilities.argmax(dim=1), probabilities


class _LivePlot:
    """Loss and accuracy curves redrawn in place after every epoch (in a notebook only)."""

    def __init__(self):
        from IPython.display import display

        self.handle = display(None, display_id=True)

    def update(self, history: History) -> None:
        import matplotlib.pyplot as plt

        from .plotting import plot_history

        fig = plot_history(history)
        self.handle.update(fig)
        plt.close(fig)


# Schedulers whose schedule is counted in batches (OneCycleLR's total_steps, CyclicLR's step_size_up).
PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)


def _scheduler_step(scheduler, scheduler_step: str | None) -> str:
    if scheduler_step is None:
        return "batch" if isinstance(scheduler, PER_BATCH_SCHEDULERS) else "epoch"
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch', 'batch' or None (chosen from the scheduler), got {scheduler_step!r}")
    return scheduler_step


@dataclass
class _Run:
    """What one call of `fit` trains with, set up once by `_prepare`."""

    model: nn.Module
    network: nn.Module  # the model, or its DistributedDataParallel wrapper
    train_loader: object
    val_loader: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    scheduler_step: str
    loss_fn: Callable
    device: torch.device
    scaler: object
    use_amp: bool
    aux_weight: float
    checkpoint: object
    place: object  # where this process sits in a torchrun job, or None
    bars: bool  # progress bars
    verbose: bool  # one line per epoch
    live: bool  # curves redrawn after every epoch
    live_plot: object = None

    @property
    def main(self) -> bool:
        return self.place is None or self.place.rank == 0


def _prepare(model, train_loader, val_loader, epochs, optimizer, lr, loss_fn, device, scheduler, scheduler_step,
             checkpoint, progress, verbose, live, amp, aux_weight, distributed) -> _Run:
    """Check the arguments, join torchrun's processes, choose the device and build what training needs."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    scheduler_step = _scheduler_step(scheduler, scheduler_step)
    place = None
    if distributed is not False:
        place, device = start_distributed(device)
        if distributed and place is None:
            raise ValueError("distributed=True needs a run started by torchrun (RANK and WORLD_SIZE are not set); "
                             "start it with `torchrun --nproc_per_node=N ...` or leave distributed=None")
    device = torch.device(device) if device is not None else model_device(model)
    model.to(device)
    use_amp = amp and device.type == "cuda"
    main = place is None or place.rank == 0
    return _Run(model=model, network=model, train_loader=train_loader, val_loader=val_loader,
                optimizer=optimizer or torch.optim.Adam(model.parameters(), lr=lr), scheduler=scheduler,
                scheduler_step=scheduler_step, loss_fn=loss_fn or nn.CrossEntropyLoss(), device=device,
                scaler=torch.amp.GradScaler("cuda") if use_amp else None, use_amp=use_amp, aux_weight=aux_weight,
                checkpoint=checkpoint, place=place, bars=progress and main,
                verbose=(progress if verbose is None else verbose) and main,
                live=main and (live if live is not None else _in_notebook()))


def _resume(run: _Run, epochs: int) -> tuple[int, History]:
    """(epochs already done, their history): from the checkpoint when there is one, else (0, empty)."""
    if run.checkpoint is None or not Path(run.checkpoint).is_file():
        return 0, History()
    start, history = load_checkpoint(run.checkpoint, run.model, run.optimizer, run.scheduler, run.scaler)
    if run.main:
        name = Path(run.checkpoint).name
        print(f"Checkpoint {name} already holds {start} epochs; nothing to train." if start >= epochs else
              f"Resuming from {name}: {start} epoch(s) done, training epochs {start + 1} to {epochs}.")
    return start, history


def _prepare_for_processes(run: _Run) -> None:
    """Under torchrun: wrap the model in DistributedDataParallel and give each process its share of the data."""
    if run.place is None:
        return
    # Wrapping copies rank 0's weights to every process; each backward pass then averages the gradients.
    run.network = DistributedDataParallel(run.model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    run.train_loader = _sharded(run.train_loader, run.place, training=True)
    run.val_loader = None if run.val_loader is None else _sharded(run.val_loader, run.place, training=False)
    if run.main:
        print(f"Training on {run.place.world_size} processes ({_backend()}): {run.train_loader.batch_size} examples "
              f"per process and step, {run.place.world_size * run.train_loader.batch_size} in all.")


def _train_step(run: _Run, inputs, targets, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch: forward, the NaN check, backward, the optimiser (and a per-batch scheduler); returns the
    loss and the logits, detached."""
    run.optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=run.device.type, enabled=run.use_amp):
        loss, logits = _loss_of(run.network(inputs), targets, run.loss_fn, run.aux_weight)
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {loss.item()} at epoch {epoch}, batch {step}; lower the learning rate "
            f"(now {run.optimizer.param_groups[0]['lr']:g}) or check the data. "
            + (f"The checkpoint keeps epoch {epoch - 1}." if run.checkpoint is not None else ""))
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        loss.backward()
        run.optimizer.step()
    if run.scheduler is not None and run.scheduler_step == "batch":
        run.scheduler.step()
    return loss.detach(), logits.detach()


def _train_one_epoch(run: _Run, epoch: int, epochs: int) -> dict:
    """One pass over the training data; its mean loss and accuracy over all processes."""
    sampler = getattr(run.train_loader, "sampler", None)  # a DataLoader's; any iterable of batches will do
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
    run.model.train()
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), device=run.device, dtype=torch.long)
    count = 0
    batches = _progress(run.train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not run.bars)
    try:
        for step, (inputs, targets) in enumerate(batches):
            inputs, targets = inputs.to(run.device, non_blocking=True), targets.to(run.device, non_blocking=True)
            loss, logits = _train_step(run, inputs, targets, epoch, step)
            loss_sum += loss * len(targets)
            correct += (logits.argmax(dim=1) == targets).sum()
            count += len(targets)
    finally:
        if hasattr(batches, "close"):
            batches.close()
    loss_total, correct_total, count = _summed([loss_sum.item(), correct.item(), count], run.device)
    if count == 0:
        raise ValueError("train_loader is empty: fit needs at least one batch")
    if run.scheduler is not None and run.scheduler_step == "epoch":
        run.scheduler.step()
    return {"train_loss": loss_total / count, "train_accuracy": correct_total / count}


def _validate(run: _Run) -> dict:
    if run.val_loader is None:
        return {"val_loss": None, "val_accuracy": None}
    result = evaluate(run.model, run.val_loader, run.device, run.loss_fn)
    return {"val_loss": result["loss"], "val_accuracy": result["accuracy"]}


def _report(run: _Run, row: dict, epochs: int, history: History) -> None:
    """The epoch's line (with `verbose`) and the live curves (in a notebook)."""
    if run.verbose:
        val = "" if row["val_accuracy"] is None else f", val loss {row['val_loss']:.4f}, val accuracy {row['val_accuracy']:.4f}"
        print(f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}, train accuracy "
              f"{row['train_accuracy']:.4f}{val} ({row['seconds']:.1f} s)")
    if run.live_plot is not None:
        run.live_plot.update(history)


def _save(run: _Run, epoch: int, history: History) -> None:
    if run.checkpoint is not None and run.main:
        save_checkpoint(run.checkpoint, run.model, run.optimizer, run.scheduler, epoch, history, run.scaler)


def _interrupted(run: _Run, history: History, epoch: int) -> History:
    kept = f"; {Path(run.checkpoint).name} keeps epoch {epoch - 1}, call fit again to resume" if run.checkpoint else ""
    print(f"Interrupted during epoch {epoch}{kept}.")
    history.interrupted = True
    return history


def fit(
    model: nn.Module,
    train_loader,
    val_loader=None,
    epochs: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    loss_fn: Callable | None = None,
    device=None,
    scheduler=None,
    scheduler_step: str | None = None,
    checkpoint=None,
    progress: bool = True,
    live: bool | None = None,
    amp: bool = True,
    aux_weight: float = 0.3,
    distributed: bool | None = None,
    verbose: bool | None = None,
) -> History:
    """Train `model` for `epochs` epochs and return its History.

    Adam with learning rate `lr` unless an optimizer is given; cross-entropy unless a loss_fn is
    given. A `scheduler` steps once per epoch, or once per batch with `scheduler_step="batch"`, which is
    the default for schedulers made to step per batch (OneCycleLR, CyclicLR). With `checkpoint` (a
    file path) every finished epoch is saved there and a later call resumes after the last saved epoch.
    `progress` shows a bar for each epoch, and `verbose` (default: the same as `progress`) prints one line
    per finished epoch, so `progress=False` alone trains silently; `live` curves are drawn in a notebook
    (default: when running in one). Mixed precision is used on CUDA when `amp`. A NaN loss stops
    training with an error; Ctrl-C stops it and returns the history so far, the checkpoint keeping the
    last finished epoch. The model comes back in evaluation mode, ready to use.

    Started by `torchrun` (or with `distributed=True`), each process trains a DistributedDataParallel copy
    of the model on its own share of every epoch (a DistributedSampler, reshuffled each epoch), so the
    effective batch is the number of processes times the loader's batch size; the gradients are averaged
    across processes at every step. Losses and accuracies are summed over all processes, and only rank 0
    prints and writes the checkpoint, which holds the plain model: it resumes with any number of
    processes, one included. `distributed=False` ignores torchrun's settings.
    """
    run = _prepare(model, train_loader, val_loader, epochs, optimizer, lr, loss_fn, device, scheduler, scheduler_step,
                   checkpoint, progress, verbose, live, amp, aux_weight, distributed)
    start, history = _resume(run, epochs)
    if start >= epochs:
        return history
    _prepare_for_processes(run)
    run.live_plot = _LivePlot() if run.live else None
    for epoch in range(start + 1, epochs + 1):
        began = time.perf_counter()
        try:
            row = {"epoch": epoch, **_train_one_epoch(run, epoch, epochs), **_validate(run)}
        except KeyboardInterrupt:
            return _interrupted(run, history, epoch)
        row["seconds"] = time.perf_counter() - began
        history.epochs.append(row)
        _save(run, epoch, history)
        _report(run, row, epochs, history)
    model.eval()  # ready to use
    return history
