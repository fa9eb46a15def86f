"""ProgressLog's plain progress lines, and what BackupAndRestore says when it resumes or cannot."""

import io
import json
import re
import shutil

import pytest
import tensorflow as tf
from conftest import TEXT
from helpers import tiny_lstm

import kerasgen as kg
from kerasgen.saving import BackupAndRestore, finished_epochs

END_OF_EPOCH = re.compile(r"^epoch (\d+)/(\d+) done in (\d+) s:(.*)$", re.M)


def _windows(model, rows=8):
    ids = model.tokenizer.encode(TEXT)
    return ids[: rows * 16].reshape(rows, 16), ids[1 : rows * 16 + 1].reshape(rows, 16)


def _epoch_logs(output):
    """{epoch: {name: value}} from ProgressLog's end-of-epoch lines."""
    return {int(epoch): {name: float(value) for name, value in (pair.split("=") for pair in pairs.split())}
            for epoch, _, _, pairs in END_OF_EPOCH.findall(output)}


# --- ProgressLog ----------------------------------------------------------------------------------------------------


def test_progress_lines_show_percent_losses_and_time_left(monkeypatch):
    clock = iter([100.0, 140.0, 141.0, 180.0, 215.0])
    monkeypatch.setattr(kg.callbacks.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    progress = kg.callbacks.ProgressLog(every_percent=5, stream=stream)
    progress.set_params({"epochs": 10, "steps": 1000, "verbose": 0})
    progress.on_epoch_begin(1)
    progress.on_train_batch_end(349, {"loss": 1.23449, "kl_loss": 0.5})  # 35%: at 40 s
    progress.on_train_batch_end(351, {"loss": 1.2})  # 35.2%: under the next 5% mark, no line
    progress.on_train_batch_end(999, {"loss": 1.1})  # at 80 s
    progress.on_epoch_end(1, {"loss": 1.1, "val_loss": 1.25, "learning_rate": 0.001})  # at 115 s
    assert stream.getvalue().splitlines() == [
        "epoch 2/10 - 35% (350/1000 steps) - loss 1.234 - kl_loss 0.5 - 40 s elapsed, ~1 min 14 s left",
        "epoch 2/10 - 100% (1000/1000 steps) - loss 1.1 - 1 min 20 s elapsed, ~0 s left",
        "epoch 2/10 done in 115 s: loss=1.1 val_loss=1.25 learning_rate=0.001",
    ]


def test_progress_log_during_fit_prints_every_few_percent_and_each_epochs_logs(capsys):
    model = tiny_lstm(TEXT)
    x, y = _windows(model)
    history = model.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:2], y[:2]), verbose=0,
                        callbacks=[kg.callbacks.ProgressLog(every_percent=50)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - loss ")[0] for line in lines if " steps) - " in line] == [
        "epoch 1/2 - 50% (2/4 steps)", "epoch 1/2 - 100% (4/4 steps)",
        "epoch 2/2 - 50% (2/4 steps)", "epoch 2/2 - 100% (4/4 steps)",
    ]
    logged = _epoch_logs("\n".join(lines))
    assert sorted(logged) == [1, 2]
    for epoch, logs in logged.items():
        assert set(logs) == set(history.history) >= {"loss", "val_loss"}
        for name, value in logs.items():
            assert value == pytest.approx(history.history[name][epoch - 1], rel=1e-5)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # how keras learns the end of such a data set
def test_progress_log_without_a_step_count_prints_by_time(capsys):
    model = tiny_lstm(TEXT)
    x, y = _windows(model)
    # A generator of unknown length: fit learns the step count only at the end of the first epoch.
    dataset = tf.data.Dataset.from_generator(
        lambda: iter([(x[i : i + 2], y[i : i + 2]) for i in range(0, 8, 2)]),
        output_signature=(tf.TensorSpec((None, 16), x.dtype), tf.TensorSpec((None, 16), y.dtype)),
    )
    model.fit(dataset, epochs=1, verbose=0, shuffle=False, callbacks=[kg.callbacks.ProgressLog(every_seconds=0)])
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r" - loss \S+ - \d+ s elapsed$", "", line) for line in lines[:-1]] == [
        f"epoch 1/1 - {steps} steps" for steps in range(1, 5)
    ]
    assert END_OF_EPOCH.match(lines[-1])


