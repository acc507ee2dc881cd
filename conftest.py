"""pytest setup shared by the unit tests and the notebook runs (nbval).

Notebooks run in smoke mode, headless, with stderr (warnings, progress bars) left out of the
comparison so that only the answers a lesson teaches are checked.
"""

import os

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


def pytest_collectstart(collector):
    """Do not compare stderr of notebook cells: warnings and progress bars differ run to run."""
    if hasattr(collector, "skip_compare") and "stderr" not in collector.skip_compare:
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)
