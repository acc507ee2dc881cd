"""Every notebook in notebooks/ is named, stored and listed the way the course needs.

New notebooks are picked up automatically: drop NN_topic.ipynb into notebooks/ and add it to the
README's table.
"""

import ast
import json
import re

import nbformat
import pytest
from helpers import ROOT

from tools import editions
from tools import notebooks as nbtools

NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))  # tools.notebooks.NOTEBOOKS is the folder
MAX_OUTPUT_CHARS = 20_000


def _ids(paths):
    return [p.name for p in paths]


def _read(path):
    return nbformat.read(path, as_version=4)


def _defines_only(source: str) -> bool:
    """A cell that only defines functions (and imports): it draws nothing until they are called."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return all(isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)) for node in body)


def _outside_code(markdown: str) -> str:
    """The markdown without its fenced code blocks (a `# comment` there is no heading)."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)


def _output_text(output) -> str:
    return json.dumps(output, ensure_ascii=False)


def test_there_are_notebooks():
    assert NOTEBOOK_PATHS, "notebooks/ holds no .ipynb file"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=_ids(NOTEBOOK_PATHS))
class TestNotebook:
    def test_name_is_number_underscore_topic(self, path):
        assert nbtools.NAME_PATTERN.match(path.name), f"{path.name}: name it NN_topic.ipynb (lower case, digits, _)"

    def test_is_valid_nbformat_with_a_python3_kernel(self, path):
        nb = _read(path)
        nbformat.validate(nb)
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"

    def test_stores_no_error(self, path):
        for index, cell in enumerate(_read(path).cells):
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", f"cell {index} stores an error"

    def test_stores_no_absolute_path(self, path):
        for index, cell in enumerate(_read(path).cells):
            for output in cell.get("outputs", []):
                match = nbtools.ABSOLUTE_PATH.search(_output_text(output))
                assert match is None, f"cell {index} stores an absolute path: {match.group(0)!r}..."

    def test_one_title_and_headings_in_order(self, path):
        """Screen readers move by headings: one H1 (the title, first), and no level skipped going down."""
        levels = [len(m.group(1)) for cell in _read(path).cells if cell.cell_type == "markdown"
                  for m in re.finditer(r"^(#{1,6}) ", _outside_code(cell.source), flags=re.M)]
        assert levels[:1] == [1] and levels.count(1) == 1, f"one title (# ...) first, then ## sections: {levels[:5]}"
        skipped = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
        assert skipped == [], f"a heading skips a level (from level {skipped[0][0]} to {skipped[0][1]})" if skipped else ""

    def test_link_texts_say_where_they_go(self, path):
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type != "markdown":
                continue
            for text, _ in re.findall(r"\[([^\]]+)\]\(([^)]+)\)", cell.source):
                vague = text.strip().lower().rstrip(".") in {"here", "link", "this", "click here", "this link", "more", "see"}
                assert not vague, f"cell {index}: the link text {text!r} does not say where the link goes"

    def test_no_rainbow_colour_map(self, path):
        """"jet" (and its kind) is not perceptually uniform and misleads colour-blind readers: heat maps use
        course_utils.plotting.HEATMAP_CMAP, signed values DIVERGING_CMAP."""
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type == "code":
                found = re.search(r"""["'](jet|rainbow|gist_rainbow|hsv|nipy_spectral)["']""", cell.source)
                assert found is None, f"cell {index} uses the colour map {found.group(1)!r}" if found else ""

    def test_every_figure_has_a_text_alternative(self, path):
        """A cell that draws a figure says in words what the figure shows (its `mystnb.image.alt`, which the
        site and the slides give the image as its alt text): not "figure 1", but what a reader would see.
        (The slideshow test checks the same of every cell whose run drew a picture.)"""
        missing, vague = [], []
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type != "code" or not nbtools.FIGURE_CELL.search(cell.source) or _defines_only(cell.source):
                continue
            alt = nbtools.alt_text(cell)
            if not alt:
                missing.append(index)
            elif len(alt) < 40 or re.match(r"(figure|image|plot|picture|graph)\b(\s+\d+)?\W*$", alt, re.I):
                vague.append((index, alt))
        assert missing == [], f"cells that draw a figure with no mystnb.image.alt: {missing}"
        assert vague == [], f"text alternatives that do not say what the figure shows: {vague}"

    def test_outputs_are_small(self, path):
        for index, cell in enumerate(_read(path).cells):
            size = sum(len(_output_text(o)) for o in cell.get("outputs", []))
            assert size <= MAX_OUTPUT_CHARS, f"cell {index} stores {size} characters of output (limit {MAX_OUTPUT_CHARS})"

    def test_only_checked_cells_keep_outputs(self, path):
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type != "code":
                continue
            if nbtools.is_checked(cell):
                assert cell.outputs, f"cell {index} is tagged {nbtools.CHECK_TAG} but stores no answer to check"
                assert cell.execution_count is not None, f"cell {index}: checked cells need their execution count"
                assert nbtools.KEEP_TAG in cell.metadata.get("tags", []), f"cell {index}: add the {nbtools.KEEP_TAG} tag"
            else:
                assert not cell.outputs, f"cell {index} keeps outputs but is not tagged {nbtools.CHECK_TAG}"
                assert cell.execution_count is None, f"cell {index} keeps an execution count but is not checked"

    def test_checks_at_least_one_answer(self, path):
        assert any(nbtools.is_checked(c) for c in _read(path).cells), "no cell is tagged nbval-check-output"

    def test_starts_with_badge_then_title_and_install_cell_first(self, path):
        repository, branch = nbtools.course_location()
        cells = _read(path).cells
        assert cells[0].cell_type == "markdown"
        assert cells[0].source == nbtools.badge_source(path.name, repository, nbtools.student_branch())
        first = next(i for i, c in enumerate(cells) if c.cell_type == "code")
        first_code, note = cells[first], cells[first - 1]
        assert first_code.source == nbtools.install_source(repository, branch)
        # the note right above it says what it is for (slides and the website leave both out)
        assert nbtools.NOTE_TAG in note.metadata.get("tags", [])
        assert "next cell" in note.source.lower()
        assert note.metadata.get("slideshow", {}).get("slide_type") == "skip"
        assert "'google.colab' in sys.modules".replace("'", '"') in first_code.source
        assert not re.search(r"torch(vision)?\s*[=<>~]=", first_code.source), "the install cell must not pin torch"
        title = cells[1]
        assert title.cell_type == "markdown"
        assert title.source.startswith(f"# {path.name[:2]} ")
        assert "What you will learn" in title.source

    def test_has_slide_metadata(self, path):
        cells = _read(path).cells
        def slide(cell):
            return cell.metadata.get("slideshow", {}).get("slide_type")

        assert slide(cells[0]) == "skip"
        assert slide(next(c for c in cells if c.cell_type == "code")) == "skip"
        assert slide(cells[1]) == "slide", "the title cell should start a slide"
        sections = [c for c in cells if c.cell_type == "markdown" and c.source.startswith("## ")]
        assert all(slide(c) == "slide" for c in sections), "section cells should start slides"
        subsections = [c for c in cells if c.cell_type == "markdown" and c.source.startswith("### ")]
        assert all(slide(c) in ("slide", "subslide") for c in subsections), "subsections should start subslides"
        # The rest is planned (python -m tools.slide_plan): every cell says how it goes on, and a figure comes
        # in as a fragment, or starts a subslide where it does not fit on the slide before it.
        planned = [c for c in cells if "solution" not in c.metadata.get("tags", [])]
        unplanned = [index for index, c in enumerate(planned) if slide(c) is None]
        assert not unplanned, f"cells {unplanned[:5]} have no slide type: run python -m tools.slide_plan {path.stem}"
        figures = [c for c in planned if c.cell_type == "code" and nbtools.FIGURE_CELL.search(c.source)]
        assert all(slide(c) in ("fragment", "subslide", "slide") for c in figures), \
            "figure cells should be slide fragments, or start a subslide (python -m tools.slide_plan)"

    def test_headings_start_their_cells(self, path):
        # A slide starts with a cell: a heading in the middle of one would land on the previous slide.
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type != "markdown":
                continue
            inner, fenced = [], False
            for line in cell.source.splitlines()[1:]:
                fenced ^= line.lstrip().startswith("```")  # a '# comment' in a code block is no heading
                if not fenced and re.match(r"#{1,3} ", line):
                    inner.append(line)
            assert not inner, f"cell {index}: start a new markdown cell at {inner[0]!r}, so that it starts a slide"

    def test_ends_with_summary_exercises_and_the_notes_on_the_slides(self, path):
        cells = _read(path).cells
        sections = [line.strip() for c in cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("## ")]
        if sections[-1] == nbtools.SLIDE_NOTES_HEADING:
            sections.pop()
            start = next(i for i, c in enumerate(cells) if c.source.startswith(nbtools.SLIDE_NOTES_HEADING))
            untagged = [i for i in range(start, len(cells)) if nbtools.SLIDE_NOTES_TAG not in cells[i].metadata.get("tags", [])]
            assert not untagged, f"cells {untagged} of the notes on the slides need the {nbtools.SLIDE_NOTES_TAG} tag"
        assert sections[-2:] == ["## Summary", "## Exercises"], f"the last sections are {sections[-2:]}"
        tagged = [i for i, c in enumerate(cells) if nbtools.SLIDE_NOTES_TAG in c.metadata.get("tags", [])]
        assert all(cells[i].source.startswith(nbtools.SLIDE_NOTES_HEADING) or i - 1 in tagged for i in tagged), \
            "the cells tagged slide-notes form one section at the end"

    def test_lessons_leave_corrections_of_the_slides_to_the_closing_notes(self, path):
        """A correction of a slide is for readers of the slides: it goes in the closing section, and the
        lesson stays about the lesson."""
        for index, cell in enumerate(_read(path).cells):
            if cell.cell_type == "markdown" and nbtools.SLIDE_NOTES_TAG not in cell.metadata.get("tags", []):
                found = re.search(r"(the|a|another|one) (lecture )?slide(s|'s|s')? (shows|writes|says|gives|computes|asks|rounds|"
                                  r"lists|text)|extracted text|lost a row|slide is wrong", cell.source, re.IGNORECASE)
                assert not found, f"cell {index}: {found.group(0)!r}: move the correction to '{nbtools.SLIDE_NOTES_HEADING}'"

    def test_is_in_sync_with_the_tools(self, path):
        original, expected = nbtools.processed(path)
        assert original == expected, f"{path.name} is not stripped or synced: run `make sync-notebooks`"

    def test_is_listed_in_readme(self, path):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert f"(notebooks/{path.name})" in readme, f"add {path.name} to the README's table of notebooks"
        repository, branch = nbtools.course_location()
        assert nbtools.colab_url(path.name, repository, nbtools.student_branch()) in readme, \
            f"the README lacks the Colab badge of {path.name} (opening the student edition)"


