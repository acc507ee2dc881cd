"""Photos: reading an image file safely, the course's sample photos, and ImageNet's preprocessing and
class names.

First used in notebooks/04_alexnet_filters_feature_maps.ipynb. `course_utils.data` offers these names
too, with the datasets (course_utils/datasets.py).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from . import _arguments

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "load_image", "sample_image", "sample_image_path", "sample_image_names",
           "imagenet_preprocess", "imagenet_categories", "ToPIL"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_image(path) -> np.ndarray:
    """Read an image file as an RGB uint8 array of shape height x width x 3.

    OpenCV returns None for a missing or unreadable file; this raises an error that names it.
    """
    import cv2

    path = _arguments.path("path", path)
    if not path.exists():
        raise FileNotFoundError(f"no image file at path {path}")
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not an image file")
    # np.fromfile + imdecode also reads paths with non-ASCII characters, which cv2.imread does not.
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"path {path} cannot be read as an image: the file is empty, corrupt or not an image format "
                         "OpenCV knows")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # OpenCV stores channels as blue, green, red


def sample_image_names() -> list[str]:
    """Names of the photos shipped with the course (see images/README.md for sources and licences)."""
    folder = resources.files("course_utils.images")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.lower().endswith(_IMAGE_SUFFIXES))


def sample_image_path(name: str) -> Path:
    """Path of one of the course's photos; works from a clone and from an installed package (Colab)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be the name of a sample image (text), one of {sample_image_names()}, got {name!r:.60}")
    folder = resources.files("course_utils.images")
    for candidate in folder.iterdir():
        if candidate.name.lower().endswith(_IMAGE_SUFFIXES) and candidate.name.rsplit(".", 1)[0] == name:
            return Path(str(candidate))
    raise ValueError(f"name must be one of the sample images {sample_image_names()}, got {name!r}")


def sample_image(name: str = "cat") -> np.ndarray:
    """One of the course's photos as an RGB uint8 array (names: `sample_image_names()`)."""
    return load_image(sample_image_path(name))


def imagenet_preprocess(resize: int = 224, crop: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """The transform that turns a photo into the 3 x crop x crop tensor ImageNet models expect.

    Resize the shorter side, crop the centre, scale to [0, 1] (ToTensor), then normalise each
    channel with ImageNet's mean and standard deviation, the statistics the pretrained weights
    were trained with. Accepts a PIL image or an RGB uint8 array.
    """
    from torchvision import transforms

    for name, value in (("resize", resize), ("crop", crop)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer number of pixels, got {value!r}")
        _arguments.whole(name, value, 1, 10_000)
    if crop > resize:
        raise ValueError(f"crop={crop} is larger than resize={resize}; the centre crop must fit in the resized image")
    return transforms.Compose([
        ToPIL(),
        transforms.Resize(resize),
        transforms.CenterCrop(crop),
        transforms.ToTensor(),
        transforms.Normalize(mean=list(mean), std=list(std)),
    ])


class ToPIL:
    """Let the transform take an RGB uint8 array (as load_image returns) as well as a PIL image."""

    def __call__(self, image):
        from PIL import Image

        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"image must be RGB uint8 of shape HxWx3, got {image.dtype} {image.shape}")
            return Image.fromarray(image)
        return image.convert("RGB")

    def __repr__(self) -> str:
        return "ToPIL()"


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet class names in the order of the models' outputs (no download needed)."""
    from torchvision.models import AlexNet_Weights

    return list(AlexNet_Weights.IMAGENET1K_V1.meta["categories"])
