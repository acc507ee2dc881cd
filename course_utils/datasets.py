"""Datasets, each with an honest offline fallback: MNIST and cats vs dogs, and the generated images of
notebooks 07 and 08.

- `mnist`: notebooks/06_training_lenet_mnist.ipynb
- `cats_vs_dogs`, `cats_vs_dogs_transforms`: notebooks/07_training_dogs_vs_cats.ipynb
- `PatternPatches` (images whose evidence sits in a known box): notebooks/08_what_the_network_looks_at.ipynb
- `Transformed` (a part of a dataset with a transform drawn anew at every access, for augmentation):
  notebooks/09_after_resnet.ipynb

Downloads go to $COURSE_DATA (default ~/.cache/cnn-course). Where a download is impossible the
helper says so in one line and returns a fallback whose `source` attribute names it.
`course_utils.data` offers these names too, with the photos (course_utils/photos.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import _arguments, settings
from ._arguments import MAX_WIDTH
from ._download import why_no_download
from .photos import _IMAGE_SUFFIXES, IMAGENET_MEAN, IMAGENET_STD, ToPIL, load_image

__all__ = ["data_root", "mnist", "MNIST_MEAN", "MNIST_STD", "DIGITS_FALLBACK", "cats_vs_dogs", "cats_vs_dogs_transforms",
           "CATS_DOGS_CLASSES", "SYNTHETIC_FALLBACK", "SYNTHETIC_CLASSES", "ImageFiles", "SyntheticCatsDogs",
           "PatternPatches", "Transformed"]


# ----------------------------------------------------------------------------- downloads
MAX_EXAMPLES = 10_000_000  # examples a generated dataset may hold: more is a typo


def data_root() -> Path:
    """Where datasets are downloaded: $COURSE_DATA, or ~/.cache/cnn-course."""
    return settings.data_root()


def _local_or_download(build, url: str, download: bool, root: Path):
    """(dataset, None) from a local copy or a fresh download; (None, reason) when neither is possible.

    `build(download)` makes the torchvision dataset, which raises RuntimeError when no copy exists.
    """
    try:
        return build(False), None
    except RuntimeError:
        pass
    reason = why_no_download(url) if download else f"download=False and no copy in {root}"
    if reason is None:
        try:
            return build(True), None
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad archive a RuntimeError
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
    return None, reason


def _fallback_note(what: str, reason: str, fallback: str) -> None:
    place = settings.distributed()
    if place is None or place.rank == 0:  # one line per run, not one per process of a torchrun job
        print(f"Could not get {what} ({reason}); using {fallback} instead.")


# ----------------------------------------------------------------------------- MNIST
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
DIGITS_FALLBACK = "scikit-learn digits resized to 28x28 (offline fallback)"


class _TensorImages:
    """A dataset over image and label tensors, with a name for what it holds."""

    def __init__(self, images, labels, source: str, classes: list[str]):
        self.images, self.labels, self.source, self.classes = images, labels, source, classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])  # an int, as torchvision's datasets give


def _digits_as_mnist(train: bool):
    """scikit-learn's 1,797 digits (8x8, values 0 to 16) as 28x28 tensors normalised like MNIST.

    A fixed 80/20 split (stratified, seed 0) gives the training and test sets.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(indices, test_size=0.2, random_state=0, stratify=digits.target)
    chosen = train_idx if train else test_idx
    images = torch.tensor(digits.images[chosen], dtype=torch.float32)[:, None] / 16.0
    # 8x8 -> 20x20 (MNIST's digits fill about 20x20), then pad to 28x28 as MNIST centres them
    images = F.pad(F.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1), (4, 4, 4, 4))
    images = (images - MNIST_MEAN[0]) / MNIST_STD[0]
    labels = torch.tensor(digits.target[chosen], dtype=torch.long)
    return _TensorImages(images, labels, DIGITS_FALLBACK, [str(i) for i in range(10)])


