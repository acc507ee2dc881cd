"""The syllabus map (syllabus.yml): every lecture item has a row, every row points at a cell that
exists, and every number marked checked is in the stored output of a checked cell.

The lecture files themselves are the course's sources and live outside the repository; where they are
present (the environment variable COURSE_LECTURES names their folder), the quotes are looked up in
the lines each row gives.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from helpers import ROOT

from tools import notebooks as nbtools

MAP = yaml.safe_load((ROOT / "syllabus.yml").read_text(encoding="utf-8"))
ITEMS = MAP["items"]
BEYOND = MAP["beyond_the_lectures"]
STATUSES = ("checked", "explained", "left out")


def _notebooks() -> dict[str, nbformat.NotebookNode]:
    return {path.name[:2]: nbformat.read(path, as_version=4) for path in sorted(nbtools.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}


NOTEBOOKS = _notebooks()


def cell(where: str):
    number, _, cell_id = where.partition("#")
    assert number in NOTEBOOKS, f"{where}: no notebook numbered {number}"
    found = [c for c in NOTEBOOKS[number].cells if c.get("id") == cell_id]
    assert found, f"{where}: notebook {number} has no cell with id {cell_id!r}"
    return found[0]


def output_text(code_cell) -> str:
    return "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in code_cell.get("outputs", []))


def lines(item) -> tuple[int, int]:
    first, _, last = str(item["lines"]).partition("-")
    return int(first), int(last or first)


def test_every_row_is_complete():
    for item in ITEMS:
        name = f"lecture {item['lecture']}, lines {item['lines']}"
        assert item["lecture"] in MAP["lectures"], name
        assert item["status"] in STATUSES, name
        assert item.get("quote"), f"{name}: quote the lecture"
        if item["status"] == "left out":
            assert item.get("why"), f"{name}: say why it is left out"
        else:
            assert item.get("where"), f"{name}: say where it is taught"
        if item["status"] == "checked":
            assert item.get("values"), f"{name}: give what the checked output shows"


@pytest.mark.parametrize("item", [i for i in ITEMS if i.get("where")], ids=lambda i: f"{i['lecture']}:{i['lines']}")
def test_the_cell_exists_and_a_checked_item_is_in_its_stored_output(item):
    taught = cell(item["where"])
    if item["status"] == "checked":
        tags = taught.metadata.get("tags", [])
        assert taught.cell_type == "code" and nbtools.CHECK_TAG in tags, f"{item['where']} is not a checked cell"
        shown = output_text(taught)
        for value in item["values"]:
            assert value in shown, f"{item['where']}: {value!r} is not in its stored output"


@pytest.mark.parametrize("item", [i for i in ITEMS if i.get("notes")], ids=lambda i: f"{i['lecture']}:{i['lines']}")
def test_a_slide_correction_points_at_the_notes_on_the_slides(item):
    assert nbtools.SLIDE_NOTES_TAG in cell(item["notes"]).metadata.get("tags", [])


@pytest.mark.parametrize("lecture", [k for k, v in MAP["lectures"].items() if v["mapped"]])
def test_a_mapped_lecture_has_a_row_for_every_line(lecture):
    spans = sorted(lines(item) for item in ITEMS if item["lecture"] == lecture)
    expected = 1
    for first, last in spans:
        assert first == expected, f"lecture {lecture}: lines {expected}-{first - 1} have no row" if first > expected \
            else f"lecture {lecture}: rows overlap at line {first}"
        assert last >= first
        expected = last + 1
    assert expected - 1 == MAP["lectures"][lecture]["lines"], f"lecture {lecture}: lines {expected}-... have no row"


def _lecture_folder() -> Path | None:
    folder = os.environ.get("COURSE_LECTURES")
    return Path(folder) if folder and Path(folder).is_dir() else None


LECTURES = _lecture_folder()


@pytest.mark.skipif(LECTURES is None, reason="the lecture files are not here (set COURSE_LECTURES to their folder)")
@pytest.mark.parametrize("lecture", list(MAP["lectures"]))
def test_the_quotes_are_in_the_lines_the_rows_give(lecture):
    text = (LECTURES / MAP["lectures"][lecture]["file"]).read_text(encoding="utf-8").split("\n")  # as `wc -l` counts
    text = text[:-1] if text and text[-1] == "" else text
    assert len(text) == MAP["lectures"][lecture]["lines"]
    for item in (i for i in ITEMS if i["lecture"] == lecture):
        first, last = lines(item)
        span = "\n".join(text[first - 1:last])
        assert item["quote"] in span, f"lecture {lecture}, lines {item['lines']}: {item['quote']!r} is not there"


def counts() -> dict[str, int]:
    return {status: sum(item["status"] == status for item in ITEMS) for status in STATUSES}


def test_the_readme_states_the_map_s_counts():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mapped = [k for k, v in MAP["lectures"].items() if v["mapped"]]
    found = counts()
    sentence = re.search(r"The syllabus map \(`syllabus\.yml`\) .*?each with its reason\.", readme, re.S)
    assert sentence, "README.md: say what the syllabus map holds"
    text = " ".join(sentence.group(0).split())
    for status, number in found.items():
        assert f"{number} {status}" in text, f"README.md: the map has {number} items {status}: {text}"
    total = len(MAP["lectures"])
    lectures = f"all {total} lectures" if len(mapped) == total else f"{len(mapped)} of the {total} lectures"
    assert f"{len(ITEMS)} items" in text and lectures in text, text


def test_every_row_beyond_the_lectures_is_complete():
    for row in BEYOND:
        assert row.get("topic") and row.get("source"), f"{row}: name the topic and the source it follows"
        assert row["status"] in ("checked", "explained"), f"{row['topic']}: checked or explained"
        assert row.get("where"), f"{row['topic']}: say where it is taught"
        if row["status"] == "checked":
            assert row.get("values"), f"{row['topic']}: give what the checked output shows"


@pytest.mark.parametrize("row", BEYOND, ids=lambda row: row["topic"][:40])
def test_a_row_beyond_the_lectures_points_at_its_cell_and_output(row):
    taught = cell(row["where"])
    if row["status"] == "checked":
        assert taught.cell_type == "code" and nbtools.CHECK_TAG in taught.metadata.get("tags", []), \
            f"{row['where']} is not a checked cell"
        for value in row["values"]:
            assert value in output_text(taught), f"{row['where']}: {value!r} is not in its stored output"


def test_every_checked_cell_of_notebook_11_is_on_the_map():
    """Notebook 11 teaches nothing from the lectures: each of its checked lesson cells is a row beyond them."""
    mapped = {row["where"] for row in BEYOND}
    checked = {f"11#{c.id}" for c in NOTEBOOKS["11"].cells
               if nbtools.CHECK_TAG in c.metadata.get("tags", []) and "check(" not in c.source}
    missing = sorted(checked - mapped)
    assert not missing, f"checked cells of notebook 11 with no row in syllabus.yml's beyond_the_lectures: {missing}"


def test_the_readme_states_the_rows_beyond_the_lectures():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    checked = sum(row["status"] == "checked" for row in BEYOND)
    assert f"rows of its own there, {len(BEYOND)}, of which {checked} checked" in readme, \
        f"README.md: the map has {len(BEYOND)} rows beyond the lectures, {checked} checked"
