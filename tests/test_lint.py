"""Lint and import order (ruff, configured in pyproject.toml) over the package, tools, benchmarks,
tests and notebooks, and the pre-commit configuration that runs the same checks before a commit."""

import re
import subprocess
import sys

import yaml
from helpers import ROOT


def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True)
    assert "No module named ruff" not in run.stderr, "ruff is not installed: it is in the test extra (make test)"
    assert run.returncode == 0, "ruff found problems (`ruff check --fix .` fixes some):\n" + run.stdout[-4000:]


def test_every_noqa_says_why():
    bare = []
    for path in [*ROOT.glob("*.py"), *(ROOT / "course_utils").glob("*.py"), *(ROOT / "tools").glob("*.py"),
                 *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"#\s*noqa(?::\s*[A-Z]+\d+(?:,\s*[A-Z]+\d+)*)?\s*$", line):
                bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert bare == [], f"add the reason after the code, as in `# noqa: BLE001 - why`: {bare}"


def test_pre_commit_runs_the_ruff_of_the_tests_and_the_notebook_sync():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: (repo, hook) for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "sync-notebooks"} <= set(hooks)
    pinned = re.search(r"^ruff==(\S+)$", (ROOT / "constraints" / "ci.txt").read_text(), re.MULTILINE)
    assert pinned, "constraints/ci.txt pins the ruff that CI runs"
    assert hooks["ruff"][0]["rev"] == f"v{pinned.group(1)}", "keep the hook's rev equal to the ruff CI pins"
    entry = hooks["sync-notebooks"][1]["entry"].split()
    assert entry[:3] == ["python", "-m", "tools.notebooks"]
    check = subprocess.run([sys.executable, "-m", "tools.notebooks", "check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_tools_and_benchmarks_run_as_modules_without_path_tricks():
    offenders = [str(path.relative_to(ROOT)) for folder in ("course_utils", "tools", "benchmarks", "tests")
                 for path in (ROOT / folder).glob("*.py") if "sys.path.insert" in path.read_text(encoding="utf-8")
                 and path.name != "test_lint.py"]
    assert offenders == [], "run them as `python -m tools.NAME` / `python -m benchmarks.NAME` instead"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "python tools/" not in makefile
    assert "python benchmarks/" not in makefile
    for folder in ("tools", "benchmarks"):  # `python -m folder.name` needs the folder to be a package
        assert (ROOT / folder / "__init__.py").is_file(), folder


def _text_without_encoding(path) -> list[str]:
    """Calls that read or write text in the platform's encoding: open() in text mode, read_text() and
    write_text() without encoding=. On Windows that encoding is not UTF-8, and a notebook or a lock file
    with one non-ASCII character would not read back."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("read_text", "write_text"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
        elif name == "open" and isinstance(node.func, ast.Name):
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            if not (isinstance(mode, ast.Constant) and "b" in str(mode.value)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} open()")
    return found


def test_the_package_and_tools_read_and_write_text_as_utf_8():
    found = [hit for folder in ("course_utils", "tools", "benchmarks") for path in sorted((ROOT / folder).glob("*.py"))
             for hit in _text_without_encoding(path)]
    assert found == [], f"give encoding='utf-8' (Windows reads and writes text in another encoding otherwise): {found}"


def test_the_encoding_check_finds_a_call_without_one(tmp_path):
    sample = ROOT / "tests" / "_encoding_sample.py"
    try:
        sample.write_text("from pathlib import Path\nPath('a').read_text()\nopen('b')\nopen('c', 'rb')\n"
                          "Path('d').write_text('x', encoding='utf-8')\n", encoding="utf-8")
        assert [hit.split(" ")[1] for hit in _text_without_encoding(sample)] == ["read_text()", "open()"]
    finally:
        sample.unlink()


def test_checkouts_keep_lf_line_endings():
    """A Windows checkout with git's default (autocrlf) would turn the notebooks' line endings into CRLF,
    and every notebook would differ from what the tools write: .gitattributes keeps them LF."""
    rules = (ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert re.search(r"^\* text=auto eol=lf$", rules, re.MULTILINE), rules
    crlf = [p.name for p in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "constraints").rglob("*.txt")] if b"\r\n" in p.read_bytes()]
    assert crlf == [], f"files with CRLF line endings: {crlf}"
