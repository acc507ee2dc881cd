"""Grade the exercise notebooks students hand back, in a sandbox, with verdicts decided outside it.

    python -m tools.grade SUBMISSIONS [--out grades.csv] [--time-limit 600] [-j 2] [--resume]
                          [--memory-limit 6] [--full] [--unsafe-no-sandbox]

SUBMISSIONS holds one folder per student (the folder's name is the student's id), each with any of
the course's notebooks, found by their number: `02_convolution_by_hand.ipynb` and
`02_convolution_by_hand (1).ipynb` both grade as notebook 02.

How a notebook is graded:
1. Before any hand-in runs, the grader computes every expected value from the answer key
   (tools/answer_key.py), for every variant, and takes a checksum of the course's files; it stops
   if they change while it runs.
2. The hand-in is prepared outside the sandbox: cells tagged `solution` are left out (a handed-in
   answer key answers nothing), and each check cell is replaced by a hand-over cell that shows the
   value of `answer` as plain data.
3. It runs top to bottom in a fresh kernel inside bubblewrap (`bwrap`, Debian's package
   `bubblewrap`): no network; new process, mount, IPC and cgroup namespaces; an unprivileged user
   (run by root, the grader gives each notebook a user id of its own, which no account has); the
   system, Python and the course package read-only; a private scratch folder as home; and nothing
   else: not the repository's notebooks, not the answer key, not other hand-ins, not the grader's
   files. Limits: the wall-clock time (`--time-limit`), memory (`--memory-limit`, the data-segment
   limit), CPU time, processes (per notebook, since each has its own user id), file size. When it
   ends, every process it started ends with it (its process namespace goes).
4. The grader reads the answers it handed over (bounded JSON, never unpickled) and compares each
   with the expected value of this student's variant, in the same canonical form as
   course_utils.exercises.check. Nothing the notebook prints, displays or stores decides a verdict.

The CSV has one row per student, written by the grader alone, atomically, after each student: for
each notebook its status, seconds and one column per exercise ("03.2": notebook 03, exercise 2)
holding correct, wrong, unanswered, error, not run, open (no automatic check: grade by hand) or
missing; at the end the correct answers out of all checked exercises. `--resume` keeps the students
already in the CSV and grades the others. `-j N` runs N notebooks at a time.

Why this and not nbgrader or otter-grader: the course's exercises already carry their checks, the
student edition is the course's own (tools/editions.py), and bubblewrap is the sandbox that Flatpak
uses, packaged by every Linux distribution and needing no daemon; nbgrader and otter each bring their
own assignment format, and otter's isolation needs Docker.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import itertools
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils import exercises as ex
from course_utils.coding import CODING, compare_outputs, run_cases
from tools import answer_key
from tools.editions import exercises, is_solution, student_id_in
from tools.notebooks import NOTEBOOKS, ROOT

NUMBER = re.compile(r"^(\d{2})[_\s-]")
VERDICTS = ("correct", "wrong", "unanswered", "error", "not run", "open", "missing")
RUNNER = Path(__file__).with_name("grade_runner.py")
MAX_RESULT_BYTES = 4_000_000
STARTUP_SECONDS = 60         # kernel start-up inside the sandbox, on top of the notebook's time limit
# Run by root, each notebook runs as a user id of its own, which no account has: limits that count per
# user (processes) are then per notebook, and one hand-in's processes cannot crowd out another's.
FIRST_UID = 2_000_000_000
_uids = itertools.count()
HAND_OVER = ("from course_utils.exercises import hand_over as _hand_over\n"
             "_hand_over({exercise!r}, globals().get('answer'), seed={seed})")


class SandboxUnavailable(RuntimeError):
    pass


@dataclass
class Graded:
    """The result of one student's notebook."""

    notebook: str                                   # the course notebook's number, "03"
    status: str = "ok"
    seconds: float = 0.0
    verdicts: dict[int, str] = field(default_factory=dict)  # exercise number -> one of VERDICTS


