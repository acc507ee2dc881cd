"""pytest setup shared by the unit tests and the notebook runs (nbval).

Notebooks run in smoke mode, headless, with stderr (warnings, progress bars) left out of the
comparison so that only the answers a lesson teaches are checked.
"""

import os
from pathlib import Path

# Set before any kernel starts: nbval's kernels inherit this environment.
os.environ.setdefault("COURSE_SMOKE", "1")
# Tests never download weights or datasets (hundreds of MB): they take the offline fallbacks,
# which run the same code. Set COURSE_OFFLINE=0 to let a test run reach the network.
os.environ.setdefault("COURSE_OFFLINE", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each, so kernels do not fight over the same cores.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import matplotlib  # noqa: E402 - after the environment above, which kernels and workers must inherit

matplotlib.use("Agg")  # the test process itself never opens a window; kernels keep their inline backend
# The kernels (not this process, whose matplotlib has read its settings) draw with the presentation fonts,
# as `make slides` does: the slideshows built from the whole site's runs (tests/test_slides.py, `make
# slow-test`) are the slides a lecturer gets.
os.environ.setdefault("MATPLOTLIBRC", str(Path(__file__).resolve().parent / "tools" / "slides_template" / "matplotlibrc"))


def pytest_collectstart(collector):
    """Do not compare stderr of notebook cells: warnings and progress bars differ run to run."""
    if hasattr(collector, "skip_compare") and "stderr" not in collector.skip_compare:
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


# -- the longest files first -------------------------------------------------------------------------------------
# `make test` shares whole files out to its two workers (`--dist loadfile`) in the order they are collected (and not
# by their number of tests: `--no-loadscope-reorder`, in pyproject.toml). The longest ones go first, so that the last
# files to run are short ones and neither worker waits long for the other at the end. Seconds each took in `make
# test` (junit report, 2-core machine); the other files keep their order.
LONGEST_FIRST = {
    "tests/test_browser.py": 90, "tests/test_grade.py": 55, "notebooks/07_training_dogs_vs_cats.ipynb": 43,
    "notebooks/10_beyond_one_machine.ipynb": 40, "notebooks/09_after_resnet.ipynb": 38,
    "notebooks/08_what_the_network_looks_at.ipynb": 32, "notebooks/04_alexnet_filters_feature_maps.ipynb": 30,
    "tests/test_models.py": 26, "notebooks/05_architectures.ipynb": 19,
    "notebooks/11_efficient_and_designed_cnns.ipynb": 18, "notebooks/06_training_lenet_mnist.ipynb": 17,
    "tests/test_widgets.py": 16, "tests/test_answer_key.py": 13,
    "notebooks/02_convolution_by_hand.ipynb": 12, "notebooks/03_padding_stride_pooling.ipynb": 11,
    "notebooks/01_mlp_to_cnn.ipynb": 11, "tests/test_training.py": 10,
}


def pytest_collection_modifyitems(session, config, items):
    root = Path(__file__).resolve().parent
    files = {}
    for item in items:
        try:
            name = item.path.resolve().relative_to(root).as_posix()
        except ValueError:
            name = str(item.path)
        files.setdefault(name, []).append(item)
    order = sorted(files, key=lambda name: -LONGEST_FIRST.get(name, 0))  # a stable sort: the rest as collected
    items[:] = [item for name in order for item in files[name]]
