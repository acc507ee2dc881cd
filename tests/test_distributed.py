"""Data-parallel training with torch.distributed: `fit` under torchrun (2 CPU processes, gloo).

- Two processes with batches of B end with the same weights as one process with batches of 2B: the
  gradients are averaged across processes, as DistributedDataParallel promises.
- A checkpoint written by two processes resumes in one, and one written by one resumes in two.
- A process killed mid-run makes torchrun stop with an error that names it, and the checkpoint of the
  last finished epoch still loads.
- `python -m course_utils.train` and `settings.distributed` (torchrun's variables), without processes.

The first three start torchrun and several processes that import torch (half a minute): they are marked
slow (`make slow-test`, which CI runs after `make test`); notebook 10 runs torchrun in `make test`.
"""

import contextlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import ROOT

from course_utils import settings, train, training

_spec = importlib.util.spec_from_file_location("distributed_job", ROOT / "tests" / "distributed_job.py")
job = importlib.util.module_from_spec(_spec)  # the same job the processes run (as `-m tests.distributed_job`)
_spec.loader.exec_module(job)

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this PyTorch has no torch.distributed")


def _torchrun(*args, processes=2, **popen):
    """Start `python -m torch.distributed.run` on the job module, from the repository root."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--monitor-interval=0.2",
               "-m", "tests.distributed_job", *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finish(process, timeout=120):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _weights(path):
    model = job.network()
    epochs, history = training.load_checkpoint(path, model, restore_rng=False)
    return epochs, history, model.state_dict()


def _same(a, b, atol=1e-6):
    return all(torch.allclose(a[k], b[k], atol=atol) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The runs the tests compare, with one start of torchrun for the two 2-process ones:
    one.pt: 1 process, batch 16, 2 epochs;  two.pt: 2 processes, batch 8, 2 epochs (from scratch);
    one_then_two.pt: one.pt resumed by 2 processes for a 3rd epoch;  two_then_one.pt: two.pt resumed by 1."""
    folder = tmp_path_factory.mktemp("ddp")
    job.run(batch_size=16, epochs=2, checkpoint=folder / "one.pt")
    shutil.copy(folder / "one.pt", folder / "one_then_two.pt")
    started = _torchrun("--train", f"8:2:{folder / 'two.pt'}", "--train", f"8:3:{folder / 'one_then_two.pt'}")
    output = _finish(started)
    shutil.copy(folder / "two.pt", folder / "two_then_one.pt")
    resumed = io.StringIO()
    with contextlib.redirect_stdout(resumed):
        job.run(batch_size=16, epochs=3, checkpoint=folder / "two_then_one.pt")
    return folder, output, resumed.getvalue()


@pytest.mark.slow
def test_two_processes_average_the_gradients_like_one_process_with_the_combined_batch(runs):
    folder, output, _ = runs
    assert "Training on 2 processes (gloo): 8 examples per process and step, 16 in all." in output
    epochs_two, history_two, two = _weights(folder / "two.pt")
    epochs_one, history_one, one = _weights(folder / "one.pt")
    assert epochs_two == epochs_one == 2
    assert _same(two, one), "2 processes x 8 and 1 process x 16 should take the same 8 steps"
    for row_two, row_one in zip(history_two.epochs, history_one.epochs, strict=True):  # metrics summed over processes
        assert row_two["train_loss"] == pytest.approx(row_one["train_loss"], abs=1e-5)
        assert row_two["val_accuracy"] == pytest.approx(row_one["val_accuracy"])
    job.run(batch_size=8, epochs=2, checkpoint=folder / "one_small.pt")
    assert not _same(_weights(folder / "one_small.pt")[2], one), "the control should differ: twice the steps, half the batch"


