"""tools/grade.py: verdicts decided outside the notebook, in a sandbox no hand-in can get out of.

A small course of one notebook (numbered 03, so that it uses the real answer key's exercises 03.1 and
03.2, each with per-student numbers) is graded for a class: students who answer right, wrong, not at
all, crash or loop forever, and one student for each way of scoring without the answer that a
review found. Each attacker answers exercise 1 with the right value *only if the attack worked* (it
found a file it should not see, a network, a way out), so "wrong" means the sandbox held. Then the
course, the other hand-ins and the CSV are checked untouched, and a real notebook's student edition,
filled in with the worked solutions, grades all correct for a student with their own numbers.
"""

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import exercises as ex
from tools import answer_key, editions, grade
from tools.notebooks import NOTEBOOKS

pytest.importorskip("nbclient")
SANDBOX = grade.sandbox_works()
needs_sandbox = pytest.mark.skipif(SANDBOX is not None, reason=f"no sandbox here: {SANDBOX}")

RIGHT_1 = 'mine = numbers("03.1")\nanswer = (mine.n + 2 * mine.padding - mine.k) // mine.stride + 1'
RIGHT_2 = 'answer = (numbers("03.2").k - 1) // 2'
RIGHT_6 = ("import numpy as np\n"
           "def avg_pool_grad(X, size, stride, grad_out):\n"
           "    grad = np.zeros_like(X, dtype=float)\n"
           "    for i in range(grad_out.shape[0]):\n"
           "        for j in range(grad_out.shape[1]):\n"
           "            grad[i * stride:i * stride + size, j * stride:j * stride + size] += grad_out[i, j] / size**2\n"
           "    return grad\n"
           "answer = avg_pool_grad")
# A hand-in here takes about 2.5 s on an idle 2-core machine; the limit is 8 times that, and scales with
# the load the machine is under when the tests start (a loaded CI runner, other tests beside these),
# so that only the endless loop reaches it.
TIME_LIMIT = 20 * max(1, round(os.getloadavg()[0] / (os.cpu_count() or 1)))


def _code(source, tags=()):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})


def _markdown(source, tags=()):
    return nbformat.v4.new_markdown_cell(source, metadata={"tags": list(tags)} if tags else {})


def course_notebook():
    """03_tiny.ipynb: exercises 1 and 2 (checked, 03.1 and 03.2), 3 (open), 6 (coding, 03.6)."""
    return nbformat.v4.new_notebook(cells=[
        _markdown("# 03 Tiny"),
        _code("import math\nfrom course_utils.exercises import check, numbers, student"),
        _markdown("## Exercises"),
        _code('student("")'),
        _markdown("**1.** Output size with your numbers?"),
        _code('numbers("03.1")'),
        _code("answer = None"),
        _code(RIGHT_1, tags=["solution"]),
        _code('check("03.1", answer)'),
        _markdown("**2.** Same padding for your k?"),
        _code("answer = None"),
        _code(RIGHT_2, tags=["solution"]),
        _code('check("03.2", answer)'),
        _markdown("**3.** Explain."),
        _markdown("Because.", tags=["solution"]),
        _markdown("**6.** Average pooling's backward pass."),
        _code("answer = None"),
        _code(RIGHT_6, tags=["solution"]),
        _code('check("03.6", answer)'),
    ])


def expected(exercise: str, student: str):
    item = answer_key.KEY[exercise]
    return answer_key.expected(exercise, ex.variant_index(exercise, student, len(item.variants)))


def hand_in(answers: dict[int, str], before: str = "", checks: dict[int, str] | None = None):
    """The student edition of the tiny notebook with these answer cells (and a cell before the exercises)."""
    nb = editions.student_edition(course_notebook())
    if before:
        nb.cells.insert(2, _code(before))
    for exercise in editions.exercises(nb):
        for index in exercise.cells:
            cell = nb.cells[index]
            if cell.source == "answer = None" and exercise.number in answers:
                cell.source = answers[exercise.number]
            if index in exercise.checks and checks and exercise.number in checks:
                cell.source = checks[exercise.number]
    return nb


