"""kerasgen.data: text corpora, image sets, IDX files, image folders, offline failure, TFDS fallback, text windows."""

import gzip
import socket
import struct
import time

import numpy as np
import pytest
import tensorflow as tf

from kerasgen import data
from kerasgen.data import DataNotFoundError
from kerasgen.text import CharTokenizer, WordTokenizer

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def train_cut(n):
    """Number of characters in the 90% train split, in exact integer arithmetic."""
    return n * 9 // 10


def write_idx(path, array):
    """A gzip-compressed IDX file: big-endian magic, counts, then the uint8 bytes."""
    array = np.asarray(array, np.uint8)
    if array.ndim == 3:
        header = struct.pack(">IIII", 2051, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">II", 2049, len(array))
    else:
        raise AssertionError("test helper takes (n, rows, cols) images or (n,) labels")
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No local data directory, an empty TFDS directory, and every network connection failing."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    empty_tfds = tmp_path / "tfds"
    empty_tfds.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(empty_tfds))
    from tensorflow_datasets.core import constants

    monkeypatch.setattr(constants, "DATA_DIR", str(empty_tfds))  # read once at import, so set it too
    attempts = []

    def no_network(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network is down (simulated)")

    monkeypatch.setattr(data.socket, "create_connection", no_network)
    assert data.socket is socket
    return attempts


# --- load_text on a local file ----------------------------------------------------------------------------------


def test_load_text_local_file_splits_by_character(tmp_path):
    whole = "".join(f"línea {i}: ¿qué tal? ☃\n" for i in range(37))  # multi-byte characters
    path = tmp_path / "corpus.txt"
    path.write_text(whole, encoding="utf-8")
    train = data.load_text(str(path), "train")
    validation = data.load_text(str(path), "validation")
    assert data.load_text(str(path), "all") == whole
    assert data.load_text(path, "all") == whole  # a Path works too
    assert train == whole[: train_cut(len(whole))]
    assert validation == whole[train_cut(len(whole)) :]
    assert train + validation == whole
    assert len(train) == int(len(whole) * 0.9) and len(validation) > 0
    assert data.load_text(str(path)) == train  # the default split is train


@pytest.mark.parametrize("n", [10, 11, 100, 999, 1000, 12345])
def test_split_text_cut_is_exactly_ninety_percent(n):
    text = "".join(chr(ord("a") + i % 26) for i in range(n))
    train, validation = data.split_text(text, "train"), data.split_text(text, "validation")
    assert len(train) == train_cut(n)
    assert train + validation == text


def test_load_text_empty_whitespace_and_non_utf8_files_name_the_file(tmp_path):
    for name, content in [("empty.txt", b""), ("blank.txt", b" \n\t\n"), ("latin1.txt", "café\n".encode("latin-1"))]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=name):
            data.load_text(str(path), "all")


def test_load_text_missing_file_names_it(tmp_path):
    path = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        data.load_text(str(path), "train")
    with pytest.raises(DataNotFoundError, match="missing.txt"):
        data.read_text_file(path)


def test_load_text_unknown_split_or_name(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("some text\n" * 10, encoding="utf-8")
    for split in ("test", "valid", "", None):
        with pytest.raises(ValueError, match="split"):
            data.load_text(str(path), split)
    with pytest.raises(ValueError, match="wikitext"):
        data.load_text("wikitext", "train")


def test_load_text_unknown_split_fails_before_loading(offline):
    # No data anywhere and no network, yet a bad split is reported as such (nothing is fetched first).
    with pytest.raises(ValueError, match="split"):
        data.load_text("tiny_shakespeare", "test")
    with pytest.raises(ValueError, match="split"):
        data.load_text("ptb", "all")
    assert offline == []


# --- tiny_shakespeare and ptb from a synthetic data directory ---------------------------------------------------


@pytest.fixture
def synthetic_dir(tmp_path, text):
    root = tmp_path / "data"
    (root / "tiny_shakespeare").mkdir(parents=True)
    (root / "tiny_shakespeare" / "input.txt").write_text(text, encoding="utf-8")
    (root / "ptb").mkdir()
    files = {
        "train": " the cat sat \n the dog sat \n",
        "validation": " a cat ran \n",
        "test": " the <unk> ran \n the cat \n",
    }
    for split, name in (("train", "ptb.train.txt"), ("validation", "ptb.valid.txt"), ("test", "ptb.test.txt")):
        (root / "ptb" / name).write_text(files[split], encoding="utf-8")
    return root, files


def test_tiny_shakespeare_from_a_data_dir(synthetic_dir, text, monkeypatch):
    root, _ = synthetic_dir
    train = data.load_text("tiny_shakespeare", "train", data_dir=root)
    validation = data.load_text("tiny_shakespeare", "validation", data_dir=str(root))
    assert train == text[: train_cut(len(text))]
    assert validation == text[train_cut(len(text)) :]
    assert train + validation == data.load_text("tiny_shakespeare", "all", data_dir=root) == text
    # The environment variable is the fallback for data_dir.
    monkeypatch.setenv(data.DATA_DIR_ENV, str(root))
    assert data.load_text("tiny_shakespeare", "train") == train


def test_ptb_splits_are_its_three_files_as_written(synthetic_dir, monkeypatch):
    root, files = synthetic_dir
    for split, content in files.items():
        assert data.load_text("ptb", split, data_dir=root) == content
    monkeypatch.setenv(data.DATA_DIR_ENV, str(root))
    assert data.load_text("ptb", "test") == files["test"]


def test_a_data_dir_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="nowhere"):
        data.load_text("ptb", "train", data_dir=tmp_path / "nowhere")