@dataclass
class Limits:
    time: float = 600.0          # wall-clock seconds per notebook
    memory_gb: float = 6.0       # private memory (RLIMIT_DATA): notebook 07's smoke run needs 4 to 6 GB
    processes: int = 512
    file_gb: float = 2.0
    threads: int = 1             # OMP threads per notebook: -j notebooks share the cores


def course_notebooks(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """The course's notebooks by number."""
    return {path.name[:2]: path for path in sorted(folder.glob("*.ipynb")) if NUMBER.match(path.name)}


# -- the answer key, computed before any hand-in runs --------------------------------------------------

class Key:
    """Every expected value of every variant, computed once, and a checksum of the files it came from."""

    def __init__(self, items: dict, watched: list[Path]):
        self.items = items
        self.coding = dict(CODING)
        self.expected = {(exercise, v): ex.plain(item.answer(**numbers))
                         for exercise, item in items.items() for v, numbers in enumerate(item.variants)}
        self.watched = watched
        self.fingerprint = self._checksum()

    @classmethod
    def of_course(cls, course: Path = NOTEBOOKS, items: dict | None = None) -> Key:
        package = Path(ex.__file__).parent
        watched = [*sorted(package.glob("*.py")), ex.BANK, *sorted(Path(__file__).parent.glob("*.py")),
                   *course_notebooks(course).values()]
        return cls(answer_key.KEY if items is None else items, watched)

    def _checksum(self) -> str:
        digest = hashlib.sha256()
        for path in self.watched:
            digest.update(str(path).encode())
            digest.update(path.read_bytes() if path.exists() else b"(missing)")
        return digest.hexdigest()

    def unchanged(self) -> bool:
        return self._checksum() == self.fingerprint

    def verdict(self, exercise: str, student: str, handed: object, seed: int | None = None) -> str:
        """correct, wrong or unanswered: the handed-over record against this student's expected value.

        For a coding exercise the record holds the function's outputs on the cases of `seed` (the
        grader's, written into the hand-over cell), and the grader runs the reference on them itself.
        """
        if not isinstance(handed, dict) or handed.get("exercise") != exercise:
            return "wrong"
        answer = handed.get("answer")
        if answer is None:
            return "wrong" if handed.get("unreadable") else "unanswered"
        if exercise in self.coding:
            return self._coding_verdict(exercise, answer, seed)
        item = self.items.get(exercise)
        if item is None:
            return "error"
        variant = ex.variant_index(exercise, student, len(item.variants))
        try:
            right = ex.canonical(answer, item.decimals) == ex.canonical(self.expected[(exercise, variant)], item.decimals)
        except (TypeError, ValueError, RecursionError):
            return "wrong"
        return "correct" if right else "wrong"

    def _coding_verdict(self, exercise: str, answer: object, seed: int | None) -> str:
        if not isinstance(answer, dict) or seed is None or answer.get("seed") != seed:
            return "wrong"
        coding = self.coding[exercise]
        try:
            right, _ = compare_outputs(answer.get("outputs"), run_cases(coding.reference, coding, seed), coding)
        except (TypeError, ValueError, RecursionError):
            return "wrong"
        except RuntimeError:  # the reference failed on a case: the course's fault, not the student's
            return "error"
        return "correct" if right else "wrong"


# -- the sandbox ---------------------------------------------------------------------------------------

def _package_folders() -> list[Path]:
    """Where the course package and its photos are installed (an editable install maps them elsewhere)."""
    folders = [Path(ex.__file__).resolve().parent]
    spec = importlib.util.find_spec("course_utils.images")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p).resolve() for p in spec.submodule_search_locations]
    return folders


def sandbox_uid() -> int:
    """A fresh user id for the next sandbox (when the grader runs as root)."""
    return FIRST_UID + next(_uids) % 100_000_000


def _isolation(uid: int) -> tuple[list[str], list[str]]:
    """bwrap's namespace options, and what runs the program inside as the unprivileged `uid` (root only)."""
    if os.geteuid() != 0:
        return ["--unshare-all", "--cap-drop", "ALL"], []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxUnavailable("the grader runs as root and needs setpriv (util-linux) to run notebooks unprivileged")
    return (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"],
            [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])


