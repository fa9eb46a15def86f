"""Bad input across the API and the command line.

API: a ValueError or TypeError whose message names the argument (a missing
file or folder is a FileNotFoundError naming it). CLI: one
``kerasgen: error:`` line and exit status 2, no traceback. A failed command
never touches what was saved before. Out-of-vocabulary prompts are not bad
input: they follow the tokenizer's rule and generate.
"""

import math
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import TEXT
from helpers import assert_usage_error, tiny_lstm

import kerasgen as kg
from kerasgen import cli, saving, training
from kerasgen.sampling import MAX_TEMPERATURE

SMALL_RUN = ["--epochs", "1", "--steps-per-epoch", "1", "--seq-len", "16", "--batch-size", "4", "--units", "8",
             "--embedding-dim", "4", "--num-layers", "1", "--policy", "float32"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Saved models shared by the tests: a char LSTM, a VAE, a Lambda model, a one-entry zoo, a corpus."""
    root = tmp_path_factory.mktemp("bad_input")
    lstm = tiny_lstm(TEXT, fit_steps=1)
    lstm.save(root / "lstm.keras")
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    vae.build()
    vae.save(root / "vae.keras")
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(root / "lambda.keras")
    card = {"family": "lstm", "dataset": "test text", "metric": {"key": "text_nll", "name": "nats", "value": 0},
            "command": "pytest", "training_time": "1 s", "hardware": "CPU"}
    kg.zoo.publish(lstm, "tiny-char-lstm", card, directory=root / "zoo")
    (root / "corpus.txt").write_text(TEXT)
    return root


@pytest.fixture(scope="module")
def lstm(files):
    return kg.zoo.load_model(files / "lstm.keras")


@pytest.fixture
def zoo(files, tmp_path, monkeypatch):
    """A private copy of the one-entry zoo, as ``$KERASGEN_ZOO_DIR``."""
    directory = shutil.copytree(files / "zoo", tmp_path / "zoo")
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(directory))
    return directory


@pytest.fixture
def saved(files, tmp_path):
    """A model file already on disk that failed commands must leave byte-identical."""
    path = tmp_path / "existing.keras"
    shutil.copyfile(files / "lstm.keras", path)
    return path, path.read_bytes()


# --- API: text generation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"temperature": -0.5}, ValueError, "temperature"),
        ({"temperature": math.nan}, ValueError, "temperature"),
        ({"temperature": 1e39}, ValueError, "temperature"),  # finite in Python, inf in float32
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_p": 0.0}, ValueError, "top_p"),
        ({"top_p": 1.01}, ValueError, "top_p"),
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 10**12}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 2.5}, TypeError, "max_new_tokens"),
        ({"prompt": []}, TypeError, "prompt"),
    ],
)
def test_generate_rejects_bad_arguments_naming_them(lstm, kwargs, error, name):
    with pytest.raises(error, match=name):
        lstm.generate(**{"prompt": "All:", "max_new_tokens": 5, **kwargs})


def test_the_largest_temperature_samples_from_the_vocabulary(lstm):
    text = lstm.generate("All:", max_new_tokens=30, temperature=MAX_TEMPERATURE, seed=0)
    assert text.startswith("All:") and len(text) == 34
    assert set(text[4:]) <= set(lstm.tokenizer.tokens)


@pytest.mark.parametrize("level, prompt", [("char", "Ωzq✓"), ("word", "quantum chromodynamics All:")])
def test_out_of_vocabulary_prompts_generate(level, prompt):
    model = tiny_lstm(TEXT, level=level)
    assert 0 in model.tokenizer.encode(prompt)  # the tokenizer's rule: unseen tokens are id 0
    first = model.generate(prompt, max_new_tokens=6, seed=1)
    assert first.startswith(prompt) and first == model.generate(prompt, max_new_tokens=6, seed=1)
    assert len(model.tokenizer.encode(first[len(prompt):])) == 6


# --- API: images ----------------------------------------------------------------------------------------------------


def _vae():
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    vae.build()
    return vae


def _classifier():
    classifier = kg.models.ImageClassifier(image_shape=(8, 8, 1), num_classes=2, feature_dim=4)
    classifier.build()
    return classifier


@pytest.mark.parametrize(
    "make, call, error, message",
    [
        (_vae, lambda m: m.encode(np.zeros((2, 9, 8, 1), np.float32)), ValueError, r"x must have shape \(n, 8, 8, 1\)"),
        (_vae, lambda m: m.encode(np.zeros((2, 8, 8, 1), np.uint8)), TypeError, "x must be floats.*uint8"),
        (_vae, lambda m: m.encode(np.full((2, 8, 8), 0.5)), ValueError, "x must have shape"),
        (_vae, lambda m: m.decode(np.zeros((2, 5))), ValueError, r"z must be numbers of shape \(n, 2\)"),
        (_vae, lambda m: m.sample(2, temperature=1e39), ValueError, "temperature"),  # NaN images before the bound
        (_classifier, lambda m: m.features(np.full((1, 8, 8, 1), 255.0)), ValueError, r"images must lie in \[0, 1\]"),
        (lambda: kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=2, filters=2), lambda m: m.sample(-2), ValueError,
         "n must be"),
    ],
    ids=["vae-encode-shape", "vae-encode-uint8", "vae-encode-rank", "vae-decode-latent", "vae-huge-temperature",
         "classifier-range", "dcgan-negative-n"],
)
def test_image_models_reject_bad_arrays_naming_them(make, call, error, message):
    with pytest.raises(error, match=message):
        call(make())


# --- API: data, training, zoo ---------------------------------------------------------------------------------------


def test_training_on_an_empty_text_file_names_the_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt.* is empty"):
        training.train_text("lstm", text=str(empty), epochs=1, policy="float32")


def test_text_shorter_than_a_window_names_the_split_and_seq_len(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be.\n")
    with pytest.raises(ValueError, match=r"train split of .*short.txt is 18 tokens long.*seq_len=32"):
        training.train_text("lstm", text=str(short), seq_len=32, epochs=1, policy="float32")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"learning_rate": math.nan}, ValueError, "learning_rate must be a finite number > 0"),
        ({"learning_rate": -1e-3}, ValueError, "learning_rate must be a finite number > 0"),
        ({"learning_rate": "fast"}, TypeError, "learning_rate must be a number"),
        ({"out": "model.h5"}, ValueError, "out must be a path ending in .keras"),
    ],
)
def test_training_arguments_are_checked_before_any_data_is_read(kwargs, error, message):
    # The text is a data set name that would need the network: the check must come first.
    with pytest.raises(error, match=message):
        training.train_text("lstm", text="ptb", data_dir="/nonexistent", **kwargs)


def test_unwritable_log_dir_is_named_before_training(files, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="log dir .*a-file/run.* is not writable"):
        training.train_text("lstm", text=str(files / "corpus.txt"), logdir=str(blocker / "run"), seq_len=16,
                               batch_size=4, epochs=1, policy="float32", model_kwargs={"units": 8, "embedding_dim": 4})


def test_missing_data_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        kg.data.load_image_arrays("mnist", "test", data_dir=tmp_path / "no-such-dir")


def test_unknown_zoo_name_is_a_value_error_with_close_names(zoo):
    with pytest.raises(ValueError, match="unknown zoo model 'tiny-char-lstn'; did you mean tiny-char-lstm") as error:
        kg.zoo.load_model("tiny-char-lstn")
    assert isinstance(error.value, KeyError)  # what zoo.info has always raised


def test_keras_file_with_a_lambda_layer_is_refused(files):
    with pytest.raises(ValueError, match="lambda.keras is refused: .*Lambda layer"):
        kg.zoo.load_model(files / "lambda.keras")


def test_truncated_keras_file_is_named(files, tmp_path):
    truncated = tmp_path / "truncated.keras"
    data = (files / "lstm.keras").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.keras is not a .keras archive"):
        kg.zoo.load_model(truncated)


def test_model_file_in_another_format_is_named(files, tmp_path):
    legacy = tmp_path / "model.h5"
    legacy.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match="model.h5 is not a .keras file"):
        kg.zoo.load_model(legacy)


def test_failed_save_leaves_the_saved_file_and_no_temporary(saved, monkeypatch):
    path, before = saved
    model = tiny_lstm(TEXT)

    def save_half_then_fail(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        saving.atomic_save(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["existing.keras"]
    assert kg.zoo.load_model(path).generate("All:", 5, seed=0).startswith("All:")


# --- CLI ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["generate", "{lstm}", "--temperature", "1e39"], "temperature must be a number in [0, 1000]"),
        (["generate", "{lstm}", "--temperature", "inf"], "temperature must be"),
        (["generate", "{lstm}", "--top-p", "0"], "top_p must be a number in (0, 1]"),
        (["generate", "{lstm}", "--top-k", "-2"], "top_k must be >= 1"),
        (["generate", "{lstm}", "--max-new-tokens", "10000000000"], "max_new_tokens must be in [0, 1000000]"),
        (["sample", "{vae}", "-n", "-3", "--out", "g.png"], "n must be in [1, 1000000], got -3"),
        (["sample", "{vae}", "-n", "2", "--sampler", "ddim", "--out", "g.png"], "--sampler applies to diffusion"),
        (["generate", "{vae}", "--prompt", "x"], "is not a text model"),
        (["export", "{vae}", "--format", "pb", "--out", "{missing}"], "--format must be one of saved_model, onnx, litert"),
        (["export", "{vae}", "--out", "{corpus}"], "exists and is not an empty folder"),
        (["export", "{vae}", "--out", "{files}"], "exists and is not an empty folder"),
        (["export", "{lstm}", "--format", "litert", "--out", "{missing}"], "exports to saved_model, onnx, not litert"),
        (["export", "{vae}", "--steps", "3", "--out", "{missing}"], "--steps applies to a diffusion model's SavedModel only"),
        (["export", "{lambda}", "--out", "{missing}"], "is refused"),
        (["generate", "{lambda}"], "is refused"),
        (["generate", "{corpus}"], "corpus.txt is not a .keras file"),
        (["train", "vae", "--data-dir", "{missing}", "--epochs", "1", "--policy", "float32"], "data directory"),
        (["train", "lstm", "--text", "{corpus}", "--learning-rate", "nan", *SMALL_RUN], "--learning-rate must be"),
        (["train", "lstm", "--text", "{corpus}", "--out", "model.h5", *SMALL_RUN], "out must be a path ending in"),
        (["train", "lstm", "--text", "{corpus}", "--seq-len", "200", "--policy", "float32"],
         "the validation split of"),  # the train split has a window of 200 tokens, the last 10% (140) has none
        # usage caught before any file is read (x.keras does not exist)
        ([], "required: command"),
        (["bogus"], "invalid choice"),
        (["zoo"], "required: zoo_command"),
        (["zoo", "info", "no-such-model"], "unknown zoo model 'no-such-model'"),
        (["generate", "missing.keras"], "missing.keras does not exist"),
        (["generate", "x.keras", "--temperature", "-1"], "temperature must be"),
        (["generate", "x.keras", "--temperature", "nan"], "temperature must be"),
        (["generate", "x.keras", "--top-k", "0"], "top_k must be"),
        (["generate", "x.keras", "--top-p", "1.5"], "top_p must be a number in (0, 1]"),
        (["generate", "x.keras", "--max-new-tokens", "-3"], "max_new_tokens must be"),
        (["generate", "x.keras", "--max-new-tokens", "many"], "invalid int value"),
        (["sample", "x.keras", "-n", "0", "--out", "g.png"], "n must be"),
        (["sample", "x.keras", "-n", "4", "--out", "g.jpg"], "--out must end in .png or .npz"),
        (["sample", "x.keras", "-n", "4"], "required: --out"),
        (["train", "gan"], "unknown model family 'gan'"),
        (["train", "vae", "--ema-decay", "0.9"], "--ema-decay applies to dcgan, not to vae"),
        (["train", "dcgan", "--ema-decay", "1.5"], "ema_decay must be a number in [0, 1), got 1.5"),
        (["train", "vae", "--minibatch-std"], "--minibatch-std applies to dcgan, not to vae"),
        (["train", "dcgan", "--r1-penalty", "-1"], "r1_penalty must be a finite number >= 0, got -1.0"),
        (["train", "dcgan", "--adversarial-loss", "wgan"], "adversarial_loss must be one of nonsaturating, hinge; "
                                                            "got 'wgan'"),
        (["train", "dcgan", "--discriminator-filters", "0"], "--discriminator-filters: must be >= 1, got 0"),
        (["train", "lstm", "--epochs", "0"], "--epochs must be >= 1, got 0"),
        (["train", "lstm", "--level", "byte"], "--level must be one of char, word; got 'byte'"),
        (["eval", "no-such-model"], "unknown zoo model"),
    ],
)
def test_cli_bad_input_is_one_line_with_status_2(capsys, files, tmp_path, argv, fragment):
    paths = {"lstm": files / "lstm.keras", "vae": files / "vae.keras", "lambda": files / "lambda.keras",
             "corpus": files / "corpus.txt", "missing": tmp_path / "missing", "files": files}
    argv = [arg.format(**paths) if arg.startswith("{") else arg for arg in argv]
    assert_usage_error(capsys, argv, fragment)


def test_cli_unknown_zoo_name_suggests_the_close_one(capsys, zoo):
    assert_usage_error(capsys, ["generate", "tiny-char-lstn"], "unknown zoo model 'tiny-char-lstn'; did you mean")


def test_cli_changed_byte_in_a_zoo_file_is_refused_and_the_file_left_alone(capsys, zoo):
    file = zoo / "tiny-char-lstm.keras"
    data = bytearray(file.read_bytes())
    data[len(data) // 3] ^= 0x01
    file.write_bytes(bytes(data))
    assert_usage_error(capsys, ["generate", "tiny-char-lstm", "--prompt", "All:"], "the file was changed or corrupted")
    assert file.read_bytes() == bytes(data)
    assert sorted(p.name for p in zoo.iterdir()) == ["tiny-char-lstm.json", "tiny-char-lstm.keras"]


def test_cli_malformed_tf_config_keeps_the_saved_model(capsys, files, saved, monkeypatch):
    path, before = saved
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker"}}')
    argv = ["train", "lstm", "--text", files / "corpus.txt", "--strategy", "multiworker", "--out", path, *SMALL_RUN]
    assert_usage_error(capsys, argv, "TF_CONFIG task must name a job type of the cluster and an integer index")
    assert path.read_bytes() == before


def test_cli_unwritable_log_dir_keeps_the_saved_model(capsys, files, saved, tmp_path):
    path, before = saved
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["train", "lstm", "--text", files / "corpus.txt", "--logdir", blocker / "logs", "--out", path, *SMALL_RUN]
    assert_usage_error(capsys, argv, "is not writable: Not a directory")
    assert path.read_bytes() == before


def test_cli_failed_sample_keeps_the_existing_grid(capsys, files, tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"an earlier grid")
    argv = ["sample", files / "vae.keras", "-n", "4", "--steps", "10", "--out", grid]
    assert_usage_error(capsys, argv, "--steps applies to diffusion sampling only, not to")
    assert grid.read_bytes() == b"an earlier grid"


def test_cli_out_of_vocabulary_prompt_generates(capsys, files):
    assert cli.main(["generate", str(files / "lstm.keras"), "--prompt", "Ωmega", "--max-new-tokens", "7",
                     "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ωmega") and len(out.rstrip("\n")) == len("Ωmega") + 7


def test_process_with_a_non_utf8_text_file_prints_one_line_and_keeps_the_saved_model(saved, tmp_path):
    path, before = saved
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café au lait, crème brûlée\n".encode("latin-1") * 50)
    result = subprocess.run(
        [sys.executable, "-m", "kerasgen", "train", "lstm", "--text", str(latin1), "--out", str(path), *SMALL_RUN],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},  # as a user runs it
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"kerasgen: error: text file {str(latin1)!r} is not UTF-8 (byte 3)\n"
    assert result.stdout == ""
    assert path.read_bytes() == before
