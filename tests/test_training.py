"""course_utils.training: fit learns, checkpoints resume exactly, NaN and Ctrl-C are handled."""

import errno
import os
import signal
import warnings
from types import SimpleNamespace

import pytest
import torch
from filelock import FileLock
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from course_utils import training
from course_utils.device import seed_everything
from course_utils.plotting import confusion_matrix, plot_confusion_matrix, plot_history


def _blobs(n=256, seed=0):
    """Two Gaussian blobs in 2-D: a small learnable problem."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    points = torch.randn(n, 2, generator=generator) + (labels[:, None].float() * 2 - 1) * 2.0
    return TensorDataset(points, labels)


def _model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def _loaders(batch_size=32):
    return (DataLoader(_blobs(256, 0), batch_size=batch_size, shuffle=True),
            DataLoader(_blobs(128, 1), batch_size=64))


def test_fit_learns_a_separable_problem():
    seed_everything(0)
    model = _model()
    train, val = _loaders()
    history = training.fit(model, train, val, epochs=5, lr=0.05, progress=False, live=False)
    assert len(history) == 5
    assert history.train_loss[-1] < history.train_loss[0] * 0.5
    assert history.val_accuracy[-1] >= 0.95
    result = training.evaluate(model, val)
    assert result["accuracy"] == pytest.approx(history.val_accuracy[-1])
    targets, predicted, probabilities = training.predict(model, val)
    assert targets.shape == predicted.shape == (128,)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(128))
    assert (predicted == targets).float().mean().item() == pytest.approx(result["accuracy"])


def test_progress_and_verbose_say_what_they_silence(capsys):
    train, val = _loaders()
    training.fit(_model(), train, val, epochs=2, progress=False, live=False)
    assert capsys.readouterr().out == ""  # progress=False alone: no bars and no epoch lines
    training.fit(_model(), train, val, epochs=2, progress=False, verbose=True, live=False)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("val accuracy" in line for line in lines)


def test_fit_gives_the_model_back_ready_to_use_and_evaluation_keeps_its_mode():
    model = _model()
    train, val = _loaders()
    training.fit(model, train, val, epochs=1, progress=False, live=False)
    assert not model.training  # evaluation mode: dropout off
    model.train()
    training.evaluate(model, val)
    assert model.training  # evaluate and predict give the model back in the mode it had
    training.predict(model, val)
    assert model.training
    with pytest.raises(ValueError, match="loader is empty"):
        training.predict(model, DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))))


def _train(epochs, checkpoint=None):
    seed_everything(1)
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    train, val = _loaders()
    history = training.fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler,
                           checkpoint=checkpoint, progress=False, live=False)
    return model, history


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path):
    uninterrupted, full_history = _train(3)
    checkpoint = tmp_path / "run.pt"
    _train(1, checkpoint)  # "interrupted" after epoch 1
    torch.manual_seed(12345)  # whatever happens in between must not matter
    resumed, history = _train(3, checkpoint)
    assert [row["epoch"] for row in history.epochs] == [1, 2, 3]
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert history.train_loss == pytest.approx(full_history.train_loss)


def test_finished_checkpoint_trains_nothing(tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    _train(2, checkpoint)
    _, history = _train(2, checkpoint)
    assert len(history) == 2
    assert "nothing to train" in capsys.readouterr().out


def test_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    model = _model()
    path = tmp_path / "ckpt.pt"
    training.save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full.*the previous checkpoint is intact"):
        training.save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before  # the old checkpoint survives
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_bad_checkpoints_have_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        training.load_checkpoint(tmp_path / "none.pt", _model())
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        training.load_checkpoint(junk, _model())
    other = tmp_path / "other.pt"
    training.save_checkpoint(other, nn.Linear(3, 3))
    with pytest.raises(ValueError, match="different model"):
        training.load_checkpoint(other, _model())


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    points = torch.randn(64, 2)
    points[10, 0] = float("nan")
    loader = DataLoader(TensorDataset(points, torch.zeros(64, dtype=torch.long)), batch_size=16)
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 0.*lower the learning rate"):
        training.fit(_model(), loader, epochs=2, progress=False, live=False, checkpoint=tmp_path / "c.pt")


def test_ctrl_c_keeps_the_last_good_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "c.pt"
    _train(1, checkpoint)
    saved = checkpoint.read_bytes()

    class Interrupting:
        def __iter__(self):
            yield torch.randn(4, 2), torch.zeros(4, dtype=torch.long)
            raise KeyboardInterrupt

        def __len__(self):
            return 2

    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = training.fit(model, Interrupting(), epochs=3, checkpoint=checkpoint, progress=False, live=False,
                           optimizer=optimizer, scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5))
    assert history.interrupted
    assert len(history) == 1
    assert "keeps epoch 1" in capsys.readouterr().out
    assert checkpoint.read_bytes() == saved


def test_auxiliary_outputs_add_to_the_loss():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.main, self.aux = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return (self.main(x), self.aux(x)) if self.training else self.main(x)

    seed_everything(0)
    model = TwoHeads()
    train, val = _loaders()
    training.fit(model, train, val, epochs=2, lr=0.05, progress=False, live=False)
    assert model.aux.weight.grad is not None  # the auxiliary head was trained too


@pytest.mark.parametrize("kwargs, message", [(dict(epochs=0), "epochs must be a positive integer"), (dict(lr=0), "lr must be positive")])
def test_bad_arguments(kwargs, message):
    train, _ = _loaders()
    with pytest.raises(ValueError, match=message):
        training.fit(_model(), train, progress=False, live=False, **kwargs)


def test_history_plot_and_confusion_matrix():
    _, history = _train(2)
    fig = plot_history(history)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["training", "validation"]
    counts = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0], 3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]
    fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    assert fig.axes[0].get_title() == "accuracy 0.6667 on 3 examples"
    with pytest.raises(ValueError, match="class indices from 0 to 1"):
        confusion_matrix([0, 2], [0, 1], 2)


# ----------------------------------------------------------------------------- schedulers and notebooks
def test_a_one_cycle_schedule_steps_every_batch():
    def one_cycle(model):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=3 * len(train))

    seed_everything(0)
    train, _ = _loaders(batch_size=32)  # 256 examples: 8 batches an epoch
    model = _model()
    optimizer, scheduler = one_cycle(model)
    training.fit(model, train, epochs=3, optimizer=optimizer, scheduler=scheduler, progress=False, live=False)
    assert scheduler.last_epoch == 3 * len(train)  # one step per batch; a step more would raise
    by_hand, schedule = one_cycle(_model())
    for _ in range(3 * len(train)):
        by_hand.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(by_hand.param_groups[0]["lr"])


@pytest.mark.parametrize("scheduler_step, steps_per_epoch", [(None, 1), ("epoch", 1), ("batch", 8)])
def test_scheduler_step_chooses_epochs_or_batches(scheduler_step, steps_per_epoch):
    model = _model()
    train, _ = _loaders(batch_size=32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000)
    training.fit(model, train, epochs=2, optimizer=optimizer, scheduler=scheduler, scheduler_step=scheduler_step,
                 progress=False, live=False)
    assert scheduler.last_epoch == 2 * steps_per_epoch


def test_a_wrong_scheduler_step_is_named():
    train, _ = _loaders()
    with pytest.raises(ValueError, match="scheduler_step"):
        training.fit(_model(), train, scheduler_step="step", progress=False, live=False)


def test_live_curves_are_on_in_any_kernel_shell_colab_s_included(monkeypatch):
    import IPython
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    class ColabShell(ZMQInteractiveShell):  # Colab's shell is a subclass with a name of its own
        pass

    for shell, expected in ((ColabShell, True), (ZMQInteractiveShell, True), (TerminalInteractiveShell, False)):
        instance = object.__new__(shell)  # the class is what counts; no kernel needs to start
        monkeypatch.setattr(IPython, "get_ipython", lambda instance=instance: instance)
        assert training._in_notebook() is expected, shell.__name__
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert training._in_notebook() is False


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_counts_every_pair(seed):
    generator = torch.Generator().manual_seed(seed)
    classes = 2 + seed
    targets = torch.randint(0, classes, (200,), generator=generator)
    predicted = torch.randint(0, classes, (200,), generator=generator)
    counts = confusion_matrix(targets, predicted, classes)
    expected = [[int(((targets == i) & (predicted == j)).sum()) for j in range(classes)] for i in range(classes)]
    assert counts.tolist() == expected
    assert counts.sum() == 200
    assert confusion_matrix([], [], classes).tolist() == [[0] * classes] * classes


# ----------------------------------------------------------------------------- what a resume takes, and from where
def _sgd_run(checkpoint, epochs, lr, scheduler=None, optimizer=None):
    seed_everything(1)
    model = _model()
    optimizer = (optimizer or torch.optim.SGD)(model.parameters(), lr=lr, **({"momentum": 0.9} if optimizer is None else {}))
    schedule = scheduler(optimizer) if scheduler else None
    train, val = _loaders()
    training.fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=schedule, checkpoint=checkpoint,
                 progress=False, live=False)
    return model, optimizer


def test_a_resume_trains_at_the_learning_rate_of_the_call_and_says_so(tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    _sgd_run(checkpoint, 1, lr=0.1)
    saved = torch.load(checkpoint, weights_only=True)["optimizer"]
    capsys.readouterr()
    seen = []
    real_step = torch.optim.SGD.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    torch.optim.SGD.step = step
    try:
        _, optimizer = _sgd_run(checkpoint, 2, lr=0.01)
    finally:
        torch.optim.SGD.step = real_step
    assert set(seen) == {0.01}  # every step of the resumed epoch at the asked rate
    out = capsys.readouterr().out
    assert "learning rate 0.01 from this call; the checkpoint had 0.1" in out
    assert "SGD's state from the checkpoint" in out
    momentum_before = [saved["state"][k]["momentum_buffer"] for k in sorted(saved["state"])]
    assert all(b is not None for b in momentum_before)  # the running state was there to restore


def test_with_a_scheduler_the_restored_schedule_sets_the_learning_rate(tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    halve = lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)  # noqa: E731 - a recipe
    _sgd_run(checkpoint, 1, lr=0.1, scheduler=halve)
    capsys.readouterr()
    _, optimizer = _sgd_run(checkpoint, 2, lr=0.1, scheduler=halve)
    assert "learning rate 0.05 as the restored schedule sets it" in capsys.readouterr().out
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)  # halved after each of the two epochs


@pytest.mark.parametrize("first, second, message", [
    ({}, {"optimizer": torch.optim.Adam}, "trained with optimizer SGD, and this call gives Adam"),
    ({"scheduler": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)}, {}, "trained with scheduler StepLR, and this call gives none"),
    ({}, {"scheduler": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)}, "trained with scheduler none, and this call gives StepLR"),
])
def test_a_resume_with_another_optimizer_or_scheduler_names_the_difference(tmp_path, first, second, message):
    checkpoint = tmp_path / "run.pt"
    _sgd_run(checkpoint, 1, lr=0.1, **first)
    with pytest.raises(ValueError, match=message):
        _sgd_run(checkpoint, 2, lr=0.1, **second)
    model = _model()
    assert training.load_checkpoint(checkpoint, model)[0] == 1  # the weights alone still load, for a new run


def test_stale_temporaries_go_and_checkpoints_get_the_usual_permissions(tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    for name in ("run.pt.ab12.tmp", "run.pt.cd34.tmp"):
        (tmp_path / name).write_bytes(b"x" * 1000)
    (tmp_path / "other.pt.ef56.tmp").write_bytes(b"not ours")
    _sgd_run(checkpoint, 1, lr=0.1)
    assert "Removed 2 unfinished checkpoint write(s)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.pt.ef56.tmp", "run.pt"]  # and the lock file is gone
    umask = os.umask(0)
    os.umask(umask)
    assert checkpoint.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_second_run_writing_the_same_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "run.pt"
    other_run = FileLock(f"{checkpoint}.lock", timeout=0)
    other_run.acquire()
    try:
        with pytest.raises(RuntimeError, match="another training run is writing checkpoint .*run.pt"):
            _sgd_run(checkpoint, 1, lr=0.1)
    finally:
        other_run.release()
    assert not checkpoint.exists()
    _sgd_run(checkpoint, 1, lr=0.1)  # once the other run is over, it trains
    assert checkpoint.exists()


def test_a_full_disk_is_said_in_words_and_the_previous_checkpoint_survives(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    training.save_checkpoint(path, _model(), epoch=1)
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(training.shutil, "disk_usage", lambda folder: SimpleNamespace(free=1000))  # 1 kB left
    with pytest.raises(OSError, match=r"no space left on the disk while writing checkpoint .*run.pt.*intact") as caught:
        training.save_checkpoint(path, _model(), epoch=2)
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert training.stale_temporaries(path) == []


def test_unreadable_and_unsafe_checkpoints_say_why_and_are_not_loaded(tmp_path, monkeypatch):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="damaged or not a checkpoint") as caught:
        training.load_checkpoint(junk, _model())
    assert "delete" not in str(caught.value)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"epoch": 1, "model": _model().state_dict(), "note": warnings.WarningMessage}, unsafe)
    with pytest.raises(ValueError, match="holds more than weights and plain data"):
        training.load_checkpoint(unsafe, _model())
    private = tmp_path / "private.pt"
    training.save_checkpoint(private, _model(), epoch=1)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(PermissionError, match="cannot read checkpoint .*permission denied"):
        training.load_checkpoint(private, _model())


def test_ctrl_c_during_validation_keeps_the_last_finished_epoch(tmp_path, monkeypatch, capsys):
    checkpoint = tmp_path / "run.pt"
    real, calls = training.evaluate, []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", evaluate)
    train, val = _loaders()
    history = training.fit(_model(), train, val, epochs=3, checkpoint=checkpoint, progress=False, live=False)
    assert len(history) == 1 and history.interrupted
    assert "Interrupted during epoch 2; run.pt keeps epoch 1" in capsys.readouterr().out
    assert training.load_checkpoint(checkpoint, _model())[0] == 1


def test_ctrl_c_during_the_checkpoint_write_lets_the_write_finish(tmp_path, monkeypatch, capsys):
    checkpoint = tmp_path / "run.pt"
    real = training.save_checkpoint

    def save(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the write
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "save_checkpoint", save)
    train, val = _loaders()
    history = training.fit(_model(), train, val, epochs=3, checkpoint=checkpoint, progress=False, live=False)
    assert len(history) == 1 and history.interrupted
    assert "Interrupted after epoch 1; run.pt keeps epoch 1" in capsys.readouterr().out
    assert training.load_checkpoint(checkpoint, _model())[0] == 1  # written whole
    assert training.stale_temporaries(checkpoint) == []


def test_a_nan_validation_loss_stops_before_it_is_saved(tmp_path):
    train, _ = _loaders()
    points = torch.full((8, 2), float("nan"))
    val = DataLoader(TensorDataset(points, torch.zeros(8, dtype=torch.long)), batch_size=8)
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(FloatingPointError, match="validation loss became nan at epoch 1.*nothing is saved yet"):
        training.fit(_model(), train, val, epochs=2, checkpoint=checkpoint, progress=False, live=False)
    assert not checkpoint.exists()


def test_a_loss_that_explodes_but_stays_finite_gets_a_warning():
    calls = []

    def growing(outputs, targets):  # a loss 10 times larger at every batch: diverging, never infinite here
        calls.append(1)
        return torch.nn.functional.cross_entropy(outputs, targets) * 10.0 ** min(len(calls), 30)

    train, _ = _loaders()
    with pytest.warns(RuntimeWarning, match="training is diverging; lower the learning rate"):
        training.fit(_model(), train, epochs=2, loss_fn=growing, lr=1e-6, progress=False, live=False)


def test_fit_refuses_the_meta_device_and_a_foreign_optimizer_before_touching_the_model():
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    train, _ = _loaders()
    with pytest.raises(ValueError, match="device='meta' holds shapes but no numbers"):
        training.fit(model, train, device="meta", progress=False, live=False)
    with pytest.raises(ValueError, match="optimizer holds 4 parameter\\(s\\) that are not this model's"):
        training.fit(model, train, optimizer=torch.optim.SGD(_model().parameters(), lr=0.1), progress=False, live=False)
    assert all(p.device.type == "cpu" and torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_fit_takes_a_loader_that_cannot_say_its_length_and_refuses_an_empty_one():
    """A loader over an IterableDataset has no len(): the argument checks must not need one."""

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(_blobs(8, 0))

    history = training.fit(_model(), DataLoader(Stream(), batch_size=2), epochs=1, progress=False, live=False,
                           distributed=False)
    assert len(history.epochs) == 1
    with pytest.raises(ValueError, match="train_loader is empty"):
        training.fit(_model(), [], epochs=1, progress=False, live=False, distributed=False)


# -- what breaks on Windows and macOS, simulated here ---------------------------------------------------
def test_fit_trains_with_worker_processes_that_start_afresh():
    """Windows and macOS start DataLoader workers by 'spawn': each imports the dataset anew. A dataset from
    the package (importable) trains as it does with forked workers, here with spawn itself."""
    from course_utils.data import PatternPatches

    seed_everything(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    # one worker kept for the whole run (training and evaluation), so that one process, not two, starts afresh
    loader = DataLoader(PatternPatches(16, seed=0), batch_size=8, num_workers=1, multiprocessing_context="spawn",
                        persistent_workers=True)
    history = training.fit(model, loader, loader, epochs=1, progress=False, live=False)
    assert len(history.epochs) == 1 and history.epochs[0]["val_accuracy"] is not None


class _NotebookDataset(torch.utils.data.Dataset):
    """A dataset class as a notebook cell defines it: its module is __main__, which a spawned worker cannot import."""

    __module__ = "__main__"

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.zeros(2), 0


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_workers_that_cannot_import_a_notebook_s_dataset_are_named_before_training(method):
    loader = DataLoader(_NotebookDataset(), batch_size=4, num_workers=2, multiprocessing_context=method)
    with pytest.raises(ValueError, match=rf"train_loader: num_workers=2 starts worker processes by '{method}'.*"
                                         r"_NotebookDataset, defined in this notebook.*num_workers=0"):
        training.fit(_model(), loader, epochs=1, progress=False, live=False)
    lambdas = DataLoader(_blobs(8), batch_size=4, num_workers=1, multiprocessing_context=method,
                         collate_fn=lambda batch: torch.utils.data.default_collate(batch))
    with pytest.raises(ValueError, match=r"loader: .* must import collate_fn, but it is a lambda"):
        training.evaluate(_model(), lambdas)


def test_forked_workers_and_no_workers_take_a_notebook_s_dataset():
    """Forked workers (Linux) inherit the notebook's classes, and with num_workers=0 there are no workers."""
    for loader in (DataLoader(_NotebookDataset(), batch_size=4, num_workers=1, multiprocessing_context="fork"),
                   DataLoader(_NotebookDataset(), batch_size=4)):
        assert training.evaluate(_model(), loader)["accuracy"] >= 0


def test_a_checkpoint_held_open_for_a_moment_is_still_written(tmp_path, monkeypatch):
    """On Windows, renaming onto a file that another program has open fails with PermissionError until it
    lets go: the save tries again, then gives up with a clear error and leaves no temporary file."""
    real, calls = os.replace, []

    def busy_twice(source, target):
        calls.append(target)
        if len(calls) <= 2:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        real(source, target)

    monkeypatch.setattr(training.os, "replace", busy_twice)
    monkeypatch.setattr(training.time, "sleep", lambda seconds: None)
    path = training.save_checkpoint(tmp_path / "model.pt", _model(), epoch=1)
    assert len(calls) == 3 and training.load_checkpoint(path, _model())[0] == 1

    def always_busy(source, target):
        raise PermissionError(13, "being used by another process")

    monkeypatch.setattr(training.os, "replace", always_busy)
    with pytest.raises(OSError, match="could not write checkpoint .*PermissionError.*the previous checkpoint is intact"):
        training.save_checkpoint(tmp_path / "model.pt", _model(), epoch=2)
    assert training.stale_temporaries(tmp_path / "model.pt") == []
    assert training.load_checkpoint(path, _model())[0] == 1
