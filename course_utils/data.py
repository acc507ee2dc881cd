"""Images and datasets: reading photos safely, the course's sample photos, ImageNet preprocessing,
MNIST and cats vs dogs, each with an honest offline fallback.

The notebooks use `data.` for all of them; they live in two modules, course_utils/photos.py (image
files, the sample photos, ImageNet's preprocessing and classes: notebook 04) and
course_utils/datasets.py (MNIST, cats vs dogs and the generated datasets: notebooks 06 to 09).
"""

from . import datasets, photos
from .datasets import *  # noqa: F403 - every name of __all__ below
from .photos import *  # noqa: F403 - the same

__all__ = [*photos.__all__, *datasets.__all__]
