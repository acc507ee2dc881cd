"""tools/accessibility.py: axe-core's WCAG 2.1 A/AA check, as the site, slides and JupyterLab tests use it.

The check itself is tested here on small pages whose faults are known, so that a check that finds
nothing on the course's pages means the pages are clean, not that the check is blind.
"""

import pytest

from tools import accessibility

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="  # one pixel

FAULTY = f"""<!doctype html><html><head><title>faults</title></head><body><main>
<h1>A page with known faults</h1>
<img src="{PNG}">
<p style="color: #aaa; background: #fff">Grey on white, too faint to read.</p>
<button></button>
</main></body></html>"""
CLEAN = f"""<!doctype html><html lang="en"><head><title>clean</title></head><body><main>
<h1>A page without faults</h1>
<img alt="A blue square" src="{PNG}">
<p style="color: #222; background: #fff">Dark on white.</p>
<button>Run the cell</button>
</main></body></html>"""


@pytest.fixture
def page(browser):
    context = browser.new_context(offline=True)
    yield context.new_page()
    context.close()


def test_the_check_finds_each_known_fault(page):
    page.set_content(FAULTY)
    found = accessibility.violations(page, "faulty")
    rules = {line.split(": ")[1].split(" ")[0] for line in found}
    assert {"image-alt", "color-contrast", "button-name", "html-has-lang"} <= rules, found
    assert all(line.startswith("faulty: ") for line in found)
    assert accessibility.rules_checked(page) > 50  # the WCAG 2.1 A/AA rules, not a handful


def test_a_clean_page_passes(page):
    page.set_content(CLEAN)
    assert accessibility.violations(page, "clean") == []


def test_an_allowed_violation_is_left_out_and_only_that_one(page):
    page.set_content(FAULTY)
    allowed = {("image-alt", "img"): "a test: the library's image without alt"}
    found = accessibility.violations(page, "faulty", allowed=allowed)
    assert not any(" image-alt " in line for line in found)
    assert any(" color-contrast " in line for line in found)
