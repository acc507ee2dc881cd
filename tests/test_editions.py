"""tools/editions.py (`make student`, `make solutions`): the two editions as files.

tests/test_notebook_hygiene.py checks every notebook's exercises and its student edition in memory;
these tests write both editions of two notebooks through the command line."""

import nbformat
import pytest

from tools import editions
from tools.notebooks import NOTEBOOKS, student_branch

NAMES = ["00_setup", "03_padding_stride_pooling"]


@pytest.mark.parametrize("kind", ["student", "solutions"])
def test_the_command_writes_one_notebook_per_name(kind, tmp_path, capsys):
    assert editions.main([kind, *NAMES, "--out", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.ipynb")) == NAMES
    assert "wrote 2 notebooks" in capsys.readouterr().out
    for name in NAMES:
        written = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
        nbformat.validate(written)
        source = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        solutions = sum(editions.is_solution(c) for c in source.cells)
        if kind == "student":
            assert not any(editions.is_solution(c) for c in written.cells)
            assert written.cells[1].source == editions.STUDENT_NOTE
            assert f"/blob/{student_branch()}/notebooks/{name}.ipynb" in written.cells[0].source  # the badge opens this edition
        else:
            # every solution kept, and each exercise's first solution cell announced
            announced = sum(c.source == editions.KEY_NOTE for c in written.cells)
            assert sum(editions.is_solution(c) for c in written.cells) == solutions + announced
            starts = [e for e in editions.exercises(source)
                      if not source.cells[e.solutions[0]].source.startswith("**Solution")]
            assert announced == len(starts) > 0


def test_an_unknown_kind_or_notebook_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of student, solutions"):
        editions.write_edition("teacher", [], tmp_path)
    with pytest.raises(SystemExit, match="no such notebook"):
        editions.main(["student", "99_nothing", "--out", str(tmp_path)])


def test_exercises_are_found_with_their_cells():
    nb = nbformat.read(NOTEBOOKS / "03_padding_stride_pooling.ipynb", as_version=4)
    found = editions.exercises(nb)
    assert [e.number for e in found] == [1, 2, 3, 4, 5, 6, 7]
    assert all(len(e.checks) == 1 for e in found[:6])  # five numbers and a function
    assert not found[6].checks  # the longer one is open
    for exercise in found:
        assert nb.cells[exercise.prompt].source.startswith(f"**{exercise.number}.**")
        assert exercise.cells[0] == exercise.prompt
        assert set(exercise.solutions) <= set(exercise.cells)


def test_a_relative_output_folder_is_taken_from_where_the_command_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert editions.main(["student", NAMES[0], "--out", "handout"]) == 0
    assert (tmp_path / "handout" / f"{NAMES[0]}.ipynb").exists()
    assert "handout/" in capsys.readouterr().out


def test_a_roster_gives_each_student_a_notebook_with_their_id(tmp_path, capsys):
    roster = tmp_path / "roster.txt"
    roster.write_text("# term 1\nada\n\nben.s@uni\nada\n")
    assert editions.main(["student", NAMES[1], "--out", str(tmp_path / "out"), "--students", str(roster)]) == 0
    assert "for 2 students" in capsys.readouterr().out
    for who in ("ada", "ben.s@uni"):
        nb = nbformat.read(tmp_path / "out" / who / f"{NAMES[1]}.ipynb", as_version=4)
        assert editions.student_id_in(nb) == who
    with pytest.raises(SystemExit, match="cannot read .*: No such file"):
        editions.main(["student", NAMES[1], "--out", str(tmp_path), "--students", str(tmp_path / "nowhere.txt")])
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    with pytest.raises(SystemExit, match="names no student"):
        editions.main(["student", NAMES[1], "--out", str(tmp_path), "--students", str(tmp_path / "empty.txt")])
    roster.write_text("robert'); drop\n")
    with pytest.raises(SystemExit, match="1 to 64 letters"):
        editions.main(["student", NAMES[1], "--out", str(tmp_path / "bad"), "--students", str(roster)])