# --- the real data directory ------------------------------------------------------------------------------------


def test_real_tiny_shakespeare_splits(data_dir):
    train = data.load_text("tiny_shakespeare", "train", data_dir=data_dir)
    validation = data.load_text("tiny_shakespeare", "validation", data_dir=data_dir)
    whole = data.load_text("tiny_shakespeare", "all", data_dir=data_dir)
    assert len(whole) == 1_115_394
    assert len(train) == 1_003_854
    assert len(validation) == 111_540
    assert train + validation == whole
    assert whole.startswith("First Citizen:")
    assert len(set(whole)) == 65
    assert CharTokenizer.from_text(whole).vocab_size == 66


def test_real_ptb_token_counts(data_dir):
    train = data.load_text("ptb", "train", data_dir=data_dir)
    test = data.load_text("ptb", "test", data_dir=data_dir)
    valid = data.load_text("ptb", "validation", data_dir=data_dir)
    # Counts from the data README: lines, words, and words + one <eos> per line.
    assert len(test.split()) == 78_669 and test.count("\n") == 3_761
    assert len(valid.split()) == 70_390 and valid.count("\n") == 3_370
    assert len(train.split()) == 887_521 and train.count("\n") == 42_068
    tok = WordTokenizer.from_text(train)
    # 9,999 distinct training words, "<unk>" among them, become id 0; "<eos>" is added: 10,000 ids.
    assert tok.vocab_size == 10_000
    test_ids = tok.encode(test)
    assert len(test_ids) == 82_430
    assert len(tok.encode(valid)) == 73_760
    assert len(tok.encode(train)) == 929_589
    # Every test word is in the training vocabulary, so id 0 appears exactly where PTB wrote <unk>.
    assert (test_ids == 0).sum() == test.split().count("<unk>") > 0
    assert (test_ids == tok.boundary_id).sum() == 3_761


def test_real_mnist_test_arrays(data_dir):
    images, labels = data.load_image_arrays("mnist", "test", data_dir=data_dir)
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert images.min() == 0 and images.max() == 255
    assert 20 < images.mean() < 50  # mostly background, some ink


def test_real_mnist_train_and_fashion_mnist_label_counts(data_dir):
    images, labels = data.load_image_arrays("mnist", "train", data_dir=data_dir)
    assert images.shape == (60_000, 28, 28, 1)
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    _, fashion = data.load_image_arrays("fashion_mnist", "test", data_dir=data_dir)
    assert np.bincount(fashion, minlength=10).tolist() == [1000] * 10


def test_real_mnist_dataset_yields_image_label_pairs(data_dir):
    images, labels = data.load_image_arrays("mnist", "test", data_dir=data_dir)
    ds = data.load_images("mnist", "test", data_dir=data_dir)
    image_spec, label_spec = ds.element_spec
    assert image_spec.shape == (28, 28, 1) and image_spec.dtype == tf.uint8
    assert label_spec.shape == () and label_spec.dtype.is_integer
    assert ds.cardinality().numpy() == 10_000
    for i, (image, label) in enumerate(ds.take(5).as_numpy_iterator()):
        np.testing.assert_array_equal(image, images[i])
        assert label == labels[i]
    # The environment variable set by conftest finds the same files.
    first_image, first_label = next(iter(data.load_images("mnist", "test")))
    np.testing.assert_array_equal(first_image.numpy(), images[0])
    assert first_label.numpy() == labels[0]


