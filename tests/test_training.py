"""Training runs: resume after SIGKILL, fine-tuning from a saved model, the embedding projector, neighbours."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import pytest
from helpers import tiny_lstm

from kerasgen import cli


def train_command(text_file, logdir, epochs, out):
    return [
        sys.executable, "-m", "kerasgen", "train", "lstm", "--text", str(text_file), "--epochs", str(epochs),
        "--steps-per-epoch", "3", "--seq-len", "16", "--batch-size", "4", "--units", "8", "--embedding-dim", "4",
        "--num-layers", "1", "--policy", "float32", "--logdir", str(logdir), "--out", str(out),
    ]


@pytest.fixture
def text_file(tmp_path, text):
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    return path


def test_sigkilled_run_resumes_from_its_last_finished_epoch(text_file, tmp_path):
    logdir, out = tmp_path / "run", tmp_path / "model.keras"
    metadata = logdir / "backup" / "training_metadata.json"
    process = subprocess.Popen(train_command(text_file, logdir, 200, out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            if metadata.exists() and metadata.read_text().strip() and json.loads(metadata.read_text())["epoch"] >= 2:
                break
            time.sleep(0.2)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    saved_epoch = json.loads(metadata.read_text())["epoch"]
    assert saved_epoch >= 2 and not out.exists()

    resumed = subprocess.run(train_command(text_file, logdir, saved_epoch + 2, out), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    epochs_run = [int(n) for n in re.findall(r"^epoch (\d+)/\d+ done in", resumed.stdout, flags=re.M)]
    assert epochs_run == [saved_epoch + 1, saved_epoch + 2], resumed.stdout[-2000:]
    assert out.exists()


def test_fine_tuning_keeps_the_initial_tokenizer(text, tmp_path, capsys):
    base = tiny_lstm(text, fit_steps=1)
    base_path = tmp_path / "base.keras"
    base.save(base_path)
    other = tmp_path / "other.txt"
    other.write_text("zebra quartz jinx vex " * 200)  # characters the base vocabulary lacks
    out = tmp_path / "tuned.keras"
    argv = ["train", "lstm", "--text", str(other), "--init", str(base_path), "--epochs", "1", "--steps-per-epoch",
            "2", "--seq-len", "16", "--batch-size", "4", "--policy", "float32", "--out", str(out)]
    assert cli.main(argv) == 0
    tuned = keras.saving.load_model(out, safe_mode=True)
    assert tuned.tokenizer.vocabulary == base.tokenizer.vocabulary
    assert any(abs(a - b).max() > 0 for a, b in zip(tuned.get_weights(), base.get_weights()))
    # The initial model is rebuilt under the run's policy (the saved file is always float32).
    from kerasgen import training

    model, _ = training.train_text("lstm", str(other), init=str(base_path), epochs=1, steps_per_epoch=1, seq_len=16,
                                   batch_size=4, policy="mixed_float16", verbose=0)
    assert model.tokenizer.vocabulary == base.tokenizer.vocabulary
    assert "mixed_float16" in {layer.dtype_policy.name for layer in model._flatten_layers()}


def test_fine_tuning_refuses_size_options(text, tmp_path, capsys):
    assert cli.main(["train", "lstm", "--init", "x.keras", "--units", "64"]) == 2
    assert "--init keeps the zoo model's architecture" in capsys.readouterr().err


def test_logdir_gets_the_embedding_projector(text_file, tmp_path):
    logdir = tmp_path / "run"
    assert cli.main(train_command(text_file, logdir, 1, tmp_path / "m.keras")[3:]) == 0
    projector = logdir / "projector"
    model = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    tokens = (projector / "metadata.tsv").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(tokens) == model.tokenizer.vocab_size
    assert tokens[model.tokenizer.encode_tokens(["\n"])[0]] == "\\n"
    config = (projector / "projector_config.pbtxt").read_text()
    assert "metadata.tsv" in config and "embedding/.ATTRIBUTES/VARIABLE_VALUE" in config


def test_neighbors_ranks_by_cosine_similarity(text, tmp_path, capsys):
    model = tiny_lstm(text, level="word")
    matrix = model.embedding.embeddings
    values = matrix.numpy() * 0
    values[:, 7] = 1.0  # every other token orthogonal to the three below
    ids = model.tokenizer.encode_tokens(["Speak,", "famish?", "All:"])
    values[ids[0]] = [1.0, 0.1, 0, 0, 0, 0, 0, 0]
    values[ids[1]] = [1.0, 0.2, 0, 0, 0, 0, 0, 0]  # nearly parallel to "Speak,"
    values[ids[2]] = [-1.0, 0, 0, 0, 0, 0, 0, 0]  # opposite
    matrix.assign(values)
    ranked = model.nearest_tokens("Speak,", k=model.tokenizer.vocab_size - 1)
    assert ranked[0][0] == "famish?" and ranked[0][1] == pytest.approx(1.02 / (1.04 * 1.01) ** 0.5)
    assert ranked[-1][0] == "All:" and ranked[-1][1] == pytest.approx(-1 / 1.01**0.5)
    assert all(similarity == pytest.approx(0) for _, similarity in ranked[1:-1])
    path = tmp_path / "words.keras"
    model.save(path)
    assert cli.main(["neighbors", str(path), "--word", "Speak,", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(re.match(r"^-?\d\.\d{3}  \S+$", line) for line in lines)
    assert cli.main(["neighbors", str(path), "--word", "zzz"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


def test_text_streams_continue_each_row_from_one_batch_to_the_next(text):
    import numpy as np

    import kerasgen as kg

    tokenizer = kg.text.CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    batches = list(kg.data.text_streams(text, tokenizer, seq_len=5, batch_size=3))
    length = (len(ids) - 1) // 3
    assert len(batches) == length // 5 and batches[0][0].shape == (3, 5)
    inputs = np.concatenate([x.numpy() for x, _ in batches], axis=1)
    targets = np.concatenate([y.numpy() for _, y in batches], axis=1)
    for row in range(3):
        start = row * length
        np.testing.assert_array_equal(inputs[row], ids[start : start + inputs.shape[1]])
        np.testing.assert_array_equal(targets[row], ids[start + 1 : start + 1 + inputs.shape[1]])
    with pytest.raises(ValueError, match="too short for 3 streams"):
        kg.data.text_streams(text[:10], tokenizer, seq_len=5, batch_size=3)


def test_carry_state_trains_each_batch_from_where_the_last_one_ended(text, tmp_path):
    import numpy as np
    import tensorflow as tf

    import kerasgen as kg

    model = tiny_lstm(text, fit_steps=3)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # the weights stay put: losses are comparable
    streams = kg.data.text_streams(text, model.tokenizer, seq_len=8, batch_size=4).take(2)
    (x1, y1), (x2, y2) = list(streams)

    def loss(x, y, state):
        logits, state = model(x, initial_state=state, return_state=True)
        return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))), state

    first, state = loss(x1, y1, None)
    carried, _ = loss(x2, y2, state)
    fresh, _ = loss(x2, y2, None)
    assert abs(carried - fresh) > 1e-4  # the state matters for the second batch (far above the tolerance below)

    model.carry_state(4)
    history = model.fit(streams, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx((first + carried) / 2, rel=1e-5)
    state = model.untracked.carried_state
    assert np.abs(state[0][0].numpy()).max() > 0
    model.reset_carried_state()
    assert np.abs(state[0][0].numpy()).max() == 0
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="carry_state was set for batches of 4"):
        model.fit(x1[:2], y1[:2], epochs=1, verbose=0)
    # Inference ignores the carried state, and it is not saved.
    np.testing.assert_allclose(model(x2), model(x2, initial_state=None), rtol=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.untracked.carried_state is None and len(loaded.weights) == len(model.weights)
    model.carry_state(None)
    history = model.fit(streams, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx((first + fresh) / 2, rel=1e-5)


def test_train_text_carry_state_runs_on_streams_and_refuses_a_transformer(text_file):
    from kerasgen import training

    kwargs = dict(text=str(text_file), level="char", epochs=2, seq_len=8, batch_size=4, policy="float32", verbose=0)
    model, history = training.train_text(
        "lstm", carry_state=True, model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1}, **kwargs
    )
    assert len(history.history["loss"]) == 2 and history.history["loss"][1] < history.history["loss"][0]
    assert model.untracked.carried_state[0][0].shape == (4, 8)
    with pytest.raises(ValueError, match="no state to carry"):
        training.train_text("gpt", carry_state=True, model_kwargs={"num_layers": 1, "embedding_dim": 8,
                                                                   "num_heads": 2, "max_length": 8}, **kwargs)


def test_train_command_carry_state(text_file, tmp_path, capsys):
    out = tmp_path / "m.keras"
    assert cli.main(train_command(text_file, tmp_path / "run", 1, out)[3:] + ["--carry-state"]) == 0
    assert out.exists()
    assert cli.main(["train", "gpt", "--carry-state", "--text", str(text_file)]) == 2
    assert "--carry-state needs a recurrent model; 'gpt' has no state to carry" in capsys.readouterr().err


def test_random_offsets_train_on_windows_cut_anew_each_epoch(text_file, tmp_path, capsys):
    from kerasgen import data, training

    kwargs = dict(text=str(text_file), level="char", epochs=2, seq_len=8, batch_size=16, policy="float32",
                  verbose=0, model_kwargs={"num_layers": 1, "embedding_dim": 8, "num_heads": 2, "max_length": 8})
    fixed, fixed_history = training.train_text("gpt", **kwargs)
    model, history = training.train_text("gpt", random_offsets=True, **kwargs)
    train = data.load_text(str(text_file), "train")
    windows = len(data.offset_windows(train, model.tokenizer, 8, 16)[0])
    assert windows == len(data.window_arrays(train, model.tokenizer, 8)[0]) - 1  # this text: one fewer window
    assert model.optimizer.iterations == 2 * -(-windows // 16)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert history.history["loss"] != fixed_history.history["loss"]  # other windows than the fixed cut's
    out = tmp_path / "m.keras"
    assert cli.main(train_command(text_file, tmp_path / "run", 1, out)[3:] + ["--random-offsets"]) == 0
    assert out.exists()
    assert cli.main(["train", "lstm", "--random-offsets", "--carry-state", "--text", str(text_file)]) == 2
    assert capsys.readouterr().err.strip().endswith("--random-offsets cuts windows anew each epoch; --carry-state "
                                                    "reads contiguous streams instead: choose one")


def test_sgd_with_global_clipping_and_the_halving_schedule(text_file):
    import numpy as np

    from kerasgen import training

    kwargs = dict(text=str(text_file), level="char", seq_len=8, batch_size=4, policy="float32", verbose=0,
                  steps_per_epoch=1, optimizer="sgd", global_clipnorm=1e-3,
                  model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1})
    model, history = training.train_text("lstm", epochs=6, learning_rate=0.5, schedule="halving", **kwargs)
    # Two constant epochs (a third of six), then halved every epoch.
    np.testing.assert_allclose(history.history["learning_rate"], [0.5, 0.5, 0.25, 0.125, 0.0625, 0.03125])
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    # One plain SGD step from the same start, gradient clipped as a whole to norm 1e-3: steps at rates 0.5 and
    # 0.2 lie on one line, (0.5 - 0.2) x 1e-3 apart.
    half, _ = training.train_text("lstm", epochs=1, learning_rate=0.5, **kwargs)
    fifth, _ = training.train_text("lstm", epochs=1, learning_rate=0.2, **kwargs)
    apart = np.sqrt(sum(np.sum((a.astype(np.float64) - b) ** 2) for a, b in zip(half.get_weights(),
                                                                                  fifth.get_weights())))
    # Within 1%: the float32 weights round each 1e-4-sized step (per-variable clipping would be far off).
    assert apart == pytest.approx(0.3 * 1e-3, rel=1e-2)
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        training.train_text("lstm", epochs=1, **{**kwargs, "optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="schedule must be one of"):
        training.train_text("lstm", epochs=1, schedule="linear", **kwargs)


def test_weight_decay_shrinks_weights_but_not_biases(text_file):
    import numpy as np

    from kerasgen import training

    # One SGD step whose gradient step is clipped to nothing: only the decay moves the weights.
    kwargs = dict(text=str(text_file), level="char", seq_len=8, batch_size=4, policy="float32", verbose=0,
                  steps_per_epoch=1, epochs=1, optimizer="sgd", learning_rate=0.5, global_clipnorm=1e-12,
                  model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1})
    plain, _ = training.train_text("lstm", **kwargs)
    decayed, _ = training.train_text("lstm", weight_decay=0.2, **kwargs)
    names = [variable.name for variable in decayed.trainable_weights]
    assert {"embeddings", "kernel", "recurrent_kernel", "bias"} <= set(names)
    for name, before, after in zip(names, plain.trainable_weights, decayed.trainable_weights):
        before, after = np.asarray(before.value), np.asarray(after.value)
        assert np.any(before != 0), name  # the LSTM's forget-gate bias starts at 1
        # Shrunk by learning_rate * weight_decay = 10% of each value; biases kept.
        np.testing.assert_allclose(after, before * (1.0 if name == "bias" else 0.9), rtol=1e-5, atol=1e-9,
                                   err_msg=name)
    assert isinstance(decayed.optimizer, keras.optimizers.SGD) and decayed.optimizer.weight_decay == 0.2
    with pytest.raises(ValueError, match="weight_decay must be"):
        training.train_text("lstm", **{**kwargs, "weight_decay": -0.1})
