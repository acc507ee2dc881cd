"""course_utils.training: fit learns, checkpoints resume exactly, NaN and Ctrl-C are handled."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

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
    with pytest.raises(RuntimeError, match="disk full"):
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
    history = training.fit(model, Interrupting(), epochs=3, checkpoint=checkpoint, progress=False, live=False,
                           optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                           scheduler=None)
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
