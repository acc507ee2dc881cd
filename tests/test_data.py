"""course_utils.data: reading images safely, the sample photos, ImageNet preprocessing."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import data


def test_load_image_returns_rgb_not_bgr(tmp_path):
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[..., 0] = 200  # pure red in RGB order
    path = tmp_path / "red.png"
    Image.fromarray(pixels).save(path)
    image = data.load_image(path)
    assert image.dtype == np.uint8
    assert image.shape == (4, 6, 3)
    assert image[0, 0].tolist() == [200, 0, 0]


def test_load_image_reads_non_ascii_paths(tmp_path):
    path = tmp_path / "chat_été.jpg"
    Image.fromarray(np.full((5, 5, 3), 128, dtype=np.uint8)).save(path)
    assert data.load_image(path).shape == (5, 5, 3)


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.jpg"
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        data.load_image(missing)


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_corrupt_file_is_named(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken\.jpg cannot be read as an image"):
        data.load_image(path)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        data.load_image(tmp_path)


def test_sample_images_are_shipped_and_readable():
    names = data.sample_image_names()
    assert {"cat", "coffee", "astronaut", "rocket"} <= set(names)
    for name in names:
        image = data.sample_image(name)
        assert image.dtype == np.uint8
        assert image.ndim == 3
        assert image.shape[2] == 3
        assert min(image.shape[:2]) >= 224


def test_unknown_sample_names_the_choices():
    with pytest.raises(ValueError, match=r"name must be one of the sample images .*cat.*, got 'dog'"):
        data.sample_image("dog")


def test_preprocess_shape_and_statistics():
    transform = data.imagenet_preprocess()
    tensor = transform(data.sample_image("cat"))
    assert tensor.shape == (3, 224, 224)
    assert tensor.dtype == torch.float32
    plain = torch.from_numpy(np.asarray(data.sample_image("cat"))).permute(2, 0, 1).float() / 255
    # undoing the normalisation gives values in [0, 1]
    undone = tensor * torch.tensor(data.IMAGENET_STD)[:, None, None] + torch.tensor(data.IMAGENET_MEAN)[:, None, None]
    assert undone.min() >= -1e-5
    assert undone.max() <= 1 + 1e-5
    assert abs(undone.mean().item() - plain.mean().item()) < 0.05


def test_preprocess_matches_torchvision_pipeline():
    from torchvision import transforms

    image = data.sample_image("coffee")
    expected = transforms.Compose([transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
                                   transforms.Normalize(data.IMAGENET_MEAN, data.IMAGENET_STD)])(Image.fromarray(image))
    assert torch.allclose(data.imagenet_preprocess()(image), expected)
    assert torch.allclose(data.imagenet_preprocess()(Image.fromarray(image)), expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(resize=0), "resize must be a positive integer"),
    (dict(crop=300), "crop=300 is larger than resize=224"),
    (dict(resize=2.5), "resize must be a positive integer"),
])
def test_preprocess_checks_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.imagenet_preprocess(**kwargs)


def test_preprocess_rejects_non_rgb_arrays():
    with pytest.raises(ValueError, match="RGB uint8"):
        data.imagenet_preprocess()(np.zeros((10, 10), dtype=np.uint8))


def test_imagenet_categories_offline():
    categories = data.imagenet_categories()
    assert len(categories) == 1000
    assert categories[281] == "tabby"
    assert categories[0] == "tench"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))


def test_mnist_offline_falls_back_to_digits_and_names_it(offline, capsys):
    train, test = data.mnist(train=True), data.mnist(train=False)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert all("COURSE_OFFLINE is set" in line and "offline fallback" in line for line in out)
    assert train.source == test.source == data.DIGITS_FALLBACK
    assert (len(train), len(test)) == (1437, 360)
    image, label = train[0]
    assert image.shape == (1, 28, 28)
    assert 0 <= label <= 9
    assert train.classes[label] == str(label)
    assert torch.bincount(test.labels, minlength=10).min() >= 35  # stratified: every digit in the test set


def test_digits_fallback_matches_the_original_digits(offline):
    from sklearn.datasets import load_digits

    dataset = data.mnist(train=True)
    raw = dataset.images * data.MNIST_STD[0] + data.MNIST_MEAN[0]
    assert raw.min() >= -1e-6
    assert raw.max() <= 1 + 1e-6
    assert torch.all(raw[:, :, :4] == 0)
    assert torch.all(raw[:, :, -4:] == 0)  # MNIST-like empty border
    # shrinking the 20x20 centre back to 8x8 gives the original digit again, approximately
    centre = torch.nn.functional.interpolate(raw[:5, :, 4:24, 4:24], size=(8, 8), mode="area")
    originals = torch.tensor(load_digits().images, dtype=torch.float32) / 16
    for image, label in zip(centre, dataset.labels[:5]):
        distances = (originals - image[0]).abs().mean(dim=(1, 2))
        assert load_digits().target[distances.argmin()] == label


def test_mnist_uses_a_local_copy_when_there_is_one(tmp_path, monkeypatch, capsys):
    from torchvision import datasets

    class FakeMNIST(torch.utils.data.Dataset):
        mirrors = datasets.MNIST.mirrors

        def __init__(self, root, train, download, transform):
            self.root = root

        def __len__(self):
            return 3

    monkeypatch.setattr(datasets, "MNIST", FakeMNIST)
    dataset = data.mnist(root=tmp_path)
    assert dataset.source == "MNIST (torchvision)"
    assert len(dataset) == 3
    assert capsys.readouterr().out == ""


def test_cats_vs_dogs_offline_is_the_generated_set(offline, capsys):
    train = data.cats_vs_dogs(train=True, image_size=32)
    val = data.cats_vs_dogs(train=False, image_size=32, synthetic_size=40)
    assert "offline fallback" in capsys.readouterr().out
    assert train.source == data.SYNTHETIC_FALLBACK
    assert (len(train), len(val)) == (1000, 40)
    assert train.classes == ["dots", "stripes"]  # named for what they are, not "cat" and "dog"
    image, label = val[3]
    assert image.shape == (3, 32, 32)
    assert label in (0, 1)
    assert 0.3 < train.labels.mean() < 0.7  # both classes present
    assert np.array_equal(val.image(3), data.cats_vs_dogs(train=False, image_size=32, synthetic_size=40).image(3))
    with pytest.raises(IndexError):
        val[40]


def test_generated_classes_are_learnable_but_not_by_colour(offline):
    """Dots and stripes differ in pattern only: mean brightness must not separate them."""
    dataset = data.SyntheticCatsDogs(200, seed=3)
    means = np.array([dataset.image(i).mean() for i in range(200)])
    labels = dataset.labels
    assert abs(means[labels == 0].mean() - means[labels == 1].mean()) < 10


def test_kaggle_folder_skips_and_counts_corrupt_files(tmp_path, capsys):
    for index in range(6):
        for animal in ("cat", "dog"):
            Image.fromarray(np.full((40, 50, 3), 60 * index % 255, dtype=np.uint8)).save(tmp_path / f"{animal}.{index}.jpg")
    (tmp_path / "cat.99.jpg").write_bytes(b"broken download")
    (tmp_path / "dog.98.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    train = data.cats_vs_dogs(train=True, image_size=32, folder=tmp_path)
    val = data.cats_vs_dogs(train=False, image_size=32, folder=tmp_path)
    out = capsys.readouterr().out
    assert "Skipped" in out
    assert len(train.skipped) + len(val.skipped) == 2
    assert len(train) + len(val) == 12
    assert len(val) >= 2
    assert {label for _, label in train.items} == {0, 1}
    image, label = train[0]
    assert image.shape == (3, 32, 32)
    assert train.source.startswith("Kaggle-style folder")


def test_kaggle_subfolders_and_errors(tmp_path):
    for animal in ("cats", "dogs"):
        (tmp_path / animal).mkdir()
        for index in range(3):
            Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(tmp_path / animal / f"{index}.png")
    dataset = data.cats_vs_dogs(train=True, image_size=16, folder=tmp_path)
    assert sorted(label for _, label in dataset.items) == [0, 0, 0, 1, 1]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.cats_vs_dogs(folder=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no cat or dog images"):
        data.cats_vs_dogs(folder=empty)


def test_cats_vs_dogs_transforms():
    image = data.sample_image("cat")
    train = data.cats_vs_dogs_transforms(64, train=True)
    val = data.cats_vs_dogs_transforms(64, train=False)
    assert train(image).shape == val(image).shape == (3, 64, 64)
    assert torch.equal(val(image), val(image))
    assert not torch.equal(train(image), train(image))
    names = [type(step).__name__ for step in train.transforms]
    assert names[1:] == ["RandomResizedCrop", "RandomRotation", "ToTensor", "Normalize"]
    with pytest.raises(ValueError, match="image_size"):
        data.cats_vs_dogs_transforms(8)


def test_every_shipped_photo_has_a_source_and_a_licence_in_the_images_readme():
    readme = (Path(__file__).resolve().parents[1] / "images" / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in readme.splitlines() if line.startswith("| `")}
    names = data.sample_image_names()
    assert names, "no photos ship with the package"
    for name in names:
        file = data.sample_image_path(name).name
        assert file in rows, f"images/README.md lists no source and licence for {file}"
        what, source, licence, used_in = rows[file]
        assert source, f"images/README.md: fill every column for {file}"
        assert licence, f"images/README.md: fill every column for {file}"
        assert used_in, f"images/README.md: fill every column for {file}"


# ----------------------------------------------------------------------------- Transformed
def test_transformed_draws_a_new_version_at_every_read_and_keeps_the_names():
    base = data.PatternPatches(10, seed=0)
    base.source = "patterns"
    flips = data.Transformed(base, lambda image: torch.flip(image, dims=[2]) if torch.rand(()) < 0.5 else image,
                             indices=[3, 5, 7])
    assert len(flips) == 3
    assert flips.source == "patterns"
    assert flips.classes == base.classes
    image, label = base[5]
    torch.manual_seed(0)
    seen = {tuple(flips[1][0].flatten()[:8].tolist()) for _ in range(30)}
    assert len(seen) == 2, "a random transform must be drawn again at each read"
    assert flips[1][1] == label
    assert torch.equal(data.Transformed(base)[5][0], image)
    assert len(data.Transformed(base)) == 10


@pytest.mark.parametrize("kwargs, message", [
    ({"transform": "flip"}, "transform must be callable"),
    ({"indices": [0, 10]}, "indices must lie in 0..9"),
])
def test_transformed_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.Transformed(data.PatternPatches(10, seed=0), **kwargs)


def test_image_files_skip_truncated_files_pipes_and_folders_and_take_string_paths(tmp_path, capsys):
    import os

    from PIL import Image

    good = tmp_path / "cat.1.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "cat.2.jpg"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])  # passes a structure check, not a read
    pipe = tmp_path / "dog.3.jpg"
    os.mkfifo(pipe)  # opening it would wait for a writer for ever
    folder = tmp_path / "dog.4.jpg"
    folder.mkdir()
    files = data.ImageFiles([(str(good), 0), (truncated, 0), (pipe, 1), (folder, 1)])
    assert [(path.name, label) for path, label in files.items] == [("cat.1.jpg", 0)]
    assert sorted(p.name for p in files.skipped) == ["cat.2.jpg", "dog.3.jpg", "dog.4.jpg"]
    assert "Skipped 3 unreadable file(s) of 4" in capsys.readouterr().out
    assert files[0][0].shape == (64, 64, 3)


@pytest.mark.parametrize("binary_target", [True, False], ids=["torchvision's own label", "from the breed (before 0.19)"])
def test_the_pet_photos_are_labelled_cat_or_dog_on_every_torchvision(tmp_path, monkeypatch, binary_target):
    """A Pet folder as torchvision unpacks it, two cats and two dogs: 0 for a cat, 1 for a dog, whether
    torchvision gives that label itself (0.19 and later) or the course works it out from the breed."""
    from torchvision.datasets import OxfordIIITPet

    from course_utils import datasets

    folder = tmp_path / "oxford-iiit-pet"
    (folder / "images").mkdir(parents=True)
    (folder / "annotations").mkdir()
    pets = [("Abyssinian_1", 1, 1), ("american_bulldog_4", 2, 2), ("Sphynx_2", 3, 1), ("yorkshire_terrier_3", 4, 2)]
    for name, _, _ in pets:
        Image.new("RGB", (8, 8)).save(folder / "images" / f"{name}.jpg")
    (folder / "annotations" / "trainval.txt").write_text("".join(f"{n} {c} {s} 1\n" for n, c, s in pets), encoding="utf-8")
    if not binary_target:
        monkeypatch.setattr(OxfordIIITPet, "_VALID_TARGET_TYPES", ("category", "segmentation"))
    elif "binary-category" not in OxfordIIITPet._VALID_TARGET_TYPES:
        pytest.skip("this torchvision has no binary-category target (0.19 added it)")
    dataset = datasets._pet_cats_and_dogs(tmp_path, "trainval", None, download=False)
    assert [dataset[i][1] for i in range(len(dataset))] == [0, 1, 0, 1]