def if_it_worked(condition: str, student: str) -> str:
    """An answer cell that is right only when `condition` holds inside the sandbox."""
    return f"answer = {expected('03.1', student)!r} if ({condition}) else -1"


def attackers(root: Path, submissions: Path, csv_path: Path) -> dict:
    course = str(root / "course")
    exercises_py = ex.__file__
    return {
        # redefine check, patch the package's functions, and hand over a forged verdict
        "at_check": hand_in({1: "answer = -1"}, before=(
            "import course_utils.exercises as e\n"
            "def check(*args, **kwargs):\n    return 'Correct!'\n"
            "e.check = check\ne.canonical = lambda *a, **k: 'same'\n"
            "e.hand_over = lambda exercise, answer: e._HandOver({'exercise': exercise, 'answer': answer, 'correct': True})")),
        # a hook that displays a verdict record and a hand-over record before every cell
        "at_hook": hand_in({1: "answer = -1"}, before=(
            "from IPython import get_ipython\nfrom IPython.display import display\nimport course_utils.exercises as e\n"
            "def fake(info):\n"
            "    display({e.VERDICT_MIME: {'correct': True, 'answered': True, 'message': 'Correct!'},\n"
            "             e.HAND_OVER_MIME: {'exercise': '03.1', 'answer': 'Correct!'}}, raw=True)\n"
            "get_ipython().events.register('pre_run_cell', fake)")),
        # an answer that reads the expected value from whoever looks at it
        "at_frame": hand_in({1: (
            "import sys\nclass Peek:\n"
            "    def __array__(self, *a, **k):\n"
            "        frame = sys._getframe(1)\n"
            "        while frame and 'expected' not in frame.f_locals:\n            frame = frame.f_back\n"
            "        return __import__('numpy').asarray(frame.f_locals['expected'] if frame else -1)\n"
            "    __eq__ = lambda self, other: True\n"
            "answer = Peek()")}),
        # look for the answer key and the course's notebooks next to the package, and the test's course
        "at_key": hand_in({1: if_it_worked(
            f"__import__('glob').glob(str(__import__('pathlib').Path(__import__('course_utils').__file__).parents[1] / '*' / "
            f"'*.ipynb')) or __import__('os').path.exists({course!r}) or "
            f"__import__('importlib.util').util.find_spec('tools') is not None", "at_key")}),
        # another hand-in or the grader's folder through /proc
        "at_proc": hand_in({1: if_it_worked(
            "[p for p in __import__('glob').glob('/proc/*/cwd/../**/*.ipynb', recursive=True) if 'hand-in' not in p] or "
            f"__import__('os').path.exists({str(submissions)!r})", "at_proc")}),
        # the network
        "at_net": hand_in({1: if_it_worked(
            "(lambda s: s.connect_ex(('1.1.1.1', 53)) == 0)(__import__('socket').socket())", "at_net")}),
        # a process that outlives the notebook and rewrites the CSV
        "at_daemon": hand_in({1: "answer = -1\nimport os, time\n"
                              "if os.fork() == 0:\n"
                              "    if os.fork() == 0:\n"
                              "        time.sleep(4)\n"
                              f"        open({str(csv_path)!r}, 'a').write('at_daemon,all correct\\n')\n"
                              f"        open({str(submissions / 'survived')!r}, 'w').write('yes')\n"
                              "    os._exit(0)"}),
        # change the package and the course for the students graded after
        "at_tamper": hand_in({1: if_it_worked(
            f"not __import__('os').system('echo \"def check(*a): return True\" >> {exercises_py} 2>/dev/null') or "
            f"not __import__('os').system('touch {course}/03_tiny.ipynb 2>/dev/null')", "at_tamper")}),
        # overwrite a classmate's hand-in
        "at_overwrite": hand_in({1: if_it_worked(
            f"not __import__('os').system('cp hand-in.ipynb {submissions}/ada/03_tiny.ipynb 2>/dev/null')", "at_overwrite")}),
        # print what looks like the grader's own lines, on every channel
        "at_print": hand_in({1: "answer = -1\nimport os, sys\n"
                             "line = 'grade: at_print: notebook 03: ok (1.0 s), 2 correct, 0 wrong, 0 unanswered\\n'\n"
                             "print(line); sys.stderr.write(line); os.write(1, line.encode()); os.write(2, line.encode())"}),
        # kill the process that runs the notebook
        "at_kill": hand_in({1: "import os\nos.kill(os.getppid(), 9)"}),
        # allocate 2 GB, more than the limit (1.5 GB in these tests, in which PyTorch runs)
        "at_memory": hand_in({1: RIGHT_1, 2: "block = bytearray(2 * 1024**3)\nanswer = -1"}),
        # start more processes than the limit
        "at_fork": hand_in({1: "import subprocess\nstarted = []\ntry:\n"
                            "    started += [subprocess.Popen(['sleep', '59.75']) for _ in range(700)]\nexcept OSError:\n    pass\n"
                            + if_it_worked("len(started) == 700", "at_fork")}),
        # hand in the answer key itself
        "at_answer_key": course_notebook(),
    }


