"""Check a page open in Playwright against WCAG 2.1 level A and AA with axe-core.

axe-core comes inside the axe-playwright-python package, so the check needs no network. Only
violations of impact "serious" or "critical" fail; each is reported as "page: rule (impact): element,
what is wrong". A violation that lies in a library the course cannot change (JupyterLab, reveal.js,
MathJax, Sphinx's theme) is either fixed in the course's own template or CSS or listed in ALLOWED below,
with the reason and where it is reported upstream.
"""

from __future__ import annotations

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IMPACTS = ("serious", "critical")

# (rule, a piece of the element's CSS selector or of its opening tag) -> why it is allowed, and the
# upstream report. Reviewed: each lies in JupyterLab's own interface or in a library's control, none in
# what the course writes.
ALLOWED: dict[tuple[str, str], str] = {
    ("aria-allowed-attr", "jp-button"): (
        "JupyterLab's toolbar buttons (jp-button) carry aria-pressed, which their role does not allow; "
        "reported upstream: https://github.com/jupyterlab/jupyterlab/issues/16891"),
    ("aria-allowed-attr", ".jp-DebuggerBugButton"): (
        "the same toolbar button, JupyterLab's debugger switch: https://github.com/jupyterlab/jupyterlab/issues/16891"),
    ("aria-input-field-name", ".jp-InputArea"): (
        "JupyterLab gives its cells' code editors (CodeMirror) no accessible name; CodeMirror leaves the label "
        "to the application (https://github.com/codemirror/dev/issues/1127), and JupyterLab's issue is "
        "https://github.com/jupyterlab/jupyterlab/issues/10347"),
    ("aria-input-field-name", ".cm-content"): (
        "the same: a cell's CodeMirror editor without a name, https://github.com/jupyterlab/jupyterlab/issues/10347"),
    ("aria-input-field-name", "noUi-handle"): (
        "ipywidgets 8 draws a slider's handle with noUiSlider, whose handle (role slider) gets no aria-label, "
        "though the widget shows its description beside it; https://github.com/leongersen/noUiSlider/issues/1019"),
    ("aria-required-children", ".jp-WindowedPanel-viewport"): (
        "JupyterLab's windowed notebook list (role list) holds cells that are not list items; "
        "https://github.com/jupyterlab/jupyterlab/issues/16890"),
}


def violations(page, name: str, context=None, allowed: dict[tuple[str, str], str] | None = None) -> list[str]:
    """The serious and critical WCAG 2.1 A/AA violations on the open page, outside the allow-list."""
    from axe_playwright_python.sync_playwright import Axe

    allowed = ALLOWED if allowed is None else allowed
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = Axe().run(page, context=context, options=options).response
    found = []
    for violation in results["violations"]:
        if violation.get("impact") not in IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node.get("target", []))
            where = f"{target} {node.get('html', '')}"  # the selector axe chose, and the element's own tag
            if any(rule == violation["id"] and piece in where for rule, piece in allowed):
                continue
            summary = (node.get("failureSummary") or violation["help"]).replace("\n", " ")
            found.append(f"{name}: {violation['id']} ({violation['impact']}): {target[:120]}: {summary[:200]}")
    return found


def rules_checked(page) -> int:
    """How many axe rules the WCAG 2.1 A/AA tags select (for the reports)."""
    return page.evaluate(f"axe.getRules({WCAG_TAGS!r}).length")
