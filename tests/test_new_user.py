"""What a new user meets on the command line: which data a run reads, their own image folders, offline errors that
name the flag, one-line warnings, no stray Keras warnings, and counts in plain words."""

import gzip
import re
import struct
import warnings

import numpy as np
import pytest
from PIL import Image

import kerasgen as kg
from kerasgen import cli, data

TINY_LSTM = ["--epochs", "1", "--steps-per-epoch", "1", "--seq-len", "16", "--batch-size", "4", "--units", "8",
             "--embedding-dim", "4", "--num-layers", "1", "--policy", "float32"]
TINY_VAE = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4", "--latent-dim", "2", "--policy", "float32"]


def write_idx(path, array):
    """A gzip IDX file as MNIST ships them: uint8 images (n, H, W) or labels (n,)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">II", 2051, len(array)) + struct.pack(">II", *array.shape[1:]) if array.ndim == 3 else \
        struct.pack(">II", 2049, len(array))
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def small_data_dir(tmp_path, text):
    """A data directory laid out as the real one, with a tiny Tiny Shakespeare and a 40-image MNIST."""
    root = tmp_path / "data"
    (root / "tiny_shakespeare").mkdir(parents=True)
    (root / "tiny_shakespeare" / "input.txt").write_text(text)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 40), ("t10k", 8)):
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
    return root


def test_a_run_without_text_or_data_says_which_data_set_it_trains_on(small_data_dir, capsys):
    assert cli.main(["train", "lstm", "--data-dir", str(small_data_dir), *TINY_LSTM]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("training on tiny_shakespeare, the default data set "
                                   "(--text chooses another: ptb or a text file of your own)"), out
    assert cli.main(["train", "vae", "--data-dir", str(small_data_dir), *TINY_VAE]) == 0
    assert "training on mnist, the default data set (--data chooses another" in capsys.readouterr().out
    assert cli.main(["train", "vae", "--data", "mnist", "--data-dir", str(small_data_dir), *TINY_VAE]) == 0
    assert "training on" not in capsys.readouterr().out  # named by the user: nothing to say


def test_offline_data_error_names_the_folder_and_the_flag(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty data"
    empty.mkdir()
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    from tensorflow_datasets.core import constants

    monkeypatch.setattr(constants, "DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_online", lambda *args, **kwargs: False)
    assert cli.main(["train", "vae", "--data", "fashion_mnist", "--data-dir", str(empty), *TINY_VAE]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kerasgen: error: fashion_mnist is not available offline"), lines
    assert str(empty) in lines[0] and "--data-dir DIR" in lines[0] and "data_dir=" not in lines[0], lines[0]


def save_image(path, size, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(str(path))).integers(0, 256, (*size, 3 if mode == "RGB" else 1), np.uint8)
    Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)


def test_a_flat_folder_trains_at_the_size_asked_and_says_what_it_resized(tmp_path, capsys):
    folder = tmp_path / "mine"
    for i in range(10):
        save_image(folder / f"{i}.png", (12, 12) if i % 2 else (10, 14))
    save_image(folder / "colour.png", (12, 12), "RGB")
    out = tmp_path / "vae.keras"
    assert cli.main(["train", "vae", "--data", str(folder), "--image-size", "8", "8", "--out", str(out),
                     *TINY_VAE]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kerasgen:")]
    train_line = [line for line in err if "(train split)" in line]
    assert len(train_line) == 1 and re.search(r"resized \d+ of \d+ images in .*mine.* to 8x8", train_line[0]), err
    assert kg.zoo.load_model(out).image_shape == (8, 8, 1)
    # Fine-tuning reads the folder at the initial model's size unless told otherwise.
    assert cli.main(["train", "vae", "--data", str(folder), "--init", str(out), "--epochs", "1", "--steps-per-epoch",
                     "1", "--batch-size", "4", "--policy", "float32", "--out", str(tmp_path / "tuned.keras")]) == 0
    assert "to 8x8" in capsys.readouterr().err
    assert kg.zoo.load_model(tmp_path / "tuned.keras").image_shape == (8, 8, 1)
    # A classifier needs labels: a flat folder has none.
    assert cli.main(["train", "classifier", "--data", str(folder), *TINY_VAE[:6]]) == 2
    assert "flat folder" in capsys.readouterr().err
    assert cli.main(["train", "lstm", "--image-size", "8", "8"]) == 2
    assert "--image-size applies to image models" in capsys.readouterr().err


def test_fit_runs_without_keras_shuffle_warning(text, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kg.training.train_text("lstm", text=str(corpus), epochs=1, batch_size=4, seq_len=16, steps_per_epoch=1,
                               model_kwargs={"units": 8, "embedding_dim": 4, "num_layers": 1}, policy="float32",
                               verbose=0)
    assert caught is not None and not [w for w in caught if "shuffle" in str(w.message)], [str(w.message) for w in caught]


def test_one_sample_is_one_image(tmp_path, capsys):
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    gan.build()
    gan.save(tmp_path / "gan.keras")
    assert cli.main(["sample", str(tmp_path / "gan.keras"), "-n", "1", "--out", str(tmp_path / "one.png")]) == 0
    assert capsys.readouterr().out == f"wrote 1 image to {tmp_path / 'one.png'}\n"
    assert cli.main(["sample", str(tmp_path / "gan.keras"), "-n", "600", "--out", str(tmp_path / "many.npz")]) == 0
    shown = [int(done) for done in re.findall(r"sampled (\d+)/600", capsys.readouterr().err)]
    assert shown == [256, 512, 600]  # progress through thousands of images, each count once


def test_fine_tuning_on_unseen_characters_warns_or_extends_the_vocabulary(tmp_path, text, capsys):
    from helpers import tiny_lstm

    initial = tmp_path / "initial.keras"
    tiny_lstm(text, fit_steps=1).save(initial)
    corpus = tmp_path / "code.txt"
    corpus.write_text(text + "x = 1 + 2  # [sum]\n" * 20)
    argv = ["train", "lstm", "--text", str(corpus), "--init", str(initial), "--epochs", "1", "--steps-per-epoch", "1",
            "--seq-len", "16", "--batch-size", "4", "--policy", "float32"]
    assert cli.main([*argv, "--out", str(tmp_path / "kept.keras")]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kerasgen: warning:")]
    assert len(warned) == 1 and re.search(r"\d+\.\d+% of the tokens of .*code.txt are outside the vocabulary", warned[0])
    assert "'#'" in warned[0] and "'1'" in warned[0] and "--extend-vocab" in warned[0], warned
    kept = kg.zoo.load_model(tmp_path / "kept.keras")
    assert kept.tokenizer.vocab_size == kg.zoo.load_model(initial).tokenizer.vocab_size

    assert cli.main([*argv, "--extend-vocab", "--out", str(tmp_path / "grown.keras")]) == 0
    captured = capsys.readouterr()
    assert "kerasgen: warning:" not in captured.err
    assert re.search(r"extended the vocabulary of .*initial.keras by \d+ tokens: .*'#'", captured.out), captured.out
    grown = kg.zoo.load_model(tmp_path / "grown.keras")
    assert grown.tokenizer.unseen_tokens(corpus.read_text()) == []
    assert grown.tokenizer.vocab_size > kept.tokenizer.vocab_size

    # Prompting the first model with what it never saw: one warning line naming the characters.
    assert cli.main(["generate", str(initial), "--prompt", "x = [1]", "--max-new-tokens", "5", "--seed", "0"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kerasgen:")]
    assert len(warned) == 1 and "outside the vocabulary" in warned[0] and "'['" in warned[0], warned
    assert cli.main(["train", "lstm", "--extend-vocab"]) == 2
    assert "--extend-vocab grows the vocabulary of a text model given by --init" in capsys.readouterr().err


def test_a_run_shows_progress_within_epochs_says_when_it_resumes_and_refuses_a_foreign_checkpoint(tmp_path, text,
                                                                                                   capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    logdir = tmp_path / "run"
    argv = ["train", "lstm", "--text", str(corpus), "--seq-len", "16", "--batch-size", "4", "--units", "8",
            "--embedding-dim", "4", "--num-layers", "1", "--policy", "float32", "--steps-per-epoch", "20",
            "--logdir", str(logdir)]
    assert cli.main([*argv, "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    within = re.findall(r"^epoch 1/1 - (\d+)% \((\d+)/20 steps\) - loss \S+ - .* elapsed", out, flags=re.M)
    assert [int(percent) for percent, _ in within] == list(range(5, 101, 5)), out  # a line every 5%, not a bar
    assert re.search(r"^epoch 1/1 done in \d+ s: loss=\S+ val_loss=\S+$", out, flags=re.M), out
    assert "resuming" not in out

    assert cli.main([*argv, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"resuming after epoch 1 from {logdir / 'backup'}" in out.splitlines()
    assert "epoch 2/2 done in" in out and "epoch 1/2 done" not in out

    assert cli.main([*argv, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"the run is finished: the checkpoint in {logdir / 'backup'} holds all 2 epochs"), out
    assert "done in" not in out  # not trained again

    bigger = [*argv, "--epochs", "3"]
    bigger[bigger.index("--units") + 1] = "12"
    assert cli.main(bigger) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (
        f"kerasgen: error: the checkpoint in {logdir / 'backup'} was written by another model or other settings: use "
        f"another --logdir (logdir= or backup_dir= in Python), or delete {logdir / 'backup'} to start over"), lines