def test_load_images_rejects_unknown_names_and_splits(offline):
    with pytest.raises(ValueError, match="split"):
        data.load_images("mnist", "validation")
    with pytest.raises(ValueError, match="cifar10"):
        data.load_images("cifar10", "train")
    with pytest.raises(ValueError, match="cifar10"):
        data.load_image_arrays("cifar10", "train")
    assert offline == []


# --- IDX files --------------------------------------------------------------------------------------------------


def test_read_idx_returns_exactly_what_was_written(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    write_idx(tmp_path / "images.gz", images)
    write_idx(tmp_path / "labels.gz", labels)
    read_images = data.read_idx(tmp_path / "images.gz")
    read_labels = data.read_idx(tmp_path / "labels.gz")
    assert read_images.dtype == np.uint8 and read_images.shape == (7, 5, 3)
    np.testing.assert_array_equal(read_images, images)
    assert read_labels.dtype == np.uint8 and read_labels.shape == (7,)
    np.testing.assert_array_equal(read_labels, labels)


def test_read_idx_rejects_other_magic_numbers(tmp_path):
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(struct.pack(">II", 2050, 0))
    with pytest.raises(ValueError, match="bad.gz"):
        data.read_idx(tmp_path / "bad.gz")


def test_local_idx_files_are_used_before_tfds(tmp_path, offline):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9], np.uint8)
    (tmp_path / "local" / "fashion_mnist").mkdir(parents=True)
    write_idx(tmp_path / "local" / "fashion_mnist" / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "local" / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz", labels)
    got_images, got_labels = data.load_image_arrays("fashion_mnist", "test", data_dir=tmp_path / "local")
    np.testing.assert_array_equal(got_images, images[..., None])
    np.testing.assert_array_equal(got_labels, labels)
    pairs = list(data.load_images("fashion_mnist", "test", data_dir=tmp_path / "local").as_numpy_iterator())
    assert [int(label) for _, label in pairs] == labels.tolist()
    assert offline == []  # no network needed


# --- image folders ----------------------------------------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    root = tmp_path / "pictures"
    written = []
    for label, (name, count) in enumerate([("cats", 6), ("dogs", 4)]):  # classes in alphabetical order
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)  # height 6, width 5
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
            written.append((pixels, label))
    return root, written


def test_image_folder_loads_all_images_with_labels(image_folder):
    root, written = image_folder
    ds = data.load_images(str(root), "all")
    image_spec, label_spec = ds.element_spec
    assert image_spec.dtype == tf.uint8 and tuple(image_spec.shape) == (6, 5, 3)
    assert label_spec.dtype.is_integer
    loaded = list(ds.as_numpy_iterator())
    assert len(loaded) == len(written)
    # PNG is lossless and the size is unchanged, so every pixel comes back exactly, with its class.
    expected = sorted((pixels.tobytes(), label) for pixels, label in written)
    assert sorted((image.tobytes(), int(label)) for image, label in loaded) == expected
    for image, _ in loaded:
        assert image.shape == (6, 5, 3) and image.dtype == np.uint8


def test_image_folder_resizes_to_image_size(image_folder):
    root, written = image_folder
    loaded = list(data.load_images(root, "all", image_size=(3, 4)).as_numpy_iterator())
    assert len(loaded) == len(written)
    assert all(image.shape == (3, 4, 3) and image.dtype == np.uint8 for image, _ in loaded)
    assert sorted(int(label) for _, label in loaded) == sorted(label for _, label in written)


def test_image_folder_train_and_validation_split_ninety_ten(image_folder):
    root, written = image_folder
    train = [image.tobytes() for image, _ in data.load_images(root, "train").as_numpy_iterator()]
    validation = [image.tobytes() for image, _ in data.load_images(root, "validation").as_numpy_iterator()]
    assert len(train) == 9 and len(validation) == 1
    assert set(train).isdisjoint(validation)
    assert set(train) | set(validation) == {pixels.tobytes() for pixels, _ in written}
    with pytest.raises(ValueError, match="split"):
        data.load_images(root, "test")


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty" / "class_a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        data.load_images(tmp_path / "empty", "all")
    with pytest.raises(ValueError, match="not_there"):
        data.load_images(tmp_path / "not_there", "all")


# --- offline: fail fast -----------------------------------------------------------------------------------------

# Waiting on the network would take minutes (TFDS retries); the first tfds.load in a process also imports and
# registers the builders, which alone takes 5-15 s on a loaded two-core machine.
FAST = 45


def test_offline_mnist_fails_fast_with_a_helpful_message(offline):
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as error:
        data.load_images("mnist", "test")
    assert time.monotonic() - start < FAST
    message = str(error.value)
    assert "KERASGEN_DATA_DIR" in message
    assert "mnist/t10k-images-idx3-ubyte.gz" in message
    assert offline, "the network was never tried"
    assert isinstance(error.value, FileNotFoundError)