@pytest.mark.parametrize("kwargs, error", [
    ({"every_percent": 0}, ValueError), ({"every_percent": 101}, ValueError), ({"every_seconds": -1}, ValueError),
    ({"every_seconds": float("nan")}, ValueError), ({"every_percent": "5"}, TypeError),
])
def test_progress_log_rejects_bad_settings(kwargs, error):
    with pytest.raises(error, match=f"^{next(iter(kwargs))} must be [^\\n]*$"):
        kg.callbacks.ProgressLog(**kwargs)


# --- BackupAndRestore -----------------------------------------------------------------------------------------------


def _fit(model, backup_dir, epochs):
    x, y = _windows(model)
    backup = BackupAndRestore(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=[backup])


def test_a_resumed_run_says_after_which_epoch_and_a_finished_one_trains_no_more(tmp_path, capsys):
    backup = tmp_path / "backup"
    assert finished_epochs(backup) is None
    assert _fit(tiny_lstm(TEXT), backup, epochs=2).epoch == [0, 1]
    assert "resuming" not in capsys.readouterr().out  # a fresh run
    assert finished_epochs(backup) == 2

    assert _fit(tiny_lstm(TEXT), backup, epochs=3).epoch == [2]
    assert capsys.readouterr().out == f"resuming after epoch 2 from {backup}\n"
    assert finished_epochs(backup) == 3

    assert _fit(tiny_lstm(TEXT), backup, epochs=3).epoch == []
    assert capsys.readouterr().out == (f"the run is finished: the checkpoint in {backup} holds all 3 epochs "
                                       f"(epochs=3), so nothing is trained again; delete {backup} or use another "
                                       "logdir to train anew\n")


def test_a_checkpoint_with_truncated_metadata_resumes_from_the_previous_one(tmp_path, capsys):
    backup = tmp_path / "backup"
    _fit(tiny_lstm(TEXT), backup, epochs=2)
    assert json.loads((backup / "training_metadata.json.bkp").read_text())["epoch"] == 1
    (backup / "training_metadata.json").write_text('{"epo')  # as keras's own writer leaves it when killed
    assert finished_epochs(backup) == 1
    capsys.readouterr()
    assert _fit(tiny_lstm(TEXT), backup, epochs=3).epoch == [1, 2]
    assert capsys.readouterr().out == f"resuming after epoch 1 from {backup}\n"

    (backup / "training_metadata.json").write_text('{"epo')  # again, now with no previous checkpoint
    (backup / "latest.weights.h5.bkp").unlink()
    message = f"the checkpoint in {backup} has an unreadable training_metadata.json: delete {backup} to start over"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        finished_epochs(backup)
    with pytest.raises(OSError, match=f"^{re.escape(message)}$"):
        _fit(tiny_lstm(TEXT), backup, epochs=3)


def test_finished_epochs_of_a_folder_without_weights_is_none(tmp_path):
    assert finished_epochs(tmp_path / "missing") is None
    (tmp_path / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert finished_epochs(tmp_path) is None  # metadata alone: nothing to restore


@pytest.mark.parametrize("other", [dict(units=32), dict(num_layers=2), dict(text=TEXT + "#@~")],
                         ids=["size", "depth", "vocabulary"])
def test_a_checkpoint_of_another_model_stops_with_one_line_naming_its_folder(tmp_path, other):
    backup = tmp_path / "backup"
    _fit(tiny_lstm(TEXT), backup, epochs=1)
    text = other.pop("text", TEXT)
    model = kg.models.LSTMGenerator(kg.text.CharTokenizer.from_text(text), **{
        "embedding_dim": 8, "units": 16, "num_layers": 1, **other})
    model.compile(optimizer="adam")
    model(_windows(model)[0][:1])
    with pytest.raises(ValueError) as error:
        _fit(model, backup, epochs=2)
    assert str(error.value) == (
        f"the checkpoint in {backup} was written by another model or other settings: use another --logdir "
        f"(logdir= or backup_dir= in Python), or delete {backup} to start over")
    assert "could not be loaded" in str(error.value.__context__)  # keras's details stay reachable

    shutil.rmtree(backup)  # what the message says to do
    assert _fit(model, backup, epochs=1).epoch == [0]
