"""Training and evaluation loops with progress bars, live curves and resumable checkpoints.

Taught in notebooks/06_training_lenet_mnist.ipynb (the loop written out once by hand first) and
used in notebooks/07_training_dogs_vs_cats.ipynb. Under `torchrun` the same `fit` trains with
DistributedDataParallel (notebooks/10_beyond_one_machine.ipynb; `python -m course_utils.train`).

Checkpoints are written after every epoch, atomically (a temporary file, then a rename), and hold
the model, the optimiser, the scheduler, the history and the random-number state, as plain data
(loaded with `weights_only=True`, so that a checkpoint from someone else cannot run code). `fit` called
again with the same checkpoint resumes after the last finished epoch and ends with the same
weights as a run that was never interrupted.

What a resume takes from where: the weights, the optimiser's running state (momentum, Adam's
averages), the schedule, the history and the random numbers come from the checkpoint; the learning
rate and the optimiser's other settings come from the call, unless a scheduler is given, which then
sets the learning rate as the schedule says. `fit` prints one line saying which. The optimiser and
the scheduler must be of the kinds the checkpoint was trained with (a resume continues one run); to
start a new run from trained weights, load them with `load_checkpoint(path, model)` and train with
another checkpoint path. One run at a time may write a checkpoint: a second is refused.
"""

from __future__ import annotations

import errno
import os
import pickle
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from filelock import FileLock, Timeout
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset
from tqdm.auto import tqdm

from . import _arguments, settings
from .models import evaluation_mode, model_device

__all__ = ["History", "fit", "evaluate", "predict", "save_checkpoint", "load_checkpoint", "stale_temporaries",
           "start_distributed", "watch_the_launcher", "CHECKPOINT_FORMAT"]


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
CHECKPOINT_FORMAT = 2  # 2: plain data only, with the optimizer's and scheduler's kinds
MAX_EPOCHS = 100_000  # more is a typo: a run of that many epochs would not end
TEMPORARY_SUFFIX = ".tmp"

def _rng_state() -> dict:
    """Every random-number generator's state, as plain data (tensors, numbers, tuples)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached)}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.int64).astype(np.uint32), position, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _size_of(state) -> int:
    """Bytes of the tensors in a (nested) state: about what the checkpoint needs on the disk."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(_size_of(value) for value in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_size_of(value) for value in state)
    return 0


def _write_error(path: Path, error: BaseException, needed: int) -> OSError:
    """The error to raise when writing a checkpoint failed: a full disk said in words."""
    free = shutil.disk_usage(path.parent).free
    full = (isinstance(error, OSError) and error.errno == errno.ENOSPC) or free < needed + (1 << 20)
    if full:
        return OSError(errno.ENOSPC, f"no space left on the disk while writing checkpoint {path} ({free / 1e6:.0f} MB "
                                     f"free, about {needed / 1e6:.0f} MB needed); the previous checkpoint is intact")
    return OSError(f"could not write checkpoint {path} ({type(error).__name__}: {error}); the previous checkpoint "
                   "is intact")


def save_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, epoch: int = 0,
                    history: History | None = None, scaler=None) -> Path:
    """Write a checkpoint atomically: a crash while writing leaves the previous checkpoint intact. The
    file gets the usual permissions (those of a new file under the umask)."""
    path, model = _arguments.path("path", path), _arguments.module("model", model)
    epoch = _arguments.whole("epoch", epoch, 0, MAX_EPOCHS)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "optimizer_type": None if optimizer is None else type(optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scheduler_type": None if scheduler is None else type(scheduler).__name__,
        "scaler": None if scaler is None else scaler.state_dict(),
        "history": None if history is None else history.epochs,
        "rng": _rng_state(),
    }
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's are private (0600)
        _replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, (OSError, RuntimeError)):  # torch reports a full disk as a RuntimeError
            raise _write_error(path, error, _size_of(state)) from error
        raise
    return path


REPLACE_TRIES = 6


def _replace(temporary: str, path: Path) -> None:
    """Rename the finished file onto the checkpoint (atomic on POSIX and Windows). On Windows the rename
    fails while another program has the old checkpoint open (a notebook loading it, a virus scanner, a
    backup tool); it usually lets go within a second, so try again before giving up."""
    for attempt in range(REPLACE_TRIES):
        try:
            os.replace(temporary, path)
            return
        except PermissionError:
            if attempt == REPLACE_TRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)  # 0.05 s, then 0.1, 0.2, ... 1.6 s: 3.1 s in all