def test_offline_ptb_fails_fast_with_a_helpful_message(offline):
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as error:
        data.load_text("ptb", "test")
    assert time.monotonic() - start < FAST
    assert "KERASGEN_DATA_DIR" in str(error.value)
    assert "ptb/ptb.test.txt" in str(error.value)
    assert offline


def test_offline_tiny_shakespeare_fails_fast(offline):
    start = time.monotonic()
    with pytest.raises(DataNotFoundError, match="KERASGEN_DATA_DIR"):
        data.load_text("tiny_shakespeare", "train")
    assert time.monotonic() - start < FAST


def test_offline_with_a_data_dir_missing_the_files(offline, tmp_path):
    (tmp_path / "partial").mkdir()
    with pytest.raises(DataNotFoundError, match="ptb/ptb.valid.txt"):
        data.load_text("ptb", "validation", data_dir=tmp_path / "partial")


# --- TFDS fallback (mocked) -------------------------------------------------------------------------------------


def test_tfds_mnist_fallback_returns_the_mocked_examples(offline):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=5):
        images, labels = data.load_image_arrays("mnist", "train")
        ds = data.load_images("mnist", "train")
        pairs = list(ds.as_numpy_iterator())
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (5,) and ((0 <= labels) & (labels < 10)).all()
    assert len(pairs) == 5
    for image, label in pairs:
        assert image.shape == (28, 28, 1) and image.dtype == np.uint8
        assert 0 <= label < 10


def test_tfds_tiny_shakespeare_fallback_returns_text(offline):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        train = data.load_text("tiny_shakespeare", "train")
        validation = data.load_text("tiny_shakespeare", "validation")
        whole = data.load_text("tiny_shakespeare", "all")
    assert isinstance(train, str) and train
    # The mocked examples are joined into one text, then split 90/10 like the local file.
    assert train == whole[: train_cut(len(whole))]
    assert train + validation == whole


# --- text windows -----------------------------------------------------------------------------------------------


def collect(ds):
    inputs, targets = zip(*ds.as_numpy_iterator())
    return np.concatenate(inputs), np.concatenate(targets)


