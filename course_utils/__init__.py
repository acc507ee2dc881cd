"""Helpers for the CNN course notebooks, one module per concern:

settings (the COURSE_* environment variables, read once), device (where code runs, seeds, smoke
mode), by_hand (convolution and pooling in NumPy), shapes (output sizes, parameter and multiply-add
tables), data (photos and datasets with offline fallbacks), models (the architectures, torch
alone), weights (pretrained weights with an offline fallback, transfer learning), training (fit,
evaluate, checkpoints; DistributedDataParallel under torchrun), train (`python -m course_utils.train`,
one process or several), explain (saliency, SmoothGrad, occlusion, Grad-CAM), plotting, widgets
(interactive demos that also work as plain figure calls), compare (checks that show the numbers they
compared) and exercises.
Each module names the notebook that teaches what it holds.
"""

__version__ = "0.1.0"
