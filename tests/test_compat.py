"""kerasgen.compat: each Keras private-API use works on the installed Keras, and one that moved fails in one line.

The first test of each pair runs the use for real, so a Keras upgrade that
changes its behaviour fails here; the second removes the private thing and
checks the message a user would see. The last test keeps every such use in
kerasgen/compat.py.
"""

import importlib
import re
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasgen import compat, saving

TRAINER = "keras.src.backend.tensorflow.trainer"
PACKAGE = Path(compat.__file__).resolve().parent


def moved_message(thing, purpose):
    """The pattern of compat's one-line error for ``thing``."""
    where = rf"{re.escape(thing)}, which kerasgen\.compat relies on for {re.escape(purpose)}"
    return rf"^Keras {re.escape(keras.__version__)} no longer has {where}; [^\n]+$"


def dense_model(inner_units=3):
    inner = keras.Sequential([keras.layers.Dense(inner_units), keras.layers.Dense(2)], name="inner")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(inner(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    return model


DATA = (np.ones((8, 4), "float32"), np.zeros((8, 1), "float32"))


@pytest.fixture
def unpatched_trainer(monkeypatch):
    """The Keras trainer module, restored with its own functions (and no patch flag) after the test."""
    trainer = importlib.import_module(TRAINER)
    monkeypatch.setattr(trainer, "reduce_per_replica", trainer.reduce_per_replica)
    monkeypatch.setattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build",
                        trainer.TensorFlowTrainer._maybe_symbolic_build)
    monkeypatch.setattr(trainer, "_kerasgen_multiworker_fix", False, raising=False)
    return trainer


def test_patch_fit_for_multiworker_replaces_both_steps_once_and_single_device_fit_still_trains(unpatched_trainer):
    reduce_before = unpatched_trainer.reduce_per_replica
    compat.patch_fit_for_multiworker()
    patched_reduce = unpatched_trainer.reduce_per_replica
    patched_build = unpatched_trainer.TensorFlowTrainer._maybe_symbolic_build
    assert patched_reduce is not reduce_before and patched_build.__name__ == "symbolic_build"
    compat.patch_fit_for_multiworker()  # a second call leaves the first patch in place, not a patch of a patch
    assert unpatched_trainer.reduce_per_replica is patched_reduce
    assert unpatched_trainer.TensorFlowTrainer._maybe_symbolic_build is patched_build
    history = dense_model().fit(*DATA, batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize("owner, name", [
    ("module", "_collective_all_reduce_multi_worker"),
    ("module", "reduce_per_replica"),
    ("module", "TensorFlowTrainer"),
    ("TensorFlowTrainer", "_maybe_symbolic_build"),
])
def test_patch_fit_for_multiworker_names_what_moved(unpatched_trainer, monkeypatch, owner, name):
    target = unpatched_trainer if owner == "module" else unpatched_trainer.TensorFlowTrainer
    monkeypatch.delattr(target, name)
    thing = f"{TRAINER}.{name}" if owner == "module" else f"{TRAINER}.TensorFlowTrainer.{name}"
    with pytest.raises(RuntimeError, match=moved_message(thing, compat._MULTIWORKER_FIT)):
        compat.patch_fit_for_multiworker()


def test_patch_fit_for_multiworker_names_a_moved_module(unpatched_trainer, monkeypatch):
    monkeypatch.setitem(sys.modules, TRAINER, None)  # importing it now raises ImportError
    with pytest.raises(RuntimeError, match=moved_message(f"the module {TRAINER}", compat._MULTIWORKER_FIT)):
        compat.patch_fit_for_multiworker()


class RecordStartEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = compat.resume_epoch(self.model)


def test_initial_epoch_reads_what_a_restore_set_and_set_initial_epoch_moves_where_fit_starts(tmp_path):
    model = dense_model()
    assert compat.resume_epoch(model) == 0
    backup = keras.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)
    model.fit(*DATA, batch_size=4, epochs=2, verbose=0, callbacks=[backup])
    recorder = RecordStartEpoch()
    history = model.fit(*DATA, batch_size=4, epochs=3, verbose=0, callbacks=[backup, recorder])
    assert recorder.start == 2 and history.epoch == [2]  # keras's restore wrote what initial_epoch reads

    fresh = dense_model()
    compat.set_resume_epoch(fresh, 3)
    assert compat.resume_epoch(fresh) == 3
    assert fresh.fit(*DATA, batch_size=4, epochs=5, verbose=0).epoch == [3, 4]
    compat.set_resume_epoch(fresh, 0)
    assert fresh.fit(*DATA, batch_size=4, epochs=1, verbose=0).epoch == [0]


def test_loss_tracker_is_the_metric_behind_the_loss_log(monkeypatch):
    model = dense_model()
    logs = model.fit(*DATA, batch_size=4, epochs=1, verbose=0).history
    tracker = compat.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean)
    assert float(tracker.result()) == pytest.approx(logs["loss"][-1], rel=1e-6)
    monkeypatch.delattr(model, "_loss_tracker")
    with pytest.raises(RuntimeError, match="keras.Model._loss_tracker"):
        compat.loss_tracker(model)