def test_text_windows_are_consecutive_next_token_pairs(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    seq_len, batch_size = 16, 8
    ds = data.text_windows(text, tok, seq_len, batch_size, shuffle=False)
    for inputs, targets in ds.take(2):
        assert inputs.dtype == tf.int32 and targets.dtype == tf.int32
        assert inputs.shape == (batch_size, seq_len) and targets.shape == (batch_size, seq_len)
    inputs, targets = collect(ds)
    count = (len(ids) - 1) // seq_len
    assert count > batch_size  # several batches
    np.testing.assert_array_equal(inputs, ids[: count * seq_len].reshape(count, seq_len))
    np.testing.assert_array_equal(targets, ids[1 : count * seq_len + 1].reshape(count, seq_len))
    # Targets are the inputs shifted by one token, and consecutive windows overlap by one.
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    np.testing.assert_array_equal(targets[:-1, -1], inputs[1:, 0])
    assert tok.decode(inputs[0]) == text[:seq_len]
    assert tok.decode(targets[0]) == text[1 : seq_len + 1]


def test_text_windows_with_words():
    corpus = "".join(f" w{i % 7} w{i % 5} w{i % 3} \n" for i in range(40))
    tok = WordTokenizer.from_text(corpus)
    ids = tok.encode(corpus)
    inputs, targets = collect(data.text_windows(corpus, tok, seq_len=10, batch_size=4, shuffle=False))
    count = (len(ids) - 1) // 10
    np.testing.assert_array_equal(inputs, ids[: count * 10].reshape(count, 10))
    np.testing.assert_array_equal(targets, ids[1 : count * 10 + 1].reshape(count, 10))


def test_text_windows_shuffle_changes_order_but_not_content(text):
    tok = CharTokenizer.from_text(text)
    seq_len = 8
    plain_inputs, plain_targets = collect(data.text_windows(text, tok, seq_len, 32, shuffle=False))
    shuffled = data.text_windows(text, tok, seq_len, 32, shuffle=True, seed=3)
    first_inputs, first_targets = collect(shuffled)
    second_inputs, _ = collect(shuffled)
    assert not np.array_equal(first_inputs, plain_inputs)
    assert not np.array_equal(first_inputs, second_inputs)  # reshuffled each epoch

    def rows(inputs, targets):
        return sorted(map(tuple, np.concatenate([inputs, targets], axis=1).tolist()))

    # Every window exactly once per epoch, each input still paired with its own target.
    assert rows(first_inputs, first_targets) == rows(plain_inputs, plain_targets)
    assert len(first_inputs) == len(plain_inputs)


def test_text_windows_length_limits():
    tok = CharTokenizer.from_text("abcdefgh")
    # seq_len + 1 tokens make exactly one window.
    inputs, targets = collect(data.text_windows("abcdef", tok, seq_len=5, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(inputs, [tok.encode("abcde")])
    np.testing.assert_array_equal(targets, [tok.encode("bcdef")])
    for short in ("abcde", "a", ""):
        with pytest.raises(ValueError, match="seq_len"):
            data.text_windows(short, tok, seq_len=5, batch_size=4)


@pytest.mark.parametrize("seq_len", [0, -3])
def test_text_windows_rejects_non_positive_seq_len(seq_len, text):
    with pytest.raises(ValueError, match="seq_len"):
        data.text_windows(text, CharTokenizer.from_text(text), seq_len=seq_len, batch_size=4)


def test_text_windows_rejects_bad_batch_size_and_types(text):
    tok = CharTokenizer.from_text(text)
    with pytest.raises(ValueError, match="batch_size"):
        data.text_windows(text, tok, seq_len=8, batch_size=0)
    with pytest.raises(TypeError, match="seq_len"):
        data.text_windows(text, tok, seq_len=8.0, batch_size=4)


def stream(batches):
    """Every (inputs, targets) of a ``seeded_batches`` stream, on or off TensorFlow, as numpy."""
    items = batches.as_numpy_iterator() if isinstance(batches, tf.data.Dataset) else (batches[i] for i in
                                                                                     range(len(batches)))
    return [tuple(np.asarray(part) for part in item) for item in items]


def test_offset_windows_cut_the_text_at_a_new_offset_each_epoch_and_resume_mid_epoch(text, monkeypatch):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    seq_len, batch_size = 8, 16
    starts, transform = data.offset_windows(text, tok, seq_len, batch_size, seed=3)
    count = len(starts)
    assert count == (len(ids) - seq_len) // seq_len and count > 2 * batch_size
    per_epoch = -(-count // batch_size)
    epochs = seq_len + 1
    steps = epochs * per_epoch
    batches = stream(data.seeded_batches(starts, batch_size, steps, seed=3, drop_remainder=False,
                                         transform=transform))
    assert len(batches) == steps
    offsets = []
    for epoch in range(epochs):
        inputs = np.concatenate([b[0] for b in batches[epoch * per_epoch:(epoch + 1) * per_epoch]])
        targets = np.concatenate([b[1] for b in batches[epoch * per_epoch:(epoch + 1) * per_epoch]])
        assert inputs.dtype == targets.dtype == np.int32 and inputs.shape == (count, seq_len)
        np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])  # each target the next token
        # The epoch's windows are the text's consecutive windows from one offset, each read once.
        found = sorted(map(tuple, inputs.tolist()))
        for offset in range(seq_len):
            cut = ids[offset:offset + count * seq_len].reshape(count, seq_len)
            if sorted(map(tuple, cut.tolist())) == found:
                break
        else:
            raise AssertionError(f"epoch {epoch}'s windows are not one offset's cut of the text")
        np.testing.assert_array_equal(np.sort(targets[:, -1]), np.sort(ids[offset + seq_len:offset + (count + 1)
                                                                           * seq_len:seq_len]))
        offsets.append(offset)
    assert sorted(offsets[:seq_len]) == list(range(seq_len))  # every offset once in seq_len epochs
    assert offsets[seq_len] == offsets[0]
    # A stream started mid-run reads the batches the whole stream read there.
    start = per_epoch + 3
    resumed = stream(data.seeded_batches(starts, batch_size, steps, seed=3, start=start, drop_remainder=False,
                                         transform=transform))
    for a, b in zip(resumed, batches[start:], strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # Off TensorFlow (a PyDataset, the transform on numpy batches) the stream is the same.
    monkeypatch.setattr(data.backend, "name", lambda: "jax")
    elsewhere = stream(data.seeded_batches(starts, batch_size, steps, seed=3, drop_remainder=False,
                                           transform=transform))
    for a, b in zip(elsewhere, batches, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_offset_windows_need_two_windows_of_text():
    tok = CharTokenizer.from_text("abcdefgh")
    starts, _ = data.offset_windows("abcdefgh", tok, seq_len=4, batch_size=2)
    assert starts.tolist() == [0]
    with pytest.raises(ValueError, match="too short for one window of seq_len=5 at every offset"):
        data.offset_windows("abcdefgh", tok, seq_len=5, batch_size=2)
