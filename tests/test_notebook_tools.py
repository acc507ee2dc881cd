"""tools/notebooks.py: the one command that rewrites badges and install cells, and the stripper."""

import nbformat
import pytest

from tools import notebooks as nbtools


def _notebook_with_outputs():
    nb = nbformat.v4.new_notebook()
    checked = nbformat.v4.new_code_cell("1 + 1", metadata={"tags": ["nbval-check-output"]}, execution_count=3)
    checked.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2", "text/html": "<b>2</b>"}, execution_count=3)
    ]
    plain = nbformat.v4.new_code_cell("print('hi')", execution_count=4,
                                      metadata={"collapsed": True, "slideshow": {"slide_type": "fragment"}})
    plain.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 Title"), checked, plain]
    return nb


def test_sync_puts_badge_first_and_install_cell_before_other_code():
    nb = _notebook_with_outputs()
    nbtools.sync_notebook(nb, "01_intro.ipynb", "someone/fork", "dev", "handout")
    assert nb.cells[0].source == nbtools.badge_source("01_intro.ipynb", "someone/fork", "handout")
    assert "google.com/github/someone/fork/blob/handout/notebooks/01_intro.ipynb" in nb.cells[0].source
    assert nb.cells[1].source == "# 01 Title"
    assert nb.cells[2].source == nbtools.COLAB_NOTE
    assert nbtools.NOTE_TAG in nb.cells[2].metadata["tags"]
    assert nb.cells[3].source == nbtools.install_source("someone/fork", "dev")
    assert "git+https://github.com/someone/fork@dev" in nb.cells[3].source
    assert nb.cells[4].source == "1 + 1"


def test_sync_moves_an_existing_colab_note_to_the_install_cell():
    nb = _notebook_with_outputs()
    note = "The next cell matters only in Google Colab: there it installs the helpers."
    nb.cells[1:1] = [nbformat.v4.new_markdown_cell(note), nbformat.v4.new_markdown_cell("Some prose first.")]
    nbtools.sync_notebook(nb, "01_intro.ipynb", "o/r", "main", "student")
    sources = [c.source for c in nb.cells]
    assert sources[1:5] == ["# 01 Title", "Some prose first.", note, nbtools.install_source("o/r", "main")]
    assert nb.cells[3].metadata == {"tags": [nbtools.NOTE_TAG], "slideshow": {"slide_type": "skip"}}


def test_sync_rewrites_existing_cells_instead_of_adding_new_ones():
    nb = _notebook_with_outputs()
    nbtools.sync_notebook(nb, "01_intro.ipynb", "old/place", "main", "student")
    nbtools.sync_notebook(nb, "01_intro.ipynb", "new/place", "main", "student")
    assert len(nb.cells) == 6  # badge, title, Colab note, install cell and the two cells
    text = nbformat.writes(nb)
    assert "old/place" not in text
    assert text.count("new/place") == 2


def test_strip_keeps_answers_of_checked_cells_only():
    nb = _notebook_with_outputs()
    nbtools.strip_notebook(nb)
    checked, plain = nb.cells[1], nb.cells[2]
    assert checked.execution_count == 3
    assert checked.outputs[0]["data"] == {"text/plain": "2"}
    assert "keep_output" in checked.metadata["tags"]
    assert plain.outputs == []
    assert plain.execution_count is None
    assert plain.metadata == {"slideshow": {"slide_type": "fragment"}}  # editor state dropped, slides kept


def test_readme_badges_follow_the_location():
    text = "[![b](x)](https://colab.research.google.com/github/a/b/blob/main/notebooks/00_setup.ipynb)"
    new = nbtools.sync_readme(text, "c/d", "dev")
    assert new == "[![b](x)](https://colab.research.google.com/github/c/d/blob/dev/notebooks/00_setup.ipynb)"


def test_location_is_read_from_pyproject(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.course]\ngithub_repository = "x/y"\ngithub_branch = "b"\nstudent_branch = "s"\n')
    assert nbtools.course_location(pyproject) == ("x/y", "b")
    assert nbtools.student_branch(pyproject) == "s"


def test_unknown_notebook_name_is_reported():
    with pytest.raises(SystemExit, match="no such notebook"):
        nbtools.notebook_paths(["99_missing"])


def test_strip_drops_stderr_of_checked_cells():
    nb = _notebook_with_outputs()
    nb.cells[1].outputs.insert(0, nbformat.v4.new_output("stream", name="stderr", text="[ WARN:0@2.9] noise\n"))
    nbtools.strip_notebook(nb)
    assert [o.output_type for o in nb.cells[1].outputs] == ["execute_result"]


def test_sync_adds_slide_metadata_without_overriding_the_authors():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 03 Title"),
        nbformat.v4.new_markdown_cell("## A section"),
        nbformat.v4.new_markdown_cell("### A subsection"),
        nbformat.v4.new_code_cell("show_matrix(X)\nplt.show()"),
        nbformat.v4.new_code_cell("output_size_calculator()"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## Notes", metadata={"slideshow": {"slide_type": "notes"}}),
    ]
    nbtools.sync_notebook(nb, "03_x.ipynb", "o/r", "main", "student")
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert kinds == ["skip", "slide", "slide", "subslide", "skip", "skip", "fragment", "fragment", None, "notes"]


@pytest.mark.parametrize("smoke", [True, False])
def test_run_notebook_sets_the_mode_in_the_kernel_only(smoke, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    nb = nbformat.v4.new_notebook()
    # course_utils.settings, which smoke_mode() asks, without the import of torch that course_utils.device makes
    nb.cells = [nbformat.v4.new_code_cell("import os; from course_utils.settings import smoke\n"
                                          "print(os.environ['COURSE_SMOKE'], smoke())")]
    nbtools.run_notebook(nb, smoke=smoke, timeout=120)
    assert nb.cells[0].outputs[0]["text"].split() == (["1", "True"] if smoke else ["0", "False"])
    assert nbtools.os.environ["COURSE_SMOKE"] == "1", "this process's environment must not change"


def test_a_reply_that_a_poll_missed_is_found_by_the_next_slice():
    """tools.grade_runner.poll_in_slices: the workaround for jupyter/nbclient#312 used by every notebook run."""
    import asyncio
    import time
    from queue import Empty

    from tools.grade_runner import poll_in_slices

    class Channel:  # the first poll misses the reply that is already there and waits out its timeout
        def __init__(self):
            self.polls = []

        async def get_msg(self, timeout=None):
            self.polls.append(timeout)
            if len(self.polls) == 1:
                await asyncio.sleep(timeout)
                raise Empty
            return {"msg_type": "execute_reply"}

    channel = Channel()
    poll_in_slices(channel, seconds=0.2)
    started = time.monotonic()
    assert asyncio.run(channel.get_msg(timeout=30)) == {"msg_type": "execute_reply"}
    assert time.monotonic() - started < 2
    assert channel.polls[0] == 0.2

    class Silent:
        async def get_msg(self, timeout=None):
            await asyncio.sleep(timeout)
            raise Empty

    silent = Silent()
    poll_in_slices(silent, seconds=0.2)
    started = time.monotonic()
    with pytest.raises(Empty):  # a reply that never comes still times out when the cell's time is up
        asyncio.run(silent.get_msg(timeout=0.5))
    assert 0.45 < time.monotonic() - started < 1.5