def _system_and_python() -> list[str]:
    """The system folders and Python's (its installation, the virtual environment, the course's
    packages), read-only, with the folders above them passable by the notebook's user."""
    command = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    command += ["--tmpfs", "/tmp"]  # first, so that a bind below /tmp (a course in a temporary folder) stays visible
    folders = list(dict.fromkeys(f for f in (Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), *_package_folders())
                                 if not str(f).startswith("/usr/")))
    ancestors = sorted({a for f in folders for a in f.parents if a != Path("/")}, key=lambda a: len(a.parts))
    for ancestor in ancestors:  # bwrap makes the folders above a bind 0700: let the notebook's user pass
        command += ["--perms", "0755", "--dir", str(ancestor)]
    for folder in folders:
        command += ["--ro-bind", str(folder), str(folder)]
    return command


def _environment(limits: Limits, settings: dict[str, str] | None) -> list[str]:
    """The notebook's whole environment (bwrap clears the grader's)."""
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/home/student", "LANG": "C.UTF-8",
        # the notebook's user has no entry in the system's user list: getpass.getuser() reads these instead
        # (torch 2.10's import of torchvision asks it, for the compiler's cache folder, and raised KeyError)
        "USER": "student", "LOGNAME": "student", "TORCHINDUCTOR_CACHE_DIR": "/home/student/.cache/torchinductor",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/home/student/.config/matplotlib", "IPYTHONDIR": "/home/student/.ipython",
        "JUPYTER_RUNTIME_DIR": "/home/student/.jupyter/runtime", "JUPYTER_PLATFORM_DIRS": "1",
        "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads), "CUDA_VISIBLE_DEVICES": "",
        "PYTHONDONTWRITEBYTECODE": "1",
        # the notebook imports the very package the grader imported (its folder is bound read-only)
        "PYTHONPATH": str(Path(ex.__file__).resolve().parent.parent),
        **(settings or {}),
    }
    return [part for name, value in environment.items() for part in ("--setenv", name, value)]


def sandbox_command(home: Path, out: Path, limits: Limits, uid: int,
                    settings: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The bwrap command line for home/ and out/ (with `settings` added to the environment), and what
    goes before the program inside it.

    Run by root, bwrap sets up the namespaces itself and setpriv, inside, turns the notebook's
    processes into the unprivileged user `uid`, with no capability left; run by anyone else, bwrap's
    own user namespace does it, and the notebook runs as that user, seeing only what is bound here.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (Debian, Ubuntu) "
                                 "or your distribution's package")
    isolation, inside = _isolation(uid)
    command = [bwrap, "--die-with-parent", "--new-session", *isolation]  # the host name stays: torchrun resolves it
    command += _system_and_python()
    command += ["--perms", "0755", "--dir", "/grader", "--perms", "0755", "--dir", "/home",
                "--ro-bind", str(RUNNER), "/grader/runner.py", "--bind", str(out), "/grader/out",
                "--bind", str(home), "/home/student", "--chdir", "/home/student",
                "--proc", "/proc", "--dev", "/dev", "--clearenv"]
    return command + _environment(limits, settings), inside


def _limit(limits: Limits):
    def apply() -> None:
        import resource

        gib = 1024**3
        # the data limit counts the memory a process writes (heap, arrays, tensors), not the libraries it
        # maps: PyTorch's CUDA build maps 3.7 GB of address space but runs in well under 1 GB of data
        resource.setrlimit(resource.RLIMIT_DATA, (int(limits.memory_gb * gib),) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits.file_gb * gib),) * 2)
        cpu = int(limits.time * (limits.threads + 1)) + STARTUP_SECONDS
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _folders(scratch: Path) -> tuple[Path, Path]:
    """The notebook's home and the runner's output folder, in a scratch folder."""
    home, out = scratch / "home", scratch / "out"
    home.mkdir(), out.mkdir()
    return home, out