def stale_temporaries(path) -> list[Path]:
    """Unfinished writes of checkpoint `path` that a killed run left beside it."""
    path = _arguments.path("path", path)
    return sorted(path.parent.glob(f"{path.name}.*{TEMPORARY_SUFFIX}")) if path.parent.is_dir() else []


def _read(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as error:
        raise PermissionError(f"cannot read checkpoint {path}: permission denied; check the file's owner and "
                              "permissions (ls -l)") from error
    except pickle.UnpicklingError as error:
        # "Unsupported global: GLOBAL name" in recent torch, "Unsupported class name" in torch 2.1
        unsafe = re.search(r"Unsupported (?:global: GLOBAL|class) ([\w.]+)", str(error))
        if unsafe is None:  # not a pickle the weights-only reader understands: a damaged or foreign file
            raise ValueError(f"cannot read checkpoint {path}: it is damaged or not a checkpoint. To start afresh, move "
                             "it away or give fit another checkpoint path") from error
        raise ValueError(f"checkpoint {path} holds more than weights and plain data ({unsafe.group(1)}), so it is not "
                         "loaded: such a file can run code. The course's fit writes only plain data; was this file "
                         "written by other code or by an older version of the course?") from error
    except Exception as error:  # noqa: BLE001 - a damaged file fails in many ways inside torch; one message
        raise ValueError(f"cannot read checkpoint {path}: it is damaged or not a checkpoint ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:120]}). To start afresh, move it away or give fit "
                         "another checkpoint path") from error


def _check_same_kind(path: Path, state: dict, what: str, given) -> None:
    """A resume continues one run: the optimizer (or scheduler) must be of the kind it was trained with."""
    if f"{what}_type" not in state:  # written before the kinds were recorded
        return
    saved, now = state[f"{what}_type"], None if given is None else type(given).__name__
    if saved != now:
        raise ValueError(
            f"checkpoint {path} was trained with {what} {saved or 'none'}, and this call gives {now or 'none'}. A resume "
            f"continues the same run: give fit the same kind of {what}. To start a new run from the trained weights, "
            f"load them with training.load_checkpoint({str(path)!r}, model) and train with another checkpoint path.")


def load_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, scaler=None,
                    restore_rng: bool = True) -> tuple[int, History]:
    """Load a checkpoint into model (and optimizer, scheduler); return (epochs done, history).

    The optimizer and scheduler, when given, must be of the kinds the checkpoint was trained with, and
    they take its state, learning rate included (fit then applies the call's learning rate, see the
    module's docstring). Only plain data is loaded (`weights_only=True`)."""
    path, model = _arguments.path("path", path), _arguments.module("model", model)
    _arguments.flag("restore_rng", restore_rng)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: no file at path {path}")
    state = _read(path)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} was written for a different model: {str(error).splitlines()[0]}") from error
    if optimizer is not None:
        _check_same_kind(path, state, "optimizer", optimizer)
        if state.get("optimizer") is not None:
            try:
                optimizer.load_state_dict(state["optimizer"])
            except (ValueError, KeyError) as error:
                raise ValueError(f"checkpoint {path}: the optimizer's parameters differ from those it was trained with "
                                 f"({error}); build it from model.parameters() as before") from error
    if optimizer is not None or scheduler is not None:  # a resume; the weights alone load without them
        _check_same_kind(path, state, "scheduler", scheduler)
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
        if "TORCHELASTIC_RUN_ID" not in os.environ:  # torchrun sets it; without torchrun no process 0 will answer
            raise RuntimeError(
                f"RANK={place.rank} and WORLD_SIZE={place.world_size} are set, but this process was not started by "
                "torchrun (TORCHELASTIC_RUN_ID is not set), so it would wait for ever for the other processes: "
                "leftover variables in the shell? Unset RANK, WORLD_SIZE and LOCAL_RANK, or start it with torchrun")
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    watch_the_launcher()
    return place, device


_WATCHING: list[int] = []  # the launcher's process id, once a watcher runs
LAUNCHER_GRACE_SECONDS = 10.0  # after SIGTERM, how long a process whose launcher is gone may take to end


