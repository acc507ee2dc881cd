"""course_utils.data: reading images safely, the sample photos, ImageNet preprocessing."""

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
    assert image.dtype == np.uint8 and image.shape == (4, 6, 3)
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
    with pytest.raises(ValueError, match=r"cannot read .*broken\.jpg"):
        data.load_image(path)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        data.load_image(tmp_path)


def test_sample_images_are_shipped_and_readable():
    names = data.sample_image_names()
    assert {"cat", "coffee", "astronaut", "rocket"} <= set(names)
    for name in names:
        image = data.sample_image(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 224


def test_sample_cat_is_scikit_images_chelsea():
    from skimage import data as skdata

    cat = data.sample_image("cat")
    assert cat.shape == (300, 451, 3)
    assert np.abs(cat.astype(int) - skdata.chelsea().astype(int)).mean() < 3  # JPEG keeps it close


def test_unknown_sample_names_the_choices():
    with pytest.raises(ValueError, match=r"no sample image called 'dog'.*cat"):
        data.sample_image("dog")


def test_preprocess_shape_and_statistics():
    transform = data.imagenet_preprocess()
    tensor = transform(data.sample_image("cat"))
    assert tensor.shape == (3, 224, 224) and tensor.dtype == torch.float32
    plain = torch.from_numpy(np.asarray(data.sample_image("cat"))).permute(2, 0, 1).float() / 255
    # undoing the normalisation gives values in [0, 1]
    undone = tensor * torch.tensor(data.IMAGENET_STD)[:, None, None] + torch.tensor(data.IMAGENET_MEAN)[:, None, None]
    assert undone.min() >= -1e-5 and undone.max() <= 1 + 1e-5
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
    assert len(categories) == 1000 and categories[281] == "tabby" and categories[0] == "tench"