def _sandboxed(scratch: Path, limits: Limits, environment: dict[str, str] | None = None) -> list[str]:
    """The command that runs a program (append its argv) in a sandbox over scratch/home and scratch/out,
    whose files are first given to the sandbox's user."""
    uid = sandbox_uid()
    if os.geteuid() == 0:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid)
    command, inside = sandbox_command(scratch / "home", scratch / "out", limits, uid, environment or {})
    return command + inside


def sandbox_works() -> str | None:
    """None when a sandboxed Python can start here, else why not."""
    try:
        with tempfile.TemporaryDirectory(prefix="grade-probe-") as scratch:
            _folders(Path(scratch))
            command = [*_sandboxed(Path(scratch), Limits()), sys.executable, "-c", "import course_utils"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, preexec_fn=_limit(Limits()))
            if done.returncode != 0:
                return f"bwrap could not start a sandbox here: {done.stderr.strip()[-300:]}"
    except SandboxUnavailable as error:
        return str(error)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start a sandbox here: {error}"
    return None


def run_sandboxed(nb, student: str, limits: Limits, smoke: bool, sandbox: bool = True) -> tuple[dict | None, str]:
    """Run a prepared notebook; return the runner's result (None if it left none) and how the run ended.

    What the notebook prints goes nowhere: the grader's terminal shows only the grader's lines."""
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        home, out = _folders(Path(scratch))
        nbformat.write(nb, home / "hand-in.ipynb")
        settings = {"COURSE_SMOKE": "1" if smoke else "0", ex.STUDENT_VARIABLE: student}
        if sandbox:
            command = [*_sandboxed(Path(scratch), limits, settings),
                       sys.executable, "/grader/runner.py", "hand-in.ipynb", "/grader/out/result.json", str(limits.time)]
            env, cwd = None, None
        else:
            command = [sys.executable, str(RUNNER), "hand-in.ipynb", str(out / "result.json"), str(limits.time)]
            env, cwd = {**os.environ, **settings}, home
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=env, cwd=cwd, start_new_session=True, preexec_fn=_limit(limits) if sandbox else None)
        try:
            code = process.wait(timeout=limits.time + STARTUP_SECONDS)
            ended = "ok" if code == 0 else f"the run stopped early (exit code {code})"
        except subprocess.TimeoutExpired:
            ended = f"time limit of {limits.time:g} s reached"
        finally:
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            process.wait()
        result = _read_result(out / "result.json")
    return result, ended


def _read_result(path: Path) -> dict | None:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return result if isinstance(result, dict) else None


# -- preparing and judging one hand-in -----------------------------------------------------------------

def prepare(submitted, reference, number: str) -> tuple[object, dict[int, list[tuple[str, int, int]]], int]:
    """The hand-in as it will run: no solution cells, each check cell a hand-over cell.

    Returns the notebook, the hand-over cells of each exercise (id, index and the seed of a coding
    exercise's cases, drawn here so that no notebook can know it before it runs), and how many
    solution cells were left out. Check cells are matched by exercise number and order; a check
    cell the student deleted is not put back, so that exercise grades as "not run".
    """
    nb = nbformat.v4.new_notebook(metadata=submitted.get("metadata", {}))
    dropped = 0
    for cell in submitted.cells:
        if is_solution(cell):
            dropped += 1
            continue
        nb.cells.append(cell)
    wanted = {e.number: len(e.checks) for e in exercises(reference)}
    handing: dict[int, list[tuple[str, int, int]]] = {}
    for exercise in exercises(nb):
        for order, index in enumerate(exercise.checks[:wanted.get(exercise.number, 0)]):
            ident = f"{number}.{exercise.number}" + (f"#{order}" if order else "")
            seed = secrets.randbelow(2**31)
            nb.cells[index] = nbformat.v4.new_code_cell(HAND_OVER.format(exercise=ident.split("#")[0], seed=seed),
                                                        metadata={"grader": {"exercise": ident}})
            handing.setdefault(exercise.number, []).append((ident, index, seed))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, handing, dropped


_ENAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,60}$")