def watch_the_launcher(every: float = 1.0) -> None:
    """End this process when the process that started it (torchrun's launcher) is gone, instead of
    training on unsupervised and writing the checkpoint: a thread checks the parent every `every`
    seconds. Called by `start_distributed`; once per process."""
    if _WATCHING or not hasattr(os, "getppid"):
        return
    parent = os.getppid()
    _WATCHING.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        print(f"process {os.getpid()}: its launcher (process {parent}) is gone; stopping", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        # A Python signal handler runs only when the main thread gets back to Python; one stuck inside a
        # collective whose partner is gone never does (seen with torch 2.2): end the process from here.
        time.sleep(LAUNCHER_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-the-launcher", daemon=True).start()


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
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last,
                      multiprocessing_context=loader.multiprocessing_context, worker_init_fn=loader.worker_init_fn,
                      persistent_workers=loader.persistent_workers)


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
    model, loader = _arguments.module("model", model), _arguments.batches("loader", loader)
    _check_workers("loader", loader)
    device = _arguments.device("device", device) or model_device(model)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else _arguments.function("loss_fn", loss_fn)
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
    model, loader = _arguments.module("model", model), _arguments.batches("loader", loader)
    _check_workers("loader", loader)
    device = _arguments.device("device", device) or model_device(model)
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

        # Outside a notebook display() would print "None" and give no handle to update.
        self.handle = display(None, display_id=True) if _in_notebook() else None
        if self.handle is None:
            print("live=True draws the curves in a notebook; here there is none, so fit prints its lines only.")

    def update(self, history: History) -> None:
        if self.handle is None:
            return
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
    if not isinstance(scheduler_step, str) or scheduler_step not in ("epoch", "batch"):
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
    first_loss: float | None = None  # the loss of this call's first batch, to notice a loss that explodes
    warned: bool = False

    @property
    def main(self) -> bool:
        return self.place is None or self.place.rank == 0


def _batch_count(loader) -> int | None:
    """How many batches the loader gives, or None where it cannot say (a loader over an IterableDataset)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _start_method(loader: DataLoader) -> str:
    """How the loader's worker processes start: its own multiprocessing context's way, else Python's
    default (fork on Linux before Python 3.14; spawn on Windows and macOS)."""
    import multiprocessing

    context = loader.multiprocessing_context  # DataLoader turns a name ("spawn") into a context itself
    if context is not None:
        return context.get_start_method()
    return multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]


def _defined_here(piece) -> str | None:
    """Why worker processes that start afresh could not import `piece`, or None when they can."""
    if getattr(piece, "__name__", None) == "<lambda>":
        return "a lambda"
    owner = piece if isinstance(piece, (type, types.FunctionType)) else type(piece)  # an object: its class
    return f"{owner.__qualname__}, defined in this notebook" if getattr(owner, "__module__", None) == "__main__" else None


def _check_workers(name: str, loader) -> None:
    """A DataLoader with num_workers > 0 whose workers start afresh ('spawn', 'forkserver': always on
    Windows and macOS) must be able to import its dataset, transform and collate_fn: a class or function
    defined in a notebook cell cannot be, and the workers would fail with an AttributeError deep inside
    pickle. Say so before anything runs."""
    if not isinstance(loader, DataLoader) or loader.num_workers == 0:
        return
    method = _start_method(loader)
    if method == "fork":
        return
    dataset = loader.dataset
    pieces = {"the dataset": dataset, "its transform": getattr(dataset, "transform", None), "collate_fn": loader.collate_fn}
    for what, piece in pieces.items():
        why = None if piece is None else _defined_here(piece)
        if why:
            raise ValueError(f"{name}: num_workers={loader.num_workers} starts worker processes by {method!r} (as Windows "
                             f"and macOS always do), which must import {what}, but it is {why}. Put it in a .py file "
                             f"beside the notebook and import it from there, or use num_workers=0")


def _check_fit_arguments(model, train_loader, val_loader, epochs, lr, loss_fn, checkpoint, progress, verbose, live, amp,
                         aux_weight, distributed) -> None:
    """Each argument of fit, named when it is wrong, before anything is touched."""
    _arguments.module("model", model)
    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if loader is not None and _batch_count(_arguments.batches(name, loader)) == 0:
            raise ValueError(f"{name} is empty: it gives no batch to {'train on' if name == 'train_loader' else 'validate on'}")
        _check_workers(name, loader)
    if train_loader is None:
        _arguments.batches("train_loader", train_loader)
    if isinstance(epochs, (bool, np.bool_)) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    _arguments.whole("epochs", epochs, 1, MAX_EPOCHS)
    if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr <= 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    _arguments.number("lr", lr, 0, 1e3, above=True)
    if loss_fn is not None:
        _arguments.function("loss_fn", loss_fn)
    if checkpoint is not None:
        _arguments.path("checkpoint", checkpoint)
    _arguments.flag("progress", progress)
    _arguments.flag("amp", amp)
    for name, value in (("verbose", verbose), ("live", live), ("distributed", distributed)):
        if value is not None:
            _arguments.flag(name, value)
    _arguments.number("aux_weight", aux_weight, 0, 100)


def _prepare(model, train_loader, val_loader, epochs, optimizer, lr, loss_fn, device, scheduler, scheduler_step,
             checkpoint, progress, verbose, live, amp, aux_weight, distributed) -> _Run:
    """Check the arguments, join torchrun's processes, choose the device and build what training needs."""
    _check_fit_arguments(model, train_loader, val_loader, epochs, lr, loss_fn, checkpoint, progress, verbose, live, amp,
                         aux_weight, distributed)
    scheduler_step = _scheduler_step(scheduler, scheduler_step)
    place = None
    if distributed is not False:
        place, device = start_distributed(device)
        if distributed and place is None:
            raise ValueError("distributed=True needs a run started by torchrun (RANK and WORLD_SIZE are not set); "
                             "start it with `torchrun --nproc_per_node=N ...` or leave distributed=None")
    device = _arguments.device("device", device) or model_device(model)
    if device.type == "meta":
        raise ValueError("device='meta' holds shapes but no numbers: training there would leave the model without its "
                         "weights; use 'cpu', 'cuda' or 'mps' (or None for where the model is)")
    if optimizer is not None:
        own = {id(parameter) for parameter in model.parameters()}
        foreign = sum(id(p) not in own for group in optimizer.param_groups for p in group["params"])
        if foreign:
            raise ValueError(f"optimizer holds {foreign} parameter(s) that are not this model's, so training would not "
                             "change the model; build it from this model: torch.optim.SGD(model.parameters(), ...)")
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


def _settings(optimizer) -> list[dict]:
    """The optimizer's settings (learning rate, momentum, ...) of each parameter group."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


def _resume(run: _Run, epochs: int) -> tuple[int, History]:
    """(epochs already done, their history): from the checkpoint when there is one, else (0, empty).

    The optimizer's running state comes from the checkpoint; its settings from the call, unless a
    scheduler sets the learning rate (then the restored schedule does); one printed line says which."""
    if run.checkpoint is None or not Path(run.checkpoint).is_file():
        return 0, History()
    asked = _settings(run.optimizer)
    start, history = load_checkpoint(run.checkpoint, run.model, run.optimizer, run.scheduler, run.scaler)
    saved = _settings(run.optimizer)
    if run.scheduler is None:
        for group, settings_asked in zip(run.optimizer.param_groups, asked):
            group.update(settings_asked)  # the call's learning rate and settings
    changed = sorted({key for a, b in zip(asked, saved) for key in a if key in b and a[key] != b[key]})
    if run.main:
        name = Path(run.checkpoint).name
        if start >= epochs:
            print(f"Checkpoint {name} already holds {start} epochs; nothing to train.")
        else:
            lr = run.optimizer.param_groups[0]["lr"]
            where = ("as the restored schedule sets it" if run.scheduler is not None else
                     "from this call" + (f"; the checkpoint had {saved[0]['lr']:g}" if "lr" in changed else ""))
            others = [key for key in changed if key != "lr"] if run.scheduler is None else []
            print(f"Resuming from {name}: {start} epoch(s) done, training epochs {start + 1} to {epochs}; "
                  f"{type(run.optimizer).__name__}'s state from the checkpoint, learning rate {lr:g} {where}"
                  + (f" (also from this call: {', '.join(others)})" if others else "") + ".")
    return start, history


def _remove_stale_temporaries(run: _Run) -> None:
    """Unfinished writes that killed runs left beside the checkpoint (this run holds its lock, so no
    other run is writing them)."""
    stale = stale_temporaries(run.checkpoint)
    if stale:
        size = sum(path.stat().st_size for path in stale)
        for path in stale:
            path.unlink(missing_ok=True)
        print(f"Removed {len(stale)} unfinished checkpoint write(s) ({size / 1e6:.0f} MB) left by an interrupted run.")


@contextmanager
def _checkpoint_lock(run: _Run):
    """Hold the checkpoint's lock for the whole run: a second run writing the same file is refused."""
    if run.checkpoint is None or not run.main:
        yield
        return
    path = Path(run.checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{path}.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RuntimeError(f"another training run is writing checkpoint {path} (it holds {path}.lock): wait for it to "
                           "end, or give this run another checkpoint path") from None
    try:
        _remove_stale_temporaries(run)
        yield
    finally:
        lock.release()
        Path(f"{path}.lock").unlink(missing_ok=True)


@contextmanager
def _ctrl_c_after():
    """Finish the block before a Ctrl-C takes effect: a checkpoint write is not cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


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
            + _what_is_kept(run, epoch))
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
            if run.first_loss is None:
                run.first_loss = loss.item()
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


def _what_is_kept(run: _Run, epoch: int) -> str:
    if run.checkpoint is None:
        return ""
    if epoch == 1:
        return "No epoch has finished, so nothing is saved yet."
    return f"The checkpoint {Path(run.checkpoint).name} keeps epoch {epoch - 1}."


def _validate(run: _Run, epoch: int) -> dict:
    if run.val_loader is None:
        return {"val_loss": None, "val_accuracy": None}
    result = evaluate(run.model, run.val_loader, run.device, run.loss_fn)
    if not np.isfinite(result["loss"]):
        raise FloatingPointError(f"the validation loss became {result['loss']} at epoch {epoch}: the network's outputs "
                                 "are no longer finite; lower the learning rate or check the data. " + _what_is_kept(run, epoch))
    return {"val_loss": result["loss"], "val_accuracy": result["accuracy"]}


def _watch_the_loss(run: _Run, row: dict) -> None:
    """Warn once when the training loss has grown by orders of magnitude while staying finite."""
    loss, start = row["train_loss"], run.first_loss
    if not run.warned and start is not None and loss > 10 and loss > 100 * max(start, 1e-8):
        run.warned = True
        warnings.warn(f"the training loss grew from {start:.3g} (first batch) to {loss:.3g} (epoch {row['epoch']}): "
                      f"training is diverging; lower the learning rate (now {run.optimizer.param_groups[0]['lr']:g})",
                      RuntimeWarning, stacklevel=3)


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
    finished = len(history) == epoch  # stopped after the epoch was saved, before the next began
    kept = ""
    if run.checkpoint is not None:
        saved = epoch if finished else epoch - 1
        kept = (f"; {Path(run.checkpoint).name} keeps epoch {saved}, call fit again to resume" if saved else
                "; no epoch had finished, so nothing is saved")
    print(f"Interrupted {'after' if finished else 'during'} epoch {epoch}{kept}.")
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
    of the model on its own share of every epoch (a DistributedSampler), so the effective batch is the
    number of processes times the loader's batch size. Only rank 0 prints and writes the checkpoint, which
    resumes with any number of processes. `distributed=False` ignores torchrun's settings.
    """
    run = _prepare(model, train_loader, val_loader, epochs, optimizer, lr, loss_fn, device, scheduler, scheduler_step,
                   checkpoint, progress, verbose, live, amp, aux_weight, distributed)
    with _checkpoint_lock(run):
        start, history = _resume(run, epochs)
        if start >= epochs:
            return history
        _prepare_for_processes(run)
        run.live_plot = _LivePlot() if run.live else None
        for epoch in range(start + 1, epochs + 1):
            began = time.perf_counter()
            try:
                row = {"epoch": epoch, **_train_one_epoch(run, epoch, epochs), **_validate(run, epoch)}
                row["seconds"] = time.perf_counter() - began
                with _ctrl_c_after():  # the epoch is recorded and saved whole, or not at all
                    history.epochs.append(row)
                    _save(run, epoch, history)
                _watch_the_loss(run, row)
                _report(run, row, epochs, history)
            except KeyboardInterrupt:
                return _interrupted(run, history, epoch)
    model.eval()  # ready to use
    return history
