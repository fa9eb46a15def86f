"""kerasgen.data on the user's own image folders (flat or per class), image_size, and offline errors that say where."""

import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasgen import data
from kerasgen.data import DataNotFoundError


def save(path, pixels):
    """Write an array (H, W) or (H, W, C) as an image file (uint16 as 16-bit grayscale), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(pixels)
    Image.fromarray(pixels if pixels.dtype == np.uint16 else pixels.astype(np.uint8)).save(path)


def noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def stderr_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("kerasgen:")]


@pytest.fixture
def flat_folder(tmp_path):
    """20 RGB 6x5 PNGs at the top of one folder, and a note that is not an image."""
    root = tmp_path / "faces"
    written = [noise((6, 5, 3), i) for i in range(20)]
    for i, pixels in enumerate(written):
        save(root / f"{i:02d}.png", pixels)
    (root / "README.txt").write_text("not an image")
    return root, written


# --- layouts ----------------------------------------------------------------------------------------------------


def test_flat_folder_is_an_unlabelled_set(flat_folder, capsys):
    root, written = flat_folder
    train, train_labels = data.load_image_arrays(str(root), "train")
    test, test_labels = data.load_image_arrays(root, "test")
    assert train_labels is None and test_labels is None
    assert train.shape == (18, 6, 5, 3) and test.shape == (2, 6, 5, 3)
    assert train.dtype == test.dtype == np.uint8
    # The 90/10 cut is disjoint, covers every image exactly (lossless, unchanged size) and is the same each time.
    loaded = sorted(image.tobytes() for image in np.concatenate([train, test]))
    assert loaded == sorted(pixels.tobytes() for pixels in written)
    np.testing.assert_array_equal(data.load_image_arrays(root, "test")[0], test)
    ds = data.load_images(root, "all")
    assert ds.element_spec == tf.TensorSpec((6, 5, 3), tf.uint8)  # images alone, no label
    assert [image.tobytes() for image in ds.as_numpy_iterator()] == [pixels.tobytes() for pixels in written]
    assert len(list(data.load_images(root, "validation").as_numpy_iterator())) == 2
    assert stderr_lines(capsys) == []  # nothing was changed, so nothing is said


def test_class_folders_keep_their_labels(tmp_path):
    root = tmp_path / "animals"
    shades = {"cats": 10, "dogs": 120, "emus": 250}  # one shade per class, so each image shows its class
    for name, shade in shades.items():
        for i in range(4):
            save(root / name / f"{i}.png", np.full((4, 4, 3), shade))
    save(root / "emus" / "nested" / "deep.png", np.full((4, 4, 3), shades["emus"]))  # belongs to emus
    (root / "empty_class").mkdir()  # a class with no images still takes its index
    save(root / ".hidden" / "x.png", np.full((4, 4, 3), 77))  # hidden folders are not classes
    images, labels = data.load_image_arrays(root, "train")
    test_images, test_labels = data.load_image_arrays(root, "test")
    assert labels.dtype == np.uint8 and len(images) + len(test_images) == 13 and len(test_images) == 2
    expected_label = {10: 0, 120: 1, 250: 3}  # sorted: cats, dogs, emus, empty_class
    for image, label in zip(np.concatenate([images, test_images]), np.concatenate([labels, test_labels])):
        assert expected_label[int(image[0, 0, 0])] == label
    pairs = list(data.load_images(root, "all").as_numpy_iterator())
    assert [int(label) for _, label in pairs] == [0] * 4 + [1] * 4 + [3] * 5
    assert data.load_images(root, "all").element_spec[1].dtype == tf.int64


def test_a_folder_mixing_top_images_and_class_folders_is_an_error(tmp_path):
    save(tmp_path / "mixed" / "loose.png", noise((4, 4), 0))
    save(tmp_path / "mixed" / "cats" / "a.png", noise((4, 4), 1))
    with pytest.raises(ValueError, match=r"mixes images at its top \(loose.png.*class sub-folders.*cats") as error:
        data.load_image_arrays(tmp_path / "mixed", "train")
    assert "\n" not in str(error.value)
    # Sub-folders without images do not make a flat folder mixed.
    (tmp_path / "flat" / "thumbnails").mkdir(parents=True)
    save(tmp_path / "flat" / "a.png", noise((4, 4), 0))
    save(tmp_path / "flat" / "b.png", noise((4, 4), 1))
    assert data.load_images(tmp_path / "flat", "all").cardinality().numpy() == 2


def test_empty_folders_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("text")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    for folder in ("empty", "notes", "classes"):
        with pytest.raises(ValueError, match=rf"{folder}' holds no images \(\.png, \.jpg"):
            data.load_image_arrays(tmp_path / folder, "train")
    with pytest.raises(ValueError, match="image folder '.*no_such_folder' does not exist"):
        data.load_image_arrays(tmp_path / "no_such_folder", "train")
    with pytest.raises(ValueError, match="a.txt' is a file"):
        data.load_images(tmp_path / "notes" / "a.txt", "all")


def test_two_images_give_one_test_image_and_one_image_none(tmp_path):
    save(tmp_path / "two" / "a.png", noise((3, 3), 0))
    save(tmp_path / "two" / "b.png", noise((3, 3), 1))
    assert len(data.load_image_arrays(tmp_path / "two", "train")[0]) == 1
    assert len(data.load_image_arrays(tmp_path / "two", "test")[0]) == 1
    save(tmp_path / "one" / "a.png", noise((3, 3), 0))
    assert len(data.load_image_arrays(tmp_path / "one", "train")[0]) == 1
    with pytest.raises(ValueError, match="no readable images in its test split"):
        data.load_image_arrays(tmp_path / "one", "test")


# --- sizes and modes --------------------------------------------------------------------------------------------


@pytest.fixture
def mixed_folder(tmp_path):
    """Five images: the first RGB 6x5; one grayscale, two 8x8 (one of them RGBA)."""
    root = tmp_path / "mixed sizes"
    save(root / "a.png", noise((6, 5, 3), 0))
    save(root / "b.png", noise((6, 5), 1))  # grayscale, to convert
    save(root / "c.png", noise((8, 8, 3), 2))  # to resize
    save(root / "d.png", noise((8, 8, 4), 3))  # both
    save(root / "e.png", noise((6, 5, 3), 4))
    return root


def test_defaults_are_the_first_images_size_and_channels_and_changes_are_told_once(mixed_folder, capsys):
    ds = data.load_images(mixed_folder, "all")
    images = np.stack(list(ds.as_numpy_iterator()))
    assert images.shape == (5, 6, 5, 3)
    assert stderr_lines(capsys) == [
        f"kerasgen: resized 2 of 5 images in {mixed_folder} to 6x5 (height x width), converted 2 to RGB"
    ]
    np.testing.assert_array_equal(images[0], noise((6, 5, 3), 0))  # untouched
    np.testing.assert_array_equal(images[1], np.repeat(noise((6, 5), 1)[..., None], 3, axis=-1))  # gray as RGB


def test_image_size_resizes_every_image_of_another_size(mixed_folder, capsys):
    images = np.stack(list(data.load_images(mixed_folder, "all", image_size=(8, 8)).as_numpy_iterator()))
    assert images.shape == (5, 8, 8, 3)
    assert stderr_lines(capsys) == [  # a, b and e are 6x5
        f"kerasgen: resized 3 of 5 images in {mixed_folder} to 8x8 (height x width), converted 2 to RGB"
    ]
    np.testing.assert_array_equal(images[2], noise((8, 8, 3), 2))  # already 8x8 and RGB: untouched
    # The first image's own size given explicitly: the same as the default.
    data.load_images(mixed_folder, "all", image_size=(6, 5))
    assert stderr_lines(capsys) == [
        f"kerasgen: resized 2 of 5 images in {mixed_folder} to 6x5 (height x width), converted 2 to RGB"
    ]


def test_train_and_test_splits_share_the_size_and_each_tells_its_own_changes(mixed_folder, capsys):
    train, labels = data.load_image_arrays(mixed_folder, "train", image_size=(7, 7))
    train_lines = stderr_lines(capsys)
    test, _ = data.load_image_arrays(mixed_folder, "test", image_size=[7, 7])
    test_lines = stderr_lines(capsys)
    assert labels is None and train.shape == (4, 7, 7, 3) and test.shape == (1, 7, 7, 3)
    assert train_lines == [
        f"kerasgen: resized 4 of 4 images in {mixed_folder} (train split) to 7x7 (height x width), "
        f"converted {2 - ('converted' in test_lines[0])} to RGB"
    ]
    assert re.fullmatch(rf"kerasgen: resized 1 of 1 images in {re.escape(str(mixed_folder))} \(test split\) "
                        r"to 7x7 \(height x width\)(, converted 1 to RGB)?", test_lines[0])
    assert len(test_lines) == 1


def test_grayscale_first_image_makes_one_channel(tmp_path, capsys):
    root = tmp_path / "gray"
    save(root / "0.png", noise((4, 4), 0))
    save(root / "1.png", noise((4, 4, 3), 1))
    images = np.stack(list(data.load_images(root, "all").as_numpy_iterator()))
    assert images.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(images[1, ..., 0], np.asarray(Image.fromarray(noise((4, 4, 3), 1)).convert("L")))
    assert stderr_lines(capsys) == [f"kerasgen: converted 1 of 2 images in {root} to grayscale"]


def test_modes_map_to_one_three_or_four_channels(tmp_path, capsys):
    save(tmp_path / "rgba" / "a.png", noise((4, 4, 4), 0))
    (tmp_path / "palette").mkdir()
    Image.fromarray(noise((4, 4, 3), 1)).quantize(16).save(tmp_path / "palette" / "a.png")
    (tmp_path / "gif").mkdir()  # an animated grayscale gif: its first frame is the image
    frames = [Image.fromarray(noise((4, 4), 2)), Image.fromarray(noise((4, 4), 3))]
    frames[0].save(tmp_path / "gif" / "a.gif", save_all=True, append_images=frames[1:])
    for name, channels in (("rgba", 4), ("palette", 3), ("gif", 1)):
        image = next(data.load_images(tmp_path / name, "all").as_numpy_iterator())
        assert image.shape == (4, 4, channels), name
    gif = next(data.load_images(tmp_path / "gif", "all").as_numpy_iterator())
    np.testing.assert_array_equal(gif[..., 0], noise((4, 4), 2))
    # 16-bit grayscale is scaled to 8 bits, not clipped, and told (its mode changed).
    save(tmp_path / "deep" / "a.png", np.array([[0, 257 * 100], [32896, 65535]], np.uint16))
    capsys.readouterr()
    deep = next(data.load_images(tmp_path / "deep", "all").as_numpy_iterator())
    assert deep[..., 0].tolist() == [[0, 100], [128, 255]]
    assert stderr_lines(capsys) == [f"kerasgen: converted 1 of 1 images in {tmp_path / 'deep'} to grayscale"]


# --- unreadable files -------------------------------------------------------------------------------------------


def test_unreadable_files_are_skipped_and_reported_with_labels_kept_aligned(tmp_path, capsys):
    root = tmp_path / "classes"
    for label, shade in enumerate((30, 200)):
        for i in range(5):
            save(root / f"class{label}" / f"{i}.png", np.full((3, 3), shade))
    (root / "class0" / "broken.png").write_bytes(b"not a png at all")
    truncated = (root / "class1" / "0.png").read_bytes()
    (root / "class1" / "cut.png").write_bytes(truncated[: len(truncated) // 2])
    pairs = list(data.load_images(root, "all").as_numpy_iterator())
    images, labels = np.stack([image for image, _ in pairs]), np.array([label for _, label in pairs])
    lines = stderr_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"kerasgen: skipped 2 of 12 files in {root}, unreadable: class0/broken.png (")
    assert "class1/cut.png (" in lines[0]
    assert len(images) == 10
    assert ((images[..., 0, 0, 0] == 200) == (labels == 1)).all()  # every label still belongs to its image


# --- image_size checks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_size, error", [
    ((0, 4), ValueError), ((4, -1), ValueError), ((4,), TypeError), ((4, 4, 3), TypeError), (16, TypeError),
    ("16", TypeError), ((4.0, 4), TypeError), ((True, 4), TypeError),
])
def test_bad_image_size_is_a_one_line_error(flat_folder, image_size, error):
    root, _ = flat_folder
    for load in (data.load_image_arrays, data.load_images):
        with pytest.raises(error, match="image_size") as raised:
            load(root, "train", image_size=image_size)
        assert "\n" not in str(raised.value)


def test_image_size_for_mnist_must_be_its_own(data_dir):
    with pytest.raises(ValueError, match="mnist images are 28x28"):
        data.load_image_arrays("mnist", "test", data_dir=data_dir, image_size=(32, 32))
    images, _ = data.load_image_arrays("mnist", "test", data_dir=data_dir, image_size=(28, 28))
    assert images.shape == (10_000, 28, 28, 1)


# --- offline errors name the folders looked in ------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data directory in the environment, an empty TFDS data directory, and no network."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    tfds_dir = tmp_path / "tfds"
    tfds_dir.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    from tensorflow_datasets.core import constants

    monkeypatch.setattr(constants, "DATA_DIR", str(tfds_dir))  # read once at import, so set it too
    monkeypatch.setattr(data, "_online", lambda *args, **kwargs: False)
    return tfds_dir


def test_not_found_names_the_data_directory_and_tfds_directory(offline, tmp_path, monkeypatch):
    (tmp_path / "my data").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFoundError) as raised:
        data.load_image_arrays("fashion_mnist", "train", data_dir="my data")  # relative: resolved in the message
    error = raised.value
    message = str(error)
    assert f"fashion_mnist/train-images-idx3-ubyte.gz is not in the data directory {tmp_path / 'my data'}" in message
    assert f"TensorFlow Datasets found no prepared fashion_mnist in {offline}" in message
    assert "data_dir=..." in message and "KERASGEN_DATA_DIR" in message and "\n" not in message
    assert error.dataset == "fashion_mnist" and error.expected == "fashion_mnist/train-images-idx3-ubyte.gz"
    assert error.looked_in == (str(tmp_path / "my data"), str(offline))
    assert isinstance(error, FileNotFoundError)
    # The command line words the same error with its flag.
    cli = error.message(data_dir_option="--data-dir DIR")
    assert cli == message.replace("data_dir=...", "--data-dir DIR") and "data_dir=" not in cli


def test_not_found_without_a_data_directory_says_so(offline):
    with pytest.raises(DataNotFoundError) as raised:
        data.load_text("tiny_shakespeare", "train")
    assert "no data directory was given" in str(raised.value)
    assert str(offline) in str(raised.value)
    assert raised.value.looked_in == (str(offline),)
    with pytest.raises(DataNotFoundError) as raised:
        data.load_text("ptb", "test")  # not a TFDS set: only the data directory is looked in
    assert raised.value.looked_in == () and raised.value.tfds_dirs == ()
    assert "no data directory was given" in str(raised.value) and "TensorFlow Datasets" not in str(raised.value)
    assert "--data-dir DIR" in raised.value.message("--data-dir DIR")


def test_other_not_found_errors_keep_their_text(tmp_path):
    with pytest.raises(DataNotFoundError) as raised:
        data.read_text_file(tmp_path / "gone.txt")
    assert raised.value.message("--data-dir DIR") == str(raised.value) and "gone.txt" in str(raised.value)
    assert raised.value.looked_in == ()