def _problems(nb, reference, number: str, student: str, key: Key, result: dict, ended: str, raised: dict,
              dropped: int, time_limit: float) -> list[str]:
    """What went wrong in the run, in the grader's words: how it ended, the cells that raised, the
    solutions left out, a student cell that does not match the folder."""
    problems = [] if ended == "ok" else [ended]
    stopped = result.get("stopped")
    if isinstance(stopped, dict) and stopped.get("why") in ("time", "kernel died", "kernel did not start"):
        where = f" in cell {stopped['cell']}" if isinstance(stopped.get("cell"), int) else ""
        problems.append({"time": f"time limit of {time_limit:g} s reached", "kernel died": "the kernel died",
                         "kernel did not start": "the kernel did not start"}[stopped["why"]] + where)
    for index in sorted(raised)[:3]:
        name = raised[index] if _ENAME.match(raised[index]) else "an error"
        problems.append(f"cell {index} raised {name}")
    if dropped:
        problems.append(f"{dropped} cell(s) tagged solution left out")
    written = student_id_in(nb)
    own_numbers = any(len(key.items[f"{number}.{e.number}"].variants) > 1 for e in exercises(reference)
                      if f"{number}.{e.number}" in key.items)
    if own_numbers and written == "":
        problems.append(f"the notebook's student cell is blank: graded with the numbers of {student!r} (the folder's name)")
    elif own_numbers and written is not None and written != student:
        problems.append(f"graded with the numbers of {student!r} (the folder's name), the notebook's student cell says "
                        f"{written[:40]!r}")
    return problems


def _verdict(exercise, mine, student: str, key: Key, cells: dict, answers: dict, raised: dict,
             hand_overs: list[tuple[str, int, int]]) -> str:
    """One checked exercise's verdict: the worst of its hand-overs' (not run, error, unanswered, wrong)."""
    verdicts = [] if hand_overs else ["not run"]
    for ident, index, seed in hand_overs:
        if str(index) not in cells:
            verdicts.append("not run")
        elif cells[str(index)] != "ok":
            verdicts.append("error")
        else:
            verdicts.append(key.verdict(ident.split("#")[0], student, answers.get(ident), seed))
    if any(raised.get(i) for i in getattr(mine.get(exercise.number), "cells", [])):  # the answer cell failed: a stale answer
        verdicts.append("error")
    return next((v for v in ("not run", "error", "unanswered", "wrong") if v in verdicts), "correct")


def judge(nb, reference, number: str, student: str, key: Key, result: dict | None, ended: str,
          handing: dict[int, list[tuple[str, int, int]]], dropped: int, time_limit: float) -> Graded:
    """Verdicts from what the run handed over; the status from how it ended (the grader's words only)."""
    graded = Graded(number)
    result = result or {}
    cells = result.get("cells") if isinstance(result.get("cells"), dict) else {}
    answers = result.get("answers") if isinstance(result.get("answers"), dict) else {}
    raised = {int(i): str(e) for i, e in cells.items() if str(i).isdigit() and e != "ok"}
    problems = _problems(nb, reference, number, student, key, result, ended, raised, dropped, time_limit)
    graded.status = "; ".join(dict.fromkeys(problems)) if problems else "ok"
    mine = {e.number: e for e in exercises(nb)}
    for exercise in exercises(reference):
        graded.verdicts[exercise.number] = ("open" if not exercise.checks else
                                            _verdict(exercise, mine, student, key, cells, answers, raised,
                                                     handing.get(exercise.number, [])))
    return graded


def grade_notebook(path: Path, reference, number: str, student: str, key: Key, limits: Limits, smoke: bool = True,
                   sandbox: bool = True) -> Graded:
    """Prepare, run in the sandbox and judge one hand-in."""
    try:
        submitted = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 -- an unreadable file is a result to report, not a crash
        graded = Graded(number, status=f"unreadable: {type(error).__name__}")
        graded.verdicts = {e.number: "not run" if e.checks else "open" for e in exercises(reference)}
        return graded
    nb, handing, dropped = prepare(submitted, reference, number)
    started = time.monotonic()
    result, ended = run_sandboxed(nb, student, limits, smoke, sandbox)
    graded = judge(nb, reference, number, student, key, result, ended, handing, dropped, limits.time)
    graded.seconds = time.monotonic() - started
    return graded