def mnist(train: bool = True, root=None, download: bool = True):
    """MNIST (60,000 training or 10,000 test digits of 28x28) from torchvision, as normalised tensors.

    Offline it says so and returns scikit-learn's digits resized to 28x28 instead (1,437 training,
    360 test images). Either way `dataset.source` names the data and `dataset.classes` the labels.
    """
    from torchvision import datasets, transforms

    root = Path(root) if root is not None else data_root()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD)])
    dataset, reason = _local_or_download(
        lambda download: datasets.MNIST(root, train=train, download=download, transform=transform),
        datasets.MNIST.mirrors[0], download, root)
    if dataset is None:
        _fallback_note("MNIST", reason, DIGITS_FALLBACK)
        return _digits_as_mnist(train)
    dataset.source = "MNIST (torchvision)"
    dataset.classes = [str(i) for i in range(10)]
    return dataset


# ----------------------------------------------------------------------------- cats vs dogs
CATS_DOGS_CLASSES = ["cat", "dog"]
SYNTHETIC_FALLBACK = "generated two-class images, dots vs stripes (offline fallback)"
# The fallback's classes are named for what they are: dots play the cats (label 0), stripes the dogs.
SYNTHETIC_CLASSES = ["dots", "stripes"]

# The twelve cat breeds of the Oxford-IIIT Pet dataset (the other 25 are dogs), as torchvision names them.
PET_CAT_BREEDS = frozenset({"Abyssinian", "Bengal", "Birman", "Bombay", "British Shorthair", "Egyptian Mau", "Maine Coon",
                            "Persian", "Ragdoll", "Russian Blue", "Siamese", "Sphynx"})


class _CatOrDog:
    """A breed's index to 0 (cat) or 1 (dog): the Pet dataset's cat-or-dog label, which torchvision gives
    itself from 0.19 on (target_types="binary-category"). A class, not a lambda, so that DataLoader
    workers that start afresh (Windows, macOS) can take it along."""

    def __init__(self):
        self.dog: list[bool] = []

    def learn(self, breeds) -> None:
        """The dataset's breed names, in the order of its indices (known once it is built)."""
        self.dog = [breed not in PET_CAT_BREEDS for breed in breeds]

    def __call__(self, breed: int) -> int:
        return int(self.dog[breed])


def _pet_cats_and_dogs(root, split: str, transform, download: bool):
    """Oxford-IIIT Pet with 0 = cat, 1 = dog, on any torchvision the course supports."""
    from torchvision import datasets

    if "binary-category" in datasets.OxfordIIITPet._VALID_TARGET_TYPES:
        return datasets.OxfordIIITPet(root, split=split, target_types="binary-category", transform=transform,
                                      download=download)
    species = _CatOrDog()
    pets = datasets.OxfordIIITPet(root, split=split, target_types="category", transform=transform,
                                  target_transform=species, download=download)
    species.learn(pets.classes)
    return pets


def cats_vs_dogs_transforms(image_size: int = 224, train: bool = True, crop_scale: tuple = (0.08, 1.0)):
    """The lectures' transforms: training RandomResizedCrop, RandomRotation(90), ToTensor, Normalize;
    validation Resize, ToTensor, Normalize (ImageNet statistics), with a CenterCrop after the Resize
    that the lectures leave out: Resize keeps a photo's shape, and a batch needs one size (notebook 07
    shows the failure).

    `crop_scale` is the range of areas RandomResizedCrop keeps (torchvision's default 8% to 100%);
    short training runs learn faster with milder crops such as (0.5, 1.0).
    """
    from torchvision import transforms

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"image_size must be an integer of at least 16 pixels, got {image_size!r}")
    _arguments.whole("image_size", image_size, 16, 10_000)
    _arguments.flag("train", train)
    if (not isinstance(crop_scale, (tuple, list)) or len(crop_scale) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in crop_scale)
            or not 0 < crop_scale[0] <= crop_scale[1] <= 1):
        raise ValueError(f"crop_scale must be (low, high) with 0 < low <= high <= 1, got {crop_scale!r}")
    if train:
        steps = [transforms.RandomResizedCrop(image_size, scale=tuple(crop_scale)), transforms.RandomRotation(90)]
    else:
        steps = [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    return transforms.Compose([ToPIL(), *steps, transforms.ToTensor(),
                               transforms.Normalize(list(IMAGENET_MEAN), list(IMAGENET_STD))])


class ImageFiles:
    """Labelled image files, checked once: unreadable or corrupt files are skipped and counted."""

    def __init__(self, items: list[tuple[Path, int]], transform=None, source: str = "image folder"):
        from PIL import Image

        items = _arguments.sequence("items", items, "(path, label) pairs", empty=True)
        if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            raise TypeError(f"items must be (path, label) pairs, such as [('cat.jpg', 0)], got {items[:2]!r:.80}")
        if transform is not None:
            _arguments.function("transform", transform)
        source = _arguments.text("source", source, optional=False)
        self.items, self.skipped = [], []
        for path, label in items:
            path = _arguments.path("items' paths", path)
            _arguments.whole("items' labels", label, 0, MAX_WIDTH)
            if not path.is_file():  # a folder, a named pipe or a device: opening it could wait for ever
                self.skipped.append(path)
                continue
            try:
                with Image.open(path) as image:
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))  # JPEG: decode at 1/8
                    image.load()  # reads to the end, so a truncated file fails here, not in the middle of an epoch
                self.items.append((path, label))
            except Exception:  # noqa: BLE001 - any failure means the file cannot be used
                self.skipped.append(path)
        if self.skipped:
            print(f"Skipped {len(self.skipped)} unreadable file(s) of {len(items)}, for example {self.skipped[0].name}.")
        if not self.items:
            raise ValueError("items is empty: it names no image file" if not items else
                             f"none of the {len(items)} image files of items could be read")
        self.transform, self.source, self.classes = transform, source, CATS_DOGS_CLASSES

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        path, label = self.items[index]
        image = load_image(path)
        return (self.transform(image) if self.transform else image), label