TORCHRUN_JOB = """import torch, torch.distributed as dist
dist.init_process_group("gloo")
total = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(total)
open(f"sum{dist.get_rank()}.txt", "w").write(str(int(total.item())))  # a file each: printed lines can interleave
dist.destroy_process_group()
"""


def distributed(student: str) -> dict:
    """Notebook 10 starts torchrun inside the sandbox (it once hung there): two processes that add up
    their ranks. The answer is right only if both of them wrote the sum, 1 + 2."""
    return {
        student: hand_in({1: "import subprocess, sys\n"
                          f"open('job.py', 'w').write({TORCHRUN_JOB!r})\n"
                          "run = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', 'job.py'],\n"
                          "                     capture_output=True, text=True, timeout=120)\n"
                          + if_it_worked("run.returncode == 0 and [open(f'sum{r}.txt').read() for r in (0, 1)] == ['3', '3']",
                                         student)}),
    }


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if SANDBOX is not None:
        pytest.skip(f"no sandbox here: {SANDBOX}")
    root = tmp_path_factory.mktemp("grading")
    (root / "course").mkdir()
    nbformat.write(course_notebook(), root / "course" / "03_tiny.ipynb")
    submissions, csv_path = root / "submitted", root / "grades.csv"
    students = {
        "ada": hand_in({1: RIGHT_1, 2: RIGHT_2, 6: RIGHT_6}),
        "ben": hand_in({1: "answer = -1", 6: RIGHT_6.replace(" / size**2", "")}),
        "cy": hand_in({1: "answer = -1", 2: "answer = = 3"}, checks={1: "check('03.1', answer, answer)"}),
        "dee": hand_in({1: "import os\nos._exit(1)"}),
        # an endless loop: the time limit is wall-clock, so a loop that sleeps reaches it as one that spins does,
        # without taking a core from the hand-in graded beside it (and from the other tests) for its 20 s
        "eve": hand_in({1: "import time\nwhile True:\n    time.sleep(0.2)"}),
        # an id cell with a classmate's id: the folder's name decides, and the status says so
        "fay": editions.with_student(hand_in({1: RIGHT_1}), "ada"),
        # ada's values, copied by a classmate whose numbers differ
        "yan": hand_in({1: f"answer = {expected('03.1', 'ada')!r}", 2: f"answer = {expected('03.2', 'ada')!r}"}),
        **attackers(root, submissions, csv_path),
    }
    assert expected("03.1", "yan") != expected("03.1", "ada")
    assert expected("03.2", "yan") != expected("03.2", "ada")
    for name, nb in students.items():
        if name not in ("fay", "at_answer_key") and editions.student_id_in(nb) == "":  # as `make student STUDENTS=...` writes them
            nb = editions.with_student(nb, name)
        (submissions / name).mkdir(parents=True)
        nbformat.write(nb, submissions / name / "03_tiny (1).ipynb" if name == "ada" else submissions / name / "03_tiny.ipynb")
    before = {"course": _tree_digest(root / "course"), "submissions": _tree_digest(submissions),
              "package": hashlib.sha256(Path(ex.__file__).read_bytes()).hexdigest()}
    lines, logged = [], {}

    def log(line: str) -> None:
        lines.append(line)
        logged[line.split(":")[1].strip() if line.count(":") > 1 else line] = time.monotonic()

    started = time.monotonic()
    header, rows = grade.grade_folder(submissions, grade.Limits(time=TIME_LIMIT, memory_gb=1.5, processes=400),
                                      course=root / "course", log=log, out=csv_path, jobs=2)
    seconds = time.monotonic() - started
    time.sleep(max(0.0, logged["at_daemon"] + 5 - time.monotonic()))  # until longer than the daemon would wait
    return {"header": header, "rows": {row["student"]: row for row in rows}, "lines": lines, "root": root,
            "submissions": submissions, "csv": csv_path, "before": before, "seconds": seconds}


