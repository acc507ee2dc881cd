"""Helpers for the CNN course notebooks, one module per concern:

settings (the COURSE_* environment variables, read on every call), device (where code runs, seeds, smoke
mode), by_hand (convolution and pooling in NumPy), shapes (output sizes, parameter and multiply-add
tables), data (photos and datasets with offline fallbacks), models (the architectures, torch
alone), weights (pretrained weights with an offline fallback, transfer learning), training (fit,
evaluate, checkpoints; DistributedDataParallel under torchrun), train (`python -m course_utils.train`,
one process or several), explain (saliency, SmoothGrad, occlusion, Grad-CAM), drawing (a digit drawn
by hand, framed like MNIST and written out as the network sees it), plotting, widgets
(interactive demos that also work as plain figure calls), compare (checks that show the numbers they
compared) and exercises.
Each module names the notebook that teaches what it holds. Imports sit at the top of a module, except
for packages that are optional (ipykernel) or slow and needed by one function that is not always used
(ipywidgets, scikit-learn, torchvision's datasets, matplotlib in the training loop).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("course-utils")  # written once, in pyproject.toml
except PackageNotFoundError:  # run from a folder that was never installed
    __version__ = "unknown"

import warnings as _warnings

# torch 2.1 warns four times ("'has_cuda' is deprecated", ...) from its own torch.overrides the first time a
# `with torch.device(...)` block runs (notebook 05 builds models on the meta device): its own deprecated
# names, read by itself, nothing a student did or can change. Later releases do not.
_warnings.filterwarnings("ignore", message="'has_(cuda|cudnn|mps|mkldnn)' is deprecated", category=UserWarning,
                         module="torch.overrides")