def test_readme_lists_no_missing_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\(notebooks/(\d\d_[^)]+\.ipynb)\)", readme))
    existing = {p.name for p in NOTEBOOK_PATHS}
    assert listed <= existing, f"README lists notebooks that do not exist: {listed - existing}"


def test_notebooks_are_numbered_without_duplicates():
    numbers = [p.name[:2] for p in NOTEBOOK_PATHS]
    assert len(numbers) == len(set(numbers)), f"two notebooks share a number: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=_ids(NOTEBOOK_PATHS))
class TestExercises:
    """Every exercise has a worked solution that a tool can find, and the student edition has none."""

    def test_every_exercise_has_a_solution(self, path):
        nb = _read(path)
        found = editions.exercises(nb)
        assert found, f"{path.name}: no exercise (a markdown cell starting **1.**) after '## Exercises'"
        assert [e.number for e in found] == list(range(1, len(found) + 1)), f"{path.name}: exercises are not numbered 1, 2, ..."
        for exercise in found:
            assert exercise.solutions, f"{path.name}: exercise {exercise.number} has no cell tagged '{editions.SOLUTION_TAG}'"

    def test_solutions_sit_with_their_exercise(self, path):
        nb = _read(path)
        inside = {i for e in editions.exercises(nb) for i in e.solutions}
        tagged = {i for i, c in enumerate(nb.cells) if editions.is_solution(c)}
        assert tagged == inside, f"{path.name}: cells {sorted(tagged - inside)} are tagged solution outside an exercise"

    def test_checked_exercises_have_an_answer_cell_then_solution_then_check(self, path):
        nb = _read(path)
        for exercise in editions.exercises(nb):
            if not exercise.checks:
                continue
            answer = [i for i in exercise.cells if nb.cells[i].cell_type == "code" and nb.cells[i].source == "answer = None"]
            assert len(answer) == 1, f"{path.name}: exercise {exercise.number} needs one cell 'answer = None' for the student"
            assert answer[0] < min(exercise.solutions) and max(exercise.solutions) < min(exercise.checks), \
                f"{path.name}: exercise {exercise.number}: the answer cell, then the solution, then the check"
            for index in exercise.checks:  # the solution is right: CI compares the stored "Correct!"
                assert nbtools.is_checked(nb.cells[index]), f"{path.name}: check cell {index} must be tagged {nbtools.CHECK_TAG}"
                assert nb.cells[index].outputs[0]["data"]["text/plain"].startswith("Correct!"), f"{path.name}: cell {index}"

    def test_the_student_edition_has_no_solution_and_keeps_the_checks(self, path):
        nb = _read(path)
        student = editions.student_edition(nb)
        solutions = {nb.cells[i].source for e in editions.exercises(nb) for i in e.solutions}
        assert not any(editions.is_solution(c) or c.source in solutions for c in student.cells)
        assert not any(c.get("outputs") for c in student.cells), "the student edition stores outputs"
        links = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", nbformat.writes(student))
        assert links and all(f"/blob/{nbtools.student_branch()}/" in link for link in links), \
            f"every Colab link opens the student edition, not the notebook with solutions: {links}"
        checks = [nb.cells[i].source for e in editions.exercises(nb) for i in e.checks]
        assert [student.cells[i].source for e in editions.exercises(student) for i in e.checks] == checks
        # the solutions left out, the line saying where they are added under the badge
        assert len(student.cells) == len(nb.cells) - len([c for c in nb.cells if editions.is_solution(c)]) + 1


def test_the_package_uses_no_rainbow_colour_map():
    for path in sorted((ROOT / "course_utils").glob("*.py")):
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())  # comments may name it
        found = re.search(r"""["'](jet|rainbow|gist_rainbow|hsv|nipy_spectral)["']""", code)
        assert found is None, f"{path.name} uses the colour map {found.group(1)!r}: use plotting.HEATMAP_CMAP" if found else ""