@pytest.mark.parametrize("use", [compat.resume_epoch, lambda model: compat.set_resume_epoch(model, 1)])
def test_initial_epoch_names_what_moved(monkeypatch, use):
    model = dense_model()
    monkeypatch.delattr(model, "_initial_epoch")
    with pytest.raises(RuntimeError, match=moved_message("keras.Model._initial_epoch", compat._RESUME_EPOCH)):
        use(model)


def test_all_layers_lists_the_model_and_every_nested_layer():
    model = dense_model(inner_units=5)
    layers = compat.all_layers(model)
    assert layers[0] is model
    assert {layer.name for layer in layers} >= {"inner", "head"}
    assert sorted(layer.units for layer in layers if isinstance(layer, keras.layers.Dense)) == [1, 2, 5]


def test_all_layers_names_what_moved(monkeypatch):
    model = dense_model()
    monkeypatch.delattr(keras.layers.Layer, "_flatten_layers")
    with pytest.raises(RuntimeError, match=moved_message("keras.layers.Layer._flatten_layers",
                                                         "listing every nested layer of a model")):
        compat.all_layers(model)


class RecordingBackup(compat.BackupAndRestoreHooks):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def load_checkpoint(self):
        self.calls.append("load")
        super().load_checkpoint()

    def save_checkpoint(self):
        self.calls.append(dict(self.progress))
        super().save_checkpoint()


def test_backup_hooks_are_driven_by_keras_and_expose_its_paths_and_progress(tmp_path):
    backup = RecordingBackup(tmp_path / "backup", delete_checkpoint=False, double_checkpoint=True)
    assert Path(backup.weights_path) == tmp_path / "backup" / saving.WEIGHTS_FILE
    assert Path(backup.metadata_path) == tmp_path / "backup" / saving.METADATA_FILE
    assert Path(backup.previous_weights_path) == tmp_path / "backup" / f"{saving.WEIGHTS_FILE}.bkp"
    assert Path(backup.previous_metadata_path) == tmp_path / "backup" / f"{saving.METADATA_FILE}.bkp"
    model = dense_model()
    model.fit(*DATA, batch_size=4, epochs=2, verbose=0, callbacks=[backup])
    assert backup.calls == ["load", {"epoch": 1, "batch": 0}, {"epoch": 2, "batch": 0}]
    assert Path(backup.weights_path).is_file() and Path(backup.previous_weights_path).is_file()
    assert saving.finished_epochs(tmp_path / "backup") == 2  # keras's own save step wrote keras's format

    per_batch = RecordingBackup(tmp_path / "batches", save_freq=1, delete_checkpoint=False)
    model.fit(*DATA, batch_size=4, epochs=1, verbose=0, callbacks=[per_batch])
    assert per_batch.calls == ["load", {"epoch": 0, "batch": 0}, {"epoch": 0, "batch": 1}]  # no save at epoch end


@pytest.mark.parametrize("name", compat.BackupAndRestoreHooks._HOOKS)
def test_backup_hooks_name_a_moved_method(monkeypatch, tmp_path, name):
    monkeypatch.delattr(keras.callbacks.BackupAndRestore, name)
    with pytest.raises(RuntimeError, match=moved_message(f"keras.callbacks.BackupAndRestore.{name}",
                                                         compat._ATOMIC_BACKUP)):
        saving.BackupAndRestore(tmp_path)


@pytest.mark.parametrize("name", compat.BackupAndRestoreHooks._STATE)
def test_backup_hooks_name_a_moved_attribute(monkeypatch, tmp_path, name):
    keras_init = keras.callbacks.BackupAndRestore.__init__

    def init_without(self, *args, **kwargs):
        keras_init(self, *args, **kwargs)
        delattr(self, name)

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "__init__", init_without)
    with pytest.raises(RuntimeError, match=moved_message(f"keras.callbacks.BackupAndRestore.{name}",
                                                         compat._ATOMIC_BACKUP)):
        saving.BackupAndRestore(tmp_path)


PRIVATE_USES = [r"keras\.src", r"\._flatten_layers\b", r"\._initial_epoch\b", r"\._loss_tracker\b", r"__dict__",
                *(rf"\b{re.escape(name)}\b" for name in (*compat.BackupAndRestoreHooks._HOOKS,
                                                         *compat.BackupAndRestoreHooks._STATE,
                                                         "_batches_seen_since_last_saving", "_should_save_on_batch"))]


def test_private_keras_api_is_used_only_in_compat():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "compat.py" and path.parent == PACKAGE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{path.relative_to(PACKAGE.parent)}:{number}: {pattern}" for pattern in PRIVATE_USES
                      if re.search(pattern, line)]
    assert not found, "private Keras API outside kerasgen/compat.py:\n" + "\n".join(found)


def test_tf2onnx_for_numpy2_applies_keras_patch_and_names_what_moved(monkeypatch):
    import importlib

    tf2onnx_lib = importlib.import_module("keras.src.export.tf2onnx_lib")
    calls = []
    monkeypatch.setattr(tf2onnx_lib, "patch_tf2onnx", lambda: calls.append(1))
    assert compat.tf2onnx_for_numpy2().__name__ == "tf2onnx"
    assert calls == [1]

    monkeypatch.delattr(tf2onnx_lib, "patch_tf2onnx")
    with pytest.raises(RuntimeError, match=moved_message("keras.src.export.tf2onnx_lib.patch_tf2onnx",
                                                         "converting to ONNX under NumPy 2")):
        compat.tf2onnx_for_numpy2()