def test_the_header_names_each_exercise_and_the_time(graded):
    assert graded["header"] == ["student", "03 status", "03 seconds", "03.1", "03.2", "03.3", "03.6", "correct", "checked"]


def test_right_wrong_and_unanswered(graded):
    rows = graded["rows"]
    assert (rows["ada"]["03.1"], rows["ada"]["03.2"], rows["ada"]["03.3"], rows["ada"]["03.6"]) == (
        "correct", "correct", "open", "correct")
    assert (rows["ada"]["correct"], rows["ada"]["checked"], rows["ada"]["03 status"]) == (3, 3, "ok")
    assert (rows["ben"]["03.1"], rows["ben"]["03.2"], rows["ben"]["03.6"], rows["ben"]["correct"]) == (
        "wrong", "unanswered", "wrong", 0)
    assert float(rows["ada"]["03 seconds"]) > 0


def test_a_changed_check_does_not_count_and_an_error_is_recorded(graded):
    rows = graded["rows"]
    assert rows["cy"]["03.1"] == "wrong"
    assert rows["cy"]["03.2"] == "error"
    assert "raised SyntaxError" in rows["cy"]["03 status"]


def test_a_dead_kernel_and_an_endless_loop_stop_only_their_notebook(graded):
    rows = graded["rows"]
    assert "kernel died" in rows["dee"]["03 status"]
    assert f"time limit of {TIME_LIMIT} s reached" in rows["eve"]["03 status"]
    for student in ("dee", "eve"):
        assert (rows[student]["03.1"], rows[student]["03.2"]) == ("not run", "not run")


def test_the_folder_s_name_picks_the_numbers(graded):
    row = graded["rows"]["fay"]
    assert row["03.1"] == "correct"  # worked out with fay's numbers, whatever the cell says
    assert "graded with the numbers of 'fay' (the folder's name), the notebook's student cell says 'ada'" in row["03 status"]
    blank = graded["rows"]["at_answer_key"]["03 status"]  # the course's own notebook: a blank student cell
    assert "the notebook's student cell is blank: graded with the numbers of 'at_answer_key'" in blank


def test_a_classmate_s_answers_are_wrong_for_other_numbers(graded):
    assert (graded["rows"]["yan"]["03.1"], graded["rows"]["yan"]["03.2"]) == ("wrong", "wrong")


ATTACKS = ["at_check", "at_hook", "at_frame", "at_key", "at_proc", "at_net", "at_daemon", "at_tamper", "at_overwrite",
           "at_print", "at_fork"]


@pytest.mark.parametrize("student", ATTACKS)
def test_no_attack_scores(graded, student):
    row = graded["rows"][student]
    assert row["03.1"] in ("wrong", "error"), f"{student}: {row}"  # error: the attack broke its own hand-over
    assert row["correct"] == 0