# -- a class of students -------------------------------------------------------------------------------

def _plan(submissions: Path, references: dict, log) -> dict[str, dict[str, Path]]:
    plan: dict[str, dict[str, Path]] = {}
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise SystemExit(f"{submissions} holds no student folder (one folder per student, with their notebooks)")
    for student in students:
        plan[student.name] = {}
        for path in sorted(student.rglob("*.ipynb")):
            match = NUMBER.match(path.name)
            if ".ipynb_checkpoints" in path.parts or not match or match.group(1) not in references:
                log(f"{student.name}: skipped {path.name} (not a course notebook: names start with its number)")
                continue
            if match.group(1) in plan[student.name]:
                log(f"{student.name}: skipped {path.name} (a second copy of notebook {match.group(1)})")
                continue
            plan[student.name][match.group(1)] = path
    return plan


def header_for(numbers: list[str], references: dict) -> list[str]:
    header = ["student"]
    for number in numbers:
        header += [f"{number} status", f"{number} seconds"] + [f"{number}.{e.number}" for e in exercises(references[number])]
    return header + ["correct", "checked"]


def row_for(student: str, by_number: dict[str, Graded], numbers: list[str], references: dict) -> dict:
    row = {"student": student, "correct": 0, "checked": 0}
    for number in numbers:
        graded = by_number.get(number)
        row[f"{number} status"] = graded.status if graded else "missing"
        row[f"{number} seconds"] = f"{graded.seconds:.1f}" if graded else ""
        for exercise in exercises(references[number]):
            verdict = graded.verdicts[exercise.number] if graded else ("missing" if exercise.checks else "open")
            row[f"{number}.{exercise.number}"] = verdict
            if exercise.checks:
                row["checked"] += 1
                row["correct"] += verdict == "correct"
    return row


def write_csv(out: Path, header: list[str], rows: list[dict]) -> None:
    """Write the whole CSV to a temporary file beside `out`, then rename it over `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", dir=out.parent, prefix=f".{out.name}.", suffix=".tmp", delete=False,
                                         newline="", encoding="utf-8")
    with handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: row["student"]))
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, out)


def _refuse_to_grade_unsafely(submissions: Path, sandbox: bool) -> None:
    if not submissions.is_dir():
        raise SystemExit(f"SUBMISSIONS must be a folder with one folder per student; {submissions} is not a folder")
    if sandbox and (why := sandbox_works()) is not None:
        raise SystemExit(f"{why}.\nThe grader refuses to run students' code outside a sandbox; --unsafe-no-sandbox runs "
                         "it with your own rights, able to read and change anything you can.")


def _already_graded(out: Path | None, plan: dict, log) -> dict[str, dict]:
    """The rows of the students that `out` already holds (to resume an interrupted grading)."""
    if out is None or not out.exists():
        return {}
    with open(out, newline="", encoding="utf-8") as handle:
        done = {row["student"]: row for row in csv.DictReader(handle) if row.get("student") in plan}
    log(f"grade: resuming: {len(done)} student(s) already in {out.name}")
    return done


def _grade_in_parallel(plan: dict, pending: list[str], grade, on_student, jobs: int) -> bool:
    """Grade the notebooks of the `pending` students, `jobs` at a time, with `grade(student, number, path)`;
    `on_student(student, results)` runs (under a lock) once all of a student's notebooks are graded. Stops
    and returns False when `grade` returns None (the course's files changed)."""
    results: dict[str, dict] = {student: {} for student in pending}
    lock, changed = threading.Lock(), threading.Event()

    def one(student: str, number: str, path: Path) -> None:
        if changed.is_set():
            return
        graded = grade(student, number, path)
        with lock:
            if graded is None:
                changed.set()
                return
            results[student][number] = graded
            if len(results[student]) == len(plan[student]):
                on_student(student, results[student])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, s, n, p) for s in pending for n, p in plan[s].items()]
        for future in futures:
            future.result()
    return not changed.is_set()


