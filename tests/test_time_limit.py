"""Training bounded by time: --max-time stops a run cleanly within an epoch, a resumed run ends where the
uninterrupted one would have, a killed run resumes from its last checkpoint, and bad durations are usage errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import tfevents_records
from PIL import Image

from kerasgen import checks, cli, training
from kerasgen.saving import checkpoint_position

ROOT = Path(__file__).resolve().parents[1]
LSTM = {"embedding_dim": 8, "units": 16, "num_layers": 1, "dropout": 0.2}  # dropout: a random generator to restore


@pytest.fixture
def text_file(tmp_path, text):
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    return path


def _weights(model):
    return [np.asarray(weight) for weight in model.weights]


def _epoch_steps(log_dir):
    """{tag: sorted steps} of the epoch summaries under ``log_dir`` (TensorBoard's scalars)."""
    steps = {}
    for tag, step, _, _ in tfevents_records(log_dir):
        if tag.startswith("epoch_"):
            steps.setdefault(tag, []).append(step)
    return {tag: sorted(values) for tag, values in steps.items()}


def _until_finished(run, backup, max_runs):
    """Call ``run()`` until its history says finished; every stopped run must have moved the checkpoint on."""
    positions, histories = [], []
    for _ in range(max_runs):
        history = run()
        histories.append(history)
        if history.finished:
            return positions, histories
        position = checkpoint_position(backup)[:2]
        assert not positions or position > positions[-1], f"no progress: {positions[-1]} -> {position}"
        positions.append(position)
    raise AssertionError(f"not finished after {max_runs} runs: {positions}")


def test_an_lstm_stopped_within_epochs_again_and_again_ends_as_the_uninterrupted_run(text_file, tmp_path, capsys):
    """A max_time shorter than one step: each run trains one step, saves and stops; the runs together end with the
    uninterrupted run's weights, losses and TensorBoard steps."""
    run = dict(text=str(text_file), level="char", epochs=2, seq_len=16, batch_size=32, policy="float32",
               verbose=0, temperatures=(1.0,), model_kwargs=LSTM)
    whole, whole_history = training.train_text("lstm", logdir=tmp_path / "whole", **run)
    assert whole_history.finished and whole_history.stop_message is None
    capsys.readouterr()

    backup = tmp_path / "pieces" / "backup"
    positions, histories = _until_finished(
        lambda: training.train_text("lstm", logdir=tmp_path / "pieces", max_time=1e-3, **run)[1], backup, 20)
    out = capsys.readouterr().out
    # 86 windows of 16 characters: three steps an epoch (the last batch partial). One step per run; the run whose
    # step ends an epoch runs its validation and stops as the next epoch begins.
    assert positions == [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2)], positions
    assert "at epoch 1, step 2 of 3: run the same command to continue" in out
    assert "after epoch 1: run the same command to continue" in out
    assert "resuming at epoch 2, step 2 of 3 from" in out
    assert all(h.stop_message.startswith("stopped after ") for h in histories[:-1])
    pieces = training.train_text("lstm", logdir=tmp_path / "pieces", max_time=1e-3, **run)[0]  # finished: no-op
    for expected, actual in zip(_weights(whole), _weights(pieces)):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    # The epochs' losses: the resumed epoch's running mean continues from the checkpoint's totals.
    np.testing.assert_allclose(histories[-1].history["loss"], whole_history.history["loss"][-1:], rtol=1e-5)
    assert _epoch_steps(tmp_path / "whole")["epoch_loss"] == [0, 0, 1, 1]  # training and validation, 2 epochs
    assert _epoch_steps(tmp_path / "pieces") == _epoch_steps(tmp_path / "whole")


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "squares"
    root.mkdir()
    for i in range(12):
        pixels = np.zeros((8, 8), np.uint8)
        row, column = rng.integers(0, 5, 2)
        pixels[row : row + 4, column : column + 4] = 255
        Image.fromarray(pixels).save(root / f"{i:02d}.png")
    return root