def test_killing_the_runner_ends_only_that_notebook(graded):
    row = graded["rows"]["at_kill"]
    assert "stopped early" in row["03 status"] or "kernel died" in row["03 status"]
    assert (row["03.1"], row["correct"]) == ("not run", 0)


def test_the_memory_limit_stops_a_large_allocation_and_the_rest_is_graded(graded):
    row = graded["rows"]["at_memory"]
    assert (row["03.1"], row["03.2"]) == ("correct", "error")
    assert "raised MemoryError" in row["03 status"]


def test_a_handed_in_answer_key_answers_nothing(graded):
    row = graded["rows"]["at_answer_key"]
    assert (row["03.1"], row["03.2"], row["correct"]) == ("unanswered", "unanswered", 0)
    assert row["03.6"] == "unanswered"
    assert "4 cell(s) tagged solution left out" in row["03 status"]


def test_the_course_the_package_and_the_hand_ins_are_untouched(graded):
    before = graded["before"]
    assert _tree_digest(graded["root"] / "course") == before["course"]
    assert hashlib.sha256(Path(ex.__file__).read_bytes()).hexdigest() == before["package"]
    assert not (graded["submissions"] / "survived").exists()
    assert _tree_digest(graded["submissions"]) == before["submissions"]


def test_the_csv_is_complete_and_only_the_grader_wrote_it(graded):
    with open(graded["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student"] for row in rows] == sorted(graded["rows"])
    assert "at_daemon,all correct" not in graded["csv"].read_text()
    assert {row["student"]: row["03.1"] for row in rows} == {s: r["03.1"] for s, r in graded["rows"].items()}


def test_one_hand_in_cannot_starve_another(graded):
    """The process bomb (at_fork) is graded next to others, 2 at a time: their runs must not suffer."""
    stopped = {student for student, row in graded["rows"].items()
               if "stopped early" in row["03 status"] or "did not start" in row["03 status"]}
    assert stopped <= {"at_kill"}, stopped


def test_no_process_of_a_notebook_survives(graded):
    # the fork bomb's own sleeps (an odd length, so that no other program's sleep is counted)
    left = subprocess.run(["pgrep", "-f", "^sleep 59.75$"], capture_output=True, text=True).stdout.split()
    details = subprocess.run(["ps", "-o", "pid,ppid,user,etimes,cmd", "-p", ",".join(left)], capture_output=True,
                             text=True).stdout if left else ""
    assert not left, f"processes of a notebook outlived it:\n{details}"


def test_a_notebook_cannot_print_the_grader_s_lines(graded, capfd):
    printed = [line for line in graded["lines"] if line.startswith("grade: at_print:")]
    assert printed == [line for line in printed if "0 correct, 1 wrong" in line]
    assert len(printed) == 1


def test_grading_resumes_where_it_stopped(graded, tmp_path):
    submissions = tmp_path / "in"
    for name in ("ada", "ben"):
        shutil.copytree(graded["submissions"] / name, submissions / name)
    out = tmp_path / "grades.csv"
    course = graded["root"] / "course"
    limits = grade.Limits(time=TIME_LIMIT)
    # a run that stopped after ada and ben: their rows of the graded run, as grade_folder wrote them
    header, *rows = graded["csv"].read_text().splitlines(keepends=True)
    out.write_text(header + "".join(row for row in rows if row.split(",")[0] in ("ada", "ben")))
    first = out.read_text()
    assert len(first.splitlines()) == 3
    shutil.copytree(graded["submissions"] / "yan", submissions / "yan")
    lines = []
    grade.grade_folder(submissions, limits, course=course, out=out, log=lines.append, resume=True)
    assert lines[0] == "grade: resuming: 2 student(s) already in grades.csv"
    assert [line.split(":")[1].strip() for line in lines[1:]] == ["yan"]
    assert out.read_text().splitlines()[1:3] == first.splitlines()[1:3]


