"""Crash safety: a diverging run stops and keeps its last good checkpoint; a SIGKILL during a save never costs
the previous model, zoo entry or checkpoint.

The kills are deterministic: a child process blocks inside the save (in a layer's ``save_own_variables``,
so the file is half written) and says so; then the test sends SIGKILL. The resume after a SIGKILL between
epochs is tests/test_training.py::test_sigkilled_run_resumes_from_its_last_finished_epoch.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from conftest import TEXT
from helpers import tiny_lstm

import kerasgen as kg
from kerasgen import saving, training

TESTS = Path(__file__).resolve().parent
RUN = dict(seq_len=16, batch_size=4, steps_per_epoch=3, policy="float32", verbose=0,
           model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1})
CARD = {"family": "lstm", "dataset": "test text", "metric": {"key": "text_nll", "name": "nats", "value": 0},
        "command": "pytest", "training_time": "1 s", "hardware": "CPU"}

CHILD = r'''
import json, os, signal, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[4])
mode, target, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

import keras
from conftest import TEXT
from helpers import tiny_lstm
from kerasgen import saving, training, zoo


def say_ready_and_block():
    folder = target if target.is_dir() else target.parent
    listing = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    Path(f"{ready}.part").write_text(json.dumps(listing))
    os.rename(f"{ready}.part", ready)
    time.sleep(600)


def block_on_call(owner, name, call_number):
    """Block inside the ``call_number``-th call of owner.name, after the original has run."""
    original, calls = getattr(owner, name), []

    def patched(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == call_number:
            say_ready_and_block()
        return result

    setattr(owner, name, patched)


if mode in ("save", "publish"):
    model = tiny_lstm(TEXT + "a new model", fit_steps=1)
    block_on_call(keras.layers.Embedding, "save_own_variables", 1)  # the model file is open, half written
    saving.atomic_save(model, target) if mode == "save" else zoo.publish(model, "tiny", json.loads(sys.argv[5]))
elif mode == "publish-between-renames":
    model = tiny_lstm(TEXT + "a new model", fit_steps=1)
    Path(f"{ready}.part").write_text(json.dumps(model.generate("All:", 20, seed=0)))
    os.rename(f"{ready}.part", ready)
    replace = os.replace

    def replace_then_die(source, destination):
        replace(source, destination)
        if str(destination).endswith(".keras"):  # the weights are in place, the card not yet
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace_then_die
    zoo.publish(model, "tiny", json.loads(sys.argv[5]))
else:  # a training run killed while it writes the checkpoint of epoch 2
    if mode == "backup-weights":
        block_on_call(keras.layers.Embedding, "save_own_variables", 2)
    else:  # backup-metadata: keras's own callback has already truncated the metadata file at this point
        dumps = json.dumps

        def dumps_then_block(obj, *args, **kwargs):
            text = dumps(obj, *args, **kwargs)
            if isinstance(obj, dict) and {"epoch", "batch"} <= set(obj) and obj["epoch"] == 2:
                say_ready_and_block()
            return text

        json.dumps = dumps_then_block
    training.train_text("lstm", text=sys.argv[5], epochs=4, logdir=str(target), **json.loads(sys.argv[6]))
'''


def start_child(tmp_path, mode, target, *extra, env=None):
    """Run CHILD in ``mode``; return (process, JSON payload it wrote when it was ready)."""
    script, ready, log = tmp_path / "child.py", tmp_path / "ready.json", tmp_path / "child.log"
    script.write_text(CHILD)
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(script), mode, str(target), str(ready), str(TESTS), *extra],
            stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, **(env or {})},
        )
    deadline = time.time() + 180
    while not ready.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail(f"the child never got ready (exit {process.poll()}):\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())


def kill(process):
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def finite_h5(path):
    arrays = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    floats = [a for a in arrays if np.asarray(a).dtype.kind == "f"]
    return bool(floats) and all(np.isfinite(a).all() for a in floats)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return path


# --- NaN safety -----------------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="kerasgen_tests")
class Diverging(keras.optimizers.schedules.LearningRateSchedule):
    """1e-3 up to optimizer step ``last_good_step``, infinite after it."""

    def __init__(self, last_good_step):
        self.last_good_step = last_good_step

    def __call__(self, step):
        return keras.ops.where(step > self.last_good_step, float("inf"), 1e-3)

    def get_config(self):
        return {"last_good_step": self.last_good_step}


@pytest.mark.parametrize(
    "last_good_step, message",
    [
        (2, "loss became nan at batch 2 of epoch 2"),  # the first update of epoch 2 diverges: caught by the next batch
        (4, "val_loss became nan in epoch 2"),  # the last update of epoch 2 diverges: every batch loss was finite
    ],
    ids=["mid-epoch", "last-step-of-epoch"],
)
def test_diverging_run_stops_clearly_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch, capsys,
                                                                        last_good_step, message):
    logdir, out = tmp_path / "run", tmp_path / "model.keras"
    tiny_lstm(TEXT).save(out)
    before = out.read_bytes()
    # Epoch 1 (steps 0-2) trains at 1e-3; from the step after ``last_good_step`` the learning rate is infinite.
    diverging = Diverging(last_good_step)
    monkeypatch.setattr(training.trainer, "learning_rate_schedule", lambda *args, **kwargs: diverging)
    with pytest.raises(training.NonFiniteLossError) as error:
        training.train_text("lstm", text=str(corpus), epochs=4, logdir=str(logdir), out=str(out), **RUN)
    backup = logdir / "backup"
    assert str(error.value) == (f"training stopped: {message}; the checkpoint of the last good epoch in {backup} "
                                "is kept (rerun to resume from it)")
    progress = json.loads((backup / "training_metadata.json").read_text())
    assert (progress["epoch"], progress["batch"]) == (1, 0)
    assert finite_h5(backup / "latest.weights.h5")
    assert out.read_bytes() == before  # no NaN weights reach --out

    # The same schedule, never diverging now (the same optimizer variables: its state restores too).
    monkeypatch.setattr(training.trainer, "learning_rate_schedule", lambda *args, **kwargs: Diverging(10**9))
    capsys.readouterr()
    model, history = training.train_text("lstm", text=str(corpus), epochs=2, logdir=str(logdir), out=str(out), **RUN)
    assert history.epoch == [1]  # resumed after the last good epoch, and says so
    assert f"resuming after epoch 1 from {backup}\n" in capsys.readouterr().out
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert kg.zoo.load_model(out).generate("All:", 10, seed=0).startswith("All:")


# --- SIGKILL during a save ------------------------------------------------------------------------------------------


def test_kill_during_atomic_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "models" / "model.keras"
    previous = tiny_lstm(TEXT, fit_steps=1)
    saving.atomic_save(previous, path)
    before, generated = path.read_bytes(), previous.generate("All:", 20, seed=0)

    process, listing = start_child(tmp_path, "save", path)
    [temporary] = [name for name in listing if name != "model.keras"]  # the save was under way ...
    assert temporary.startswith(".model.keras.tmp") and temporary.endswith(".keras")
    kill(process)  # ... when the process died

    assert path.read_bytes() == before
    assert kg.zoo.load_model(path).generate("All:", 20, seed=0) == generated
    assert (path.parent / temporary).exists()  # the dead process's half file, under a hidden name ...
    saving.atomic_save(previous, path)  # ... which the next save to the path removes
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]


def test_kill_during_zoo_publish_keeps_the_previous_entry(tmp_path, monkeypatch):
    zoo_dir = tmp_path / "zoo"
    previous = tiny_lstm(TEXT, fit_steps=1)
    kg.zoo.publish(previous, "tiny", CARD, directory=zoo_dir)
    before = {p.name: p.read_bytes() for p in zoo_dir.iterdir()}
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(zoo_dir))

    process, listing = start_child(tmp_path, "publish", zoo_dir, json.dumps(CARD))
    assert sorted(before) == ["tiny.json", "tiny.keras"] and len(listing) == 3  # the new weights are half written
    kill(process)

    assert {name: (zoo_dir / name).read_bytes() for name in before} == before
    assert [entry["name"] for entry in kg.zoo.list()] == ["tiny"]  # the stray half file is no entry
    assert kg.zoo.load("tiny").generate("All:", 20, seed=0) == previous.generate("All:", 20, seed=0)


def test_kill_between_the_weights_and_the_card_of_a_publish_is_completed_on_load(tmp_path, monkeypatch):
    zoo_dir = tmp_path / "zoo"
    kg.zoo.publish(tiny_lstm(TEXT, fit_steps=1), "tiny", CARD, directory=zoo_dir)
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(zoo_dir))

    process, new_generation = start_child(tmp_path, "publish-between-renames", zoo_dir, json.dumps(CARD))
    assert process.wait(timeout=120) == -signal.SIGKILL  # it killed itself between the two renames
    assert (zoo_dir / ".tiny.json.tmp").exists()

    loaded = kg.zoo.load("tiny")  # the new weights with their staged card: the publish is finished, not corrupted
    assert loaded.generate("All:", 20, seed=0) == new_generation
    assert kg.zoo.info("tiny")["sha256"] == kg.zoo.sha256(zoo_dir / "tiny.keras")
    assert sorted(p.name for p in zoo_dir.iterdir()) == ["tiny.json", "tiny.keras"]


@pytest.mark.parametrize("mode", ["backup-weights", "backup-metadata"])
def test_kill_during_the_checkpoint_write_leaves_a_resumable_run(corpus, tmp_path, capsys, mode):
    logdir, out = tmp_path / "run", tmp_path / "model.keras"
    process, listing = start_child(tmp_path, mode, logdir, str(corpus), json.dumps(RUN))
    assert "backup/latest.weights.h5" in listing  # epoch 1's checkpoint is on disk; epoch 2's is being written
    kill(process)

    model, history = training.train_text("lstm", text=str(corpus), epochs=3, logdir=str(logdir), out=str(out), **RUN)
    assert history.epoch == [1, 2]  # epoch 2 again, from the checkpoint the kill interrupted or the one before
    assert f"resuming after epoch 1 from {logdir / 'backup'}\n" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert out.exists()
    assert sorted(p.name for p in (logdir / "backup").iterdir()) == [
        "latest.weights.h5", "latest.weights.h5.bkp", "training_metadata.json", "training_metadata.json.bkp"]