def test_a_diffusion_model_stopped_within_an_epoch_ends_as_the_uninterrupted_run(image_folder, tmp_path, capsys):
    """12 images: 10 train (two batches of 4 an epoch), 2 validate."""
    run = dict(epochs=2, batch_size=4, policy="float32", verbose=0, temperatures=(1.0,),
               model_kwargs={"widths": (8, 16), "block_depth": 1})
    whole, whole_history = training.train_images("diffusion", str(image_folder), logdir=tmp_path / "whole", **run)
    stopped, history = training.train_images("diffusion", str(image_folder), logdir=tmp_path / "pieces",
                                             max_time=1e-3, **run)
    assert not history.finished and checkpoint_position(tmp_path / "pieces" / "backup") == (0, 1, 2)
    assert "at epoch 1, step 1 of 2: run the same command to continue" in capsys.readouterr().out
    resumed, history = training.train_images("diffusion", str(image_folder), logdir=tmp_path / "pieces",
                                             out=tmp_path / "m.keras", **run)
    assert history.finished and (tmp_path / "m.keras").exists()
    assert "resuming at epoch 1, step 1 of 2 from" in capsys.readouterr().out
    for expected, actual in zip(_weights(whole), _weights(resumed)):  # EMA weights and optimizer steps included
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    assert int(resumed.optimizer.iterations) == int(whole.optimizer.iterations) == 4
    np.testing.assert_allclose(history.history["val_loss"], whole_history.history["val_loss"], rtol=1e-5)
    assert _epoch_steps(tmp_path / "pieces") == _epoch_steps(tmp_path / "whole")


def _train_args(text_file, logdir, *extra, batch_size=4):
    return ["train", "lstm", "--text", str(text_file), "--seq-len", "8", "--batch-size", str(batch_size),
            "--epochs", "2",
            "--embedding-dim", "8", "--units", "16", "--num-layers", "1", "--policy", "float32",
            "--logdir", str(logdir), *extra]


def test_a_run_killed_between_checkpoints_resumes_from_the_last_one_and_finishes(text_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "kerasgen.cli", *_train_args(text_file, tmp_path / "run",
                                                                  "--checkpoint-every", "0.2",
                                                                  "--out", str(tmp_path / "m.keras"),
                                                                  batch_size=1)]  # 173 steps an epoch
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metadata = tmp_path / "run" / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if json.loads(metadata.read_text())["batch"] > 0:
                    break  # a checkpoint within the first epoch
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        assert child.poll() is None, "the run finished before a checkpoint within an epoch"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed_at = checkpoint_position(tmp_path / "run" / "backup")
    assert killed_at[0] < 2 and not (tmp_path / "m.keras").exists()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming at epoch {killed_at[0] + 1}, step" in result.stdout or f"resuming after epoch {killed_at[0]}" \
        in result.stdout, result.stdout
    assert (tmp_path / "m.keras").exists() and checkpoint_position(tmp_path / "run" / "backup")[:2] == (2, 0)


def test_the_command_line_exits_75_while_stopped_and_0_once_finished(text_file, tmp_path, capsys):
    args = _train_args(text_file, tmp_path / "run", "--max-time", "0.001", "--out", str(tmp_path / "m.keras"),
                       "--epochs", "1", "--steps-per-epoch", "2")
    assert cli.main(args) == cli.EXIT_STOPPED == 75
    assert "at epoch 1, step 1 of 2: run the same command to continue" in capsys.readouterr().out
    assert not (tmp_path / "m.keras").exists()  # --out is written by a finished run only
    assert cli.main(args) == 0  # the second step ends the epoch and the run
    assert (tmp_path / "m.keras").exists() and "saved" in capsys.readouterr().out


@pytest.mark.parametrize("duration", ["0", "-5m", "2x", "", "0m", "1h-5m"])
def test_bad_durations_are_one_line_usage_errors(duration, text_file, tmp_path, capsys):
    for flag in ("--max-time", "--checkpoint-every"):
        assert cli.main(_train_args(text_file, tmp_path / "run", f"{flag}={duration}")) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"kerasgen: error: {flag} must be a duration"), err
    assert not (tmp_path / "run").exists()  # refused before anything was read or written


def test_max_time_needs_a_checkpoint_folder(text_file, tmp_path, capsys):
    args = _train_args(text_file, tmp_path / "run", "--max-time", "1h")
    args = args[: args.index("--logdir")] + args[args.index("--logdir") + 2 :]
    assert cli.main(args) == cli.EXIT_USAGE
    assert "--max-time needs --logdir" in capsys.readouterr().err
    with pytest.raises(ValueError, match="max_time needs logdir"):
        training.train_text("lstm", str(text_file), max_time="1h", epochs=1)


def test_durations_read_as_seconds():
    assert [checks.parse_duration(text) for text in ("2h", "90m", "1h30m", "45s", "3600", " 1.5h ")] == [
        7200, 5400, 5400, 45, 3600, 5400]
    assert checks.parse_duration(2.5) == 2.5
    assert [checks.format_duration(s) for s in (7200, 312, 40)] == ["2h 0m", "5m 12s", "40s"]