def test_no_sandbox_no_grading(tmp_path, monkeypatch):
    (tmp_path / "ada").mkdir()
    monkeypatch.setattr(grade.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="--unsafe-no-sandbox"):
        grade.grade_folder(tmp_path)


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit, match="one folder per student"):
        grade.grade_folder(tmp_path / "nowhere", sandbox=False)
    with pytest.raises(SystemExit, match="no student folder"):
        grade.grade_folder(tmp_path, sandbox=False)
    for arguments, message in ((["--time-limit", "0"], "positive, finite"), (["--time-limit", "nan"], "positive, finite"),
                               (["--time-limit", "inf"], "positive, finite"), (["--memory-limit", "x"], "must be a number"),
                               (["--out", str(tmp_path)], "is a folder"), (["-j", "0"], "1 or more")):
        with pytest.raises(SystemExit):
            grade.main([str(tmp_path), *arguments])
        assert message in capsys.readouterr().err


@needs_sandbox
def test_the_sandbox_s_user_has_a_name(tmp_path):
    """The notebook's user is in no user list inside the sandbox; getpass.getuser() must still answer (torch
    2.10's import of torchvision asks it for the compiler's cache folder, and raised KeyError there)."""
    grade._folders(tmp_path)
    command = [*grade._sandboxed(tmp_path, grade.Limits()), sys.executable, "-c",
               "import getpass, os; print(getpass.getuser(), os.environ['TORCHINDUCTOR_CACHE_DIR'])"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["student", "/home/student/.cache/torchinductor"]


@pytest.mark.slow  # three processes that import torch, in the sandbox: `make slow-test`
@needs_sandbox
def test_torchrun_works_inside_the_sandbox(tmp_path):
    """Graded on its own, with a longer limit than the others: torchrun starts three Pythons that each
    import torch (about 9 s on an idle 2-core machine, twice that beside another test), where the
    other hand-ins take 2.5 s and the limit is there to catch an endless loop."""
    (tmp_path / "course").mkdir()
    nbformat.write(course_notebook(), tmp_path / "course" / "03_tiny.ipynb")
    for name, nb in distributed("tor").items():
        (tmp_path / "submitted" / name).mkdir(parents=True)
        nbformat.write(editions.with_student(nb, name), tmp_path / "submitted" / name / "03_tiny.ipynb")
    _, rows = grade.grade_folder(tmp_path / "submitted", grade.Limits(time=6 * TIME_LIMIT, memory_gb=1.5, processes=400),
                                 course=tmp_path / "course", log=lambda line: None, out=tmp_path / "grades.csv", jobs=1)
    (row,) = rows
    assert (row["03 status"], row["03.1"]) == ("ok", "correct"), row


@pytest.mark.slow  # notebook 03 run once more, whole, in the sandbox: `make slow-test` (nbval runs it in `make test`)
@needs_sandbox
def test_real_student_editions_filled_in_grade_all_correct_for_their_student(tmp_path, monkeypatch):
    """Notebook 03's worked solutions use the student's own numbers, so they are right for anyone. (It
    is the cheapest notebook with per-student exercises; torchrun in the sandbox is tried above.)"""
    who = "zoe"
    assert any(ex.variant_index(e, who, 12) != 0 for e in ("03.1", "03.2", "03.3", "03.4", "03.5"))
    (tmp_path / "in" / who).mkdir(parents=True)
    names = ["03_padding_stride_pooling.ipynb"]
    for name in names:  # the student edition, each answer cell replaced by the worked solution
        nbformat.write(editions.with_student(editions.answered_edition(name.removesuffix(".ipynb")), who), tmp_path / "in" / who / name)
    monkeypatch.chdir(tmp_path)  # the CSV's path is relative, as a lecturer would type it
    assert grade.main(["in", "--out", "grades.csv", "--time-limit", "300", "-j", "2"]) == 0
    with open(tmp_path / "grades.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    for name in names:
        number = name[:2]
        checked = [e.number for e in editions.exercises(nbformat.read(NOTEBOOKS / name, as_version=4)) if e.checks]
        assert row[f"{number} status"] == "ok"
        assert [row[f"{number}.{n}"] for n in checked] == ["correct"] * len(checked)
    assert row["correct"] == row["checked"]