def _kaggle_items(folder: Path) -> list[tuple[Path, int]]:
    """Files named cat.N.jpg / dog.N.jpg (Kaggle's layout), or in cat(s)/ and dog(s)/ subfolders."""
    items = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in _IMAGE_SUFFIXES:
            continue
        words = {path.name.split(".")[0].lower(), path.parent.name.lower().rstrip("s")}
        if "cat" in words:
            items.append((path, 0))
        elif "dog" in words:
            items.append((path, 1))
    return items


def _dots_or_stripes(label: int, size: int, period: float, rng: np.random.Generator) -> np.ndarray:
    """A size x size boolean mask: dots on a grid (label 0) or stripes at a random angle (label 1),
    both covering the same share of the pixels, with a random phase."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    covered = np.pi * rng.uniform(0.2, 0.35) ** 2  # the same share of lighter pixels in both classes
    if label == 0:
        cy, cx = (yy + rng.uniform(0, period)) % period, (xx + rng.uniform(0, period)) % period
        return (cy - period / 2) ** 2 + (cx - period / 2) ** 2 <= covered / np.pi * period**2
    angle = rng.uniform(0, np.pi)
    phase = (np.cos(angle) * xx + np.sin(angle) * yy + rng.uniform(0, period)) % period
    return phase < period * covered


class SyntheticCatsDogs:
    """A generated two-class image set for offline use. Class 0 ("dots", in the place of the cats)
    images are covered with dots, class 1 ("stripes", for the dogs) with stripes at any angle, lighter
    than a background of random colour;
    sizes, spacing and noise are random, and both classes have the same colour statistics, so only the pattern tells them apart. Every
    crop or rotation of an image keeps its pattern, as every crop of a cat photo still shows a cat."""

    def __init__(self, count: int, seed: int, transform=None, size: int = 96):
        count, size = _arguments.whole("count", count, 1, MAX_EXAMPLES), _arguments.whole("size", size, 8, 4096)
        seed = _arguments.whole("seed", seed, 0, 2**63 - 1)
        if transform is not None:
            _arguments.function("transform", transform)
        self.count, self.seed, self.transform, self.size = count, seed, transform, size
        self.source, self.classes = SYNTHETIC_FALLBACK, SYNTHETIC_CLASSES
        self.labels = np.random.default_rng(seed).integers(0, 2, size=count)

    def __len__(self) -> int:
        return self.count

    def image(self, index: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, index))
        size = self.size
        mask = _dots_or_stripes(int(self.labels[index]), size, rng.uniform(size / 8, size / 4), rng)
        background = rng.integers(20, 110, size=3)  # a random colour, and the pattern a lighter shade of it
        foreground = background + rng.integers(80, 140)
        image = np.where(mask[..., None], foreground, background).astype(np.float32)
        image += rng.normal(0, 20, size=image.shape)
        return np.clip(image, 0, 255).astype(np.uint8)

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(f"index {index} out of range for {self.count} images")
        image = self.image(index)
        return (self.transform(image) if self.transform else image), int(self.labels[index])


def cats_vs_dogs(train: bool = True, image_size: int = 224, folder=None, root=None, download: bool = True,
                 synthetic_size: int | None = None, crop_scale: tuple = (0.08, 1.0)):
    """Cat and dog photos labelled 0 (cat) and 1 (dog), with the lectures' transforms.

    Looks, in order, for: a Kaggle-style `folder` (cat.N.jpg / dog.N.jpg, or cat/ and dog/
    subfolders; 80/20 split by file order), torchvision's Oxford-IIIT Pet with its binary cat/dog
    target (downloaded once), and offline a generated two-class set (1,000 training and 250
    validation images unless `synthetic_size` says otherwise). `dataset.source` names the data.
    """
    from torchvision import datasets

    transform = cats_vs_dogs_transforms(image_size, train, crop_scale)
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"folder {folder} does not exist; give a folder of cat.N.jpg and dog.N.jpg files")
        items = _kaggle_items(folder)
        if not items:
            raise ValueError(f"no cat or dog images found in {folder}: name them cat.N.jpg / dog.N.jpg or use cat/ and dog/ subfolders")
        chosen = [item for i, item in enumerate(items) if (i % 5 == 4) != train]  # every 5th file validates
        if not chosen:
            raise ValueError(f"{folder} holds {len(items)} images; at least 5 are needed to split off a validation set")
        return ImageFiles(chosen, transform, source=f"Kaggle-style folder {folder.name}")
    root = Path(root) if root is not None else data_root()
    split = "trainval" if train else "test"
    dataset, reason = _local_or_download(
        lambda download: _pet_cats_and_dogs(root, split, transform, download),
        datasets.OxfordIIITPet._RESOURCES[0][0], download, root)
    if dataset is None:
        _fallback_note("the Oxford-IIIT Pet photos", reason, SYNTHETIC_FALLBACK)
        return SyntheticCatsDogs(synthetic_size or (1000 if train else 250), seed=0 if train else 1, transform=transform)
    # the Pet dataset's binary target is already 0 = cat, 1 = dog
    dataset.source = "Oxford-IIIT Pet, cat vs dog (torchvision)"
    dataset.classes = CATS_DOGS_CLASSES
    return dataset


# ----------------------------------------------------------------------------- evidence in a known place
class PatternPatches:
    """Generated images whose class evidence sits in one known box, for checking what an
    explanation method points at. Class 0 has a square patch of dots, class 1 a patch of stripes, at
    a random place on a background of coloured noise that is drawn the same way for both classes,
    so that only the patch tells them apart. `box(index)` is the patch as (top, left, height, width).

    With `decoy=True` every image of both classes also gets a plain square as light as the pattern,
    away from the patch (`decoy_box(index)`): as bright as the evidence, but no evidence of either
    class. An explanation that points at the decoy shows what stands out, not what decided.

    Items are (3 x size x size float tensor, label), the pixels scaled to [0, 1] and then
    normalised as (x - 0.5) / 0.25, so that 0 is mid grey.
    """

    source = "generated patches of dots or stripes on noise"
    classes = ["dots", "stripes"]
    MEAN, STD = 0.5, 0.25

    def __init__(self, count: int, seed: int = 0, size: int = 64, patch: int = 24, decoy: bool = False):
        for name, value, low, high in (("count", count, 1, MAX_EXAMPLES), ("size", size, 8, 4096), ("patch", patch, 4, 4096)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
            _arguments.whole(name, value, low, high)
        _arguments.whole("seed", seed, 0, 2**63 - 1)
        if patch > size:
            raise ValueError(f"patch={patch} does not fit in images of size={size}; use patch <= size")
        if not isinstance(decoy, bool):
            raise ValueError(f"decoy must be True or False, got {decoy!r}")
        self.decoy_side = 2 * int(patch) // 3
        if decoy and size - patch < 2 * self.decoy_side:
            raise ValueError(f"decoy=True needs room beside the patch wherever it is: size - patch >= "
                             f"2 * {self.decoy_side} (the decoy's side), got size={size}, patch={patch}")
        self.count, self.seed, self.size, self.patch, self.decoy = int(count), seed, int(size), int(patch), decoy
        rng = np.random.default_rng((seed, 0))  # the layout; image i draws from its own stream (seed, 1, i)
        self.labels = rng.integers(0, 2, size=self.count)
        self.corners = rng.integers(0, self.size - self.patch + 1, size=(self.count, 2))
        self._images: dict[int, np.ndarray] = {}  # drawn once: every epoch sees the same images

    def __len__(self) -> int:
        return self.count

    def _index(self, index: int) -> int:
        if not -self.count <= index < self.count:
            raise IndexError(f"index {index} out of range for {self.count} images")
        return index % self.count

    def box(self, index: int) -> tuple[int, int, int, int]:
        """Where the evidence of image `index` is: (top, left, height, width) in pixels."""
        top, left = self.corners[self._index(index)]
        return int(top), int(left), self.patch, self.patch

    def decoy_box(self, index: int) -> tuple[int, int, int, int] | None:
        """Where the decoy of image `index` is, (top, left, height, width), or None without decoys.
        It never overlaps the evidence box."""
        if not self.decoy:
            return None
        top, left, height, width = self.box(index)
        side = self.decoy_side
        free = [(row, col) for row in range(self.size - side + 1) for col in range(self.size - side + 1)
                if row + side <= top or top + height <= row or col + side <= left or left + width <= col]
        row, col = free[np.random.default_rng((self.seed, 2, self._index(index))).integers(len(free))]
        return int(row), int(col), side, side

    def image(self, index: int) -> np.ndarray:
        """Image `index` as an RGB uint8 array of shape size x size x 3."""
        index = self._index(index)
        if index not in self._images:
            self._images[index] = self._draw(index)
        return self._images[index].copy()

    def _draw(self, index: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, 1, index))
        background = rng.integers(40, 120, size=3)
        image = background + rng.normal(0, 28, size=(self.size, self.size, 3))
        mask = _dots_or_stripes(int(self.labels[index]), self.patch, rng.uniform(self.patch / 5, self.patch / 3), rng)
        top, left, height, width = self.box(index)
        lighter = background + rng.integers(90, 140)
        patch = np.where(mask[..., None], lighter, background) + rng.normal(0, 12, size=(height, width, 3))
        image[top:top + height, left:left + width] = patch
        if self.decoy:  # drawn from a stream of its own: the rest of the image is the same with or without
            row, col, side, _ = self.decoy_box(index)
            noise = np.random.default_rng((self.seed, 3, index)).normal(0, 12, size=(side, side, 3))
            image[row:row + side, col:col + side] = lighter + noise
        return np.clip(image, 0, 255).astype(np.uint8)

    def __getitem__(self, index):
        image = torch.from_numpy(self.image(index)).permute(2, 0, 1).float() / 255
        return (image - self.MEAN) / self.STD, int(self.labels[self._index(index)])


# ----------------------------------------------------------------------------- augmentation
class Transformed:
    """A dataset seen through `transform`, applied to each image when it is read (so a random
    transform draws a new version every epoch), optionally limited to the examples `indices`.

    `source` and `classes` are those of `dataset`, so a notebook can still say what it trained on.
    """

    def __init__(self, dataset, transform=None, indices=None):
        if transform is not None and not callable(transform):
            raise ValueError(f"transform must be callable (a torchvision transform, for example) or None, got {transform!r}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, (str, bytes)):
            raise TypeError(f"dataset must be a dataset (with len() and [index]), such as data.mnist(), got "
                            f"{type(dataset).__name__}")
        self.dataset, self.transform = dataset, transform
        if indices is not None:
            if isinstance(indices, (str, bytes)) or not hasattr(indices, "__iter__"):
                raise TypeError(f"indices must be a list of example numbers, got {indices!r:.60}")
            indices = list(indices.tolist() if isinstance(indices, (np.ndarray, torch.Tensor)) else indices)
            if any(isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) for i in indices):
                raise TypeError(f"indices must be whole numbers (example numbers), got {indices[:5]!r:.60}")
        self.indices = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
        bad = [i for i in self.indices if not -len(dataset) <= i < len(dataset)]
        if bad:
            raise ValueError(f"indices must lie in 0..{len(dataset) - 1} (the dataset has {len(dataset)} examples), got {bad[:5]}")
        self.source = getattr(dataset, "source", type(dataset).__name__)
        self.classes = getattr(dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        image, label = self.dataset[self.indices[index]]
        return (self.transform(image) if self.transform is not None else image), label