@pytest.mark.slow
def test_checkpoints_resume_with_another_number_of_processes(runs):
    folder, output, resumed = runs
    assert "Resuming from one_then_two.pt: 2 epoch(s) done, training epochs 3 to 3; SGD's state from the checkpoint" in output
    assert "Resuming from two_then_one.pt: 2 epoch(s) done, training epochs 3 to 3; SGD's state" in resumed
    epochs_a, history_a, a = _weights(folder / "two_then_one.pt")
    epochs_b, history_b, b = _weights(folder / "one_then_two.pt")
    assert epochs_a == epochs_b == 3
    assert len(history_a) == len(history_b) == 3
    assert _same(a, b), "the third epoch should give the same weights either way"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _rank_of(pid: int) -> int | None:
    try:
        variables = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in variables:
        if item.startswith(b"RANK="):
            return int(item[5:])
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes through /proc (Linux)")
def test_a_killed_process_stops_the_run_with_an_error_and_the_checkpoint_still_loads(tmp_path):
    checkpoint = tmp_path / "run.pt"
    started = _torchrun("--train", f"8:100000:{checkpoint}")
    try:
        deadline = time.time() + 90
        while not checkpoint.exists() and time.time() < deadline and started.poll() is None:
            time.sleep(0.1)
        assert checkpoint.exists(), "the run wrote no checkpoint"
        workers = {_rank_of(pid): pid for pid in _children(started.pid)}
        assert 1 in workers, f"no worker of rank 1 among {workers}"
        os.kill(workers[1], signal.SIGKILL)
        output, _ = started.communicate(timeout=60)
    finally:
        if started.poll() is None:
            started.kill()
    assert started.returncode != 0
    assert "ChildFailedError" in output, output[-3000:]
    assert "Signal 9 (SIGKILL)" in output, output[-3000:]
    epochs, history, _ = _weights(checkpoint)  # the last checkpoint written is whole
    assert epochs >= 1
    assert len(history) == epochs


# ----------------------------------------------------------------------------- without processes
def test_train_command_trains_saves_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    arguments = ["--model", "lenet5", "--data", "mnist", "--limit", "64", "--batch-size", "32", "--checkpoint",
                 str(tmp_path / "lenet.pt"), "--history", str(tmp_path / "history.json")]
    history = train.main(arguments + ["--epochs", "1"])
    assert len(history) == 1
    assert (tmp_path / "lenet.pt").is_file()
    history = train.main(arguments + ["--epochs", "2"])
    out = capsys.readouterr().out
    assert "offline fallback" in out
    assert "Resuming from lenet.pt: 1 epoch(s) done" in out
    written = json.loads((tmp_path / "history.json").read_text())
    assert written["processes"] == 1
    assert [row["epoch"] for row in written["epochs"]] == [1, 2]
    assert written["data"] == "scikit-learn digits resized to 28x28 (offline fallback)"