def grade_folder(submissions: Path, limits: Limits | None = None, smoke: bool = True, course: Path = NOTEBOOKS,
                 log=print, out: Path | None = None, jobs: int = 1, resume: bool = False, key_items: dict | None = None,
                 sandbox: bool = True) -> tuple[list[str], list[dict]]:
    """Grade every student's notebooks in `submissions`; return the CSV header and rows (and write `out`,
    after each student, so that an interrupted grading resumes with `resume`)."""
    limits = limits or Limits()
    _refuse_to_grade_unsafely(submissions, sandbox)
    references = {number: nbformat.read(path, as_version=4) for number, path in course_notebooks(course).items()}
    key = Key.of_course(course, key_items)
    plan = _plan(submissions, references, log)
    numbers = sorted({n for notebooks in plan.values() for n in notebooks})
    header = header_for(numbers, references)
    rows = _already_graded(out, plan, log) if resume else {}

    def grade(student: str, number: str, path: Path) -> Graded | None:
        graded = grade_notebook(path, references[number], number, student, key, limits, smoke, sandbox)
        if not key.unchanged():
            return None
        counts = {v: list(graded.verdicts.values()).count(v) for v in ("correct", "wrong", "unanswered")}
        log(f"grade: {student}: notebook {number}: {graded.status} ({graded.seconds:.1f} s), "
            + ", ".join(f"{n} {v}" for v, n in counts.items()))
        return graded

    def record(student: str, results: dict) -> None:
        rows[student] = row_for(student, results, numbers, references)
        if out is not None:
            write_csv(out, header, list(rows.values()))

    pending = [student for student in plan if student not in rows]
    if not _grade_in_parallel(plan, pending, grade, record, jobs):
        raise SystemExit("the course's files changed while grading (the answer key, the package or the notebooks): "
                         "stopped; the CSV holds the students graded before")
    for student in pending:  # students who handed in no course notebook
        rows.setdefault(student, row_for(student, {}, numbers, references))
    if out is not None:
        write_csv(out, header, list(rows.values()))
    return header, sorted(rows.values(), key=lambda row: row["student"])


def _positive(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{name} must be a positive, finite number, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="a folder with one folder of notebooks per student")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (default: grades.csv)")
    parser.add_argument("--time-limit", type=lambda t: _positive("--time-limit", t), default=600,
                        help="seconds per notebook (default: 600)")
    parser.add_argument("--memory-limit", type=lambda t: _positive("--memory-limit", t), default=6,
                        help="GB of memory per notebook (default: 6; notebook 07's smoke run needs 4 to 6)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="notebooks graded at a time (default: 1)")
    parser.add_argument("--resume", action="store_true", help="keep the students already in --out, grade the rest")
    parser.add_argument("--full", action="store_true", help="run in full mode instead of smoke mode")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run students' code without a sandbox, with your rights (only for code you trust)")
    parser.add_argument("--course", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)  # the tests' own course
    args = parser.parse_args(argv)
    if args.out.is_dir():
        parser.error(f"--out names a file to write, such as grades.csv; {args.out} is a folder")
    if args.jobs < 1:
        parser.error(f"-j must be 1 or more, got {args.jobs}")
    limits = Limits(time=args.time_limit, memory_gb=args.memory_limit)
    if args.unsafe_no_sandbox:
        print("grade: --unsafe-no-sandbox: the notebooks run as you, with your files and network, and no limit but time")
    started = time.monotonic()
    _, rows = grade_folder(args.submissions, limits, smoke=not args.full, course=args.course, out=args.out,
                           jobs=args.jobs, resume=args.resume, sandbox=not args.unsafe_no_sandbox)
    out = args.out.resolve()
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"grade: graded {len(rows)} student(s) in {time.monotonic() - started:.0f} s: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
