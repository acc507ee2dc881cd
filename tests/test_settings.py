"""course_utils.settings: every COURSE_* variable is read in one place, with one parser, and every
consumer (device, data, downloads, tools/slides.py) agrees on what each spelling means."""

from pathlib import Path

import pytest

from course_utils import _download, data, device, settings
from tools import slides

ON = ["1", "true", "yes", "on", "TRUE", " Yes "]
OFF = ["0", "false", "no", "off", "", "False"]
VARIABLES = ["COURSE_SMOKE", "COURSE_OFFLINE", "COURSE_DEVICE", "COURSE_DATA", "CI"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _consumers_of_smoke() -> dict[str, bool]:
    return {"settings": settings.smoke(), "device.smoke_mode": device.smoke_mode(),
            "device.for_mode": device.for_mode(full=False, smoke=True),
            "slides --smoke default": slides.build_parser().parse_args([]).smoke}


@pytest.mark.parametrize("value, expected", [(v, True) for v in ON] + [(v, False) for v in OFF])
def test_every_consumer_reads_course_smoke_the_same_way(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_SMOKE", value)
    assert _consumers_of_smoke() == dict.fromkeys(_consumers_of_smoke(), expected)


@pytest.mark.parametrize("ci, expected", [("true", True), ("1", True), ("github-actions", True), ("false", False)])
def test_ci_turns_smoke_mode_on_everywhere_unless_course_smoke_says_otherwise(monkeypatch, ci, expected):
    monkeypatch.setenv("CI", ci)
    assert set(_consumers_of_smoke().values()) == {expected}
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert set(_consumers_of_smoke().values()) == {False}


@pytest.mark.parametrize("value, expected", [(v, True) for v in ON] + [(v, False) for v in OFF])
def test_every_consumer_reads_course_offline_the_same_way(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert settings.offline() is expected
    reason = _download.why_no_download("https://example.invalid/x", timeout=0.01)
    assert (reason == "COURSE_OFFLINE is set") is expected


@pytest.mark.parametrize("name", ["COURSE_SMOKE", "COURSE_OFFLINE"])
@pytest.mark.parametrize("value", ["maybe", "2", "onn"])
def test_an_unknown_value_is_an_error_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}={value!r}"):
        settings.smoke() if name == "COURSE_SMOKE" else settings.offline()
    if name == "COURSE_SMOKE":
        with pytest.raises(ValueError, match=name):
            device.smoke_mode()
        with pytest.raises(ValueError, match=name):
            slides.build_parser()
    else:
        with pytest.raises(ValueError, match=name):
            _download.why_no_download("https://example.invalid/x", timeout=0.01)


@pytest.mark.parametrize("value, expected", [("cpu", "cpu"), (" CPU ", "cpu"), ("", None)])
def test_course_device_is_read_once_for_every_consumer(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_DEVICE", value)
    assert settings.device() == expected
    if expected is not None:
        assert device.get_device().type == expected


def test_an_unknown_device_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="COURSE_DEVICE='tpu'.*cuda, mps, cpu"):
        settings.device()
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        device.get_device()


@pytest.mark.parametrize("value", ["", "  "])
def test_course_data_defaults_to_the_cache_folder(monkeypatch, value):
    monkeypatch.setenv("COURSE_DATA", value)
    assert settings.data_root() == data.data_root() == Path.home() / ".cache" / "cnn-course"


def test_course_data_is_where_datasets_go(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "datasets"))
    assert settings.data_root() == data.data_root() == tmp_path / "datasets"
    monkeypatch.setenv("COURSE_DATA", "~/course-data")
    assert data.data_root() == Path.home() / "course-data"


def test_no_other_module_reads_the_course_variables():
    root = Path(__file__).resolve().parents[1]
    readers = []
    for path in [*(root / "course_utils").glob("*.py"), *(root / "tools").glob("*.py"), *(root / "benchmarks").glob("*.py")]:
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        for name in VARIABLES:
            if f'environ.get("{name}"' in text or f'environ["{name}"]' in text or f"getenv(\"{name}\"" in text:
                readers.append(f"{path.name} reads {name}")
    assert readers == []