@pytest.mark.parametrize("arguments, message", [
    (["--model", "lenet5", "--data", "cats-vs-dogs"],
     "--model lenet5 does not fit --data cats-vs-dogs; for cats-vs-dogs use one of: alexnet"),
    (["--model", "resnet18", "--data", "mnist"], "for mnist use one of: lenet5, lenet5-bn"),
    (["--model", "lenet5", "--data", "mnist", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--model", "lenet5", "--data", "mnist", "--lr", "-1"], "--lr must be a positive, finite number"),
    (["--model", "lenet5", "--data", "mnist", "--lr", "inf"], "--lr must be a positive, finite number, got inf"),
    (["--model", "lenet5", "--data", "mnist", "--momentum", "0.5"], "--momentum is for --optimizer sgd"),
    (["--model", "lenet5", "--data", "mnist", "--optimizer", "sgd", "--momentum", "1.5"], "--momentum must be at least 0"),
    (["--model", "lenet5", "--data", "mnist", "--data-folder", "photos"], "--data-folder and --image-size are for"),
    (["--model", "resnet18", "--data", "cats-vs-dogs", "--image-size", "50000"], "--image-size 50000 is more than 1024"),
    (["--model", "lenet6", "--data", "mnist"], "invalid choice: 'lenet6'"),
])
def test_train_command_rejects_bad_arguments(arguments, message, capsys):
    with pytest.raises(SystemExit):
        train.main(arguments)
    assert message in capsys.readouterr().err


def test_train_command_refuses_paths_it_could_not_write_before_training(tmp_path, capsys):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    for option, path, message in (("--checkpoint", tmp_path, "is a folder; name a file in it"),
                                  ("--history", Path("/dev/full"), "is not a regular file"),
                                  ("--checkpoint", Path("/proc/run.pt"), "cannot be written")):
        with pytest.raises(SystemExit):
            train.main(["--model", "lenet5", "--data", "mnist", option, str(path)])
        assert message in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            train.main(["--model", "lenet5", "--data", "mnist", "--device", "cuda"])
        assert "this machine has no CUDA GPU" in capsys.readouterr().err


def test_lenet_with_batch_norm_trains_when_the_last_batch_would_hold_one_example(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    history = train.main(["--model", "lenet5-bn", "--data", "mnist", "--limit", "65", "--batch-size", "32",
                          "--epochs", "1", "--device", "cpu"])
    assert len(history) == 1  # 65 = 2 x 32 + 1: the lone last example is left out, not an error


def test_fit_asked_for_processes_without_torchrun_says_how(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="distributed=True needs a run started by torchrun"):
        job_model = job.network()
        training.fit(job_model, [(torch.zeros(1, 1, 12, 12), torch.zeros(1, dtype=torch.long))], distributed=True)


def test_leftover_torchrun_variables_without_torchrun_are_refused_at_once(monkeypatch):
    """RANK=1 of 2 exported in a shell, no torchrun: waiting for a process 0 that never comes would hang."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="not started by torchrun .* Unset RANK, WORLD_SIZE and LOCAL_RANK"):
        training.start_distributed("cpu")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("variables, expected", [
    ({}, None),
    ({"WORLD_SIZE": "1", "RANK": "0"}, None),
    ({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}, settings.Distributed(3, 1, 4)),
    ({"WORLD_SIZE": "2", "RANK": "1"}, settings.Distributed(1, 1, 2)),
])
def test_torchruns_variables_are_read_in_settings(monkeypatch, variables, expected):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert settings.distributed() == expected


@pytest.mark.parametrize("variables, message", [
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2 must lie in 0..1"),
])
def test_bad_torchrun_variables_are_named(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        settings.distributed()


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="LOCAL_RANK=1 has no GPU of its own: this machine has 1"):
        training.start_distributed("cuda")


def test_processes_need_dataloaders():
    from course_utils.settings import Distributed

    with pytest.raises(ValueError, match="must be torch DataLoaders"):
        training._sharded([(torch.zeros(1), torch.zeros(1))], Distributed(0, 0, 2), training=True)


@pytest.mark.parametrize("deaf", [False, True], ids=["plain", "deaf to SIGTERM"])
def test_a_worker_stops_when_its_launcher_is_killed(deaf):
    """torchrun killed with -9 must not leave its workers training on their own: each watches its parent. A
    worker whose SIGTERM handler never runs (its main thread stuck in a collective) ends after a grace period."""
    deafness = "import signal\nsignal.signal(signal.SIGTERM, lambda *_: None)\ntraining.LAUNCHER_GRACE_SECONDS = 0.5\n"
    worker = ("import time\n"
              "from course_utils import training\n"
              "from course_utils.training import watch_the_launcher\n"
              + (deafness if deaf else "") +
              "watch_the_launcher(every=0.2)\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    launcher_code = ("import subprocess, sys\n"
                     f"child = subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
                     "print(child.pid, flush=True)\n"
                     "child.wait()\n")
    launcher = subprocess.Popen([sys.executable, "-c", launcher_code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT)
    worker_pid = int(launcher.stdout.readline())
    assert launcher.stdout.readline().strip() == "ready"
    launcher.kill()  # as `kill -9` on torchrun
    launcher.wait()

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        return "\nState:\tZ" not in state  # a zombie has ended; nobody may be left to reap it

    deadline = time.monotonic() + 10
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker_pid), "the worker kept running after its launcher was killed"
