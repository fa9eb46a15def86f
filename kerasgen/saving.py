"""Saving that never leaves a half-written file, and float32 copies of mixed-precision models.

Every file is written under a hidden temporary name beside its final one and
renamed over it (an atomic step), so a process killed at any moment leaves
either the old file or the new one, never a mixture. Temporaries left by killed
processes are removed by the next save to the same path.
"""

import contextlib
import json
import os
import shutil
from pathlib import Path

import keras

from kerasgen import compat


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@contextlib.contextmanager
def replacing(path, suffix):
    """Yield a temporary path beside ``path`` (ending in ``suffix``: keras checks extensions) to write to.

    When the block ends normally the temporary file is synced and renamed over
    ``path``; when it raises, ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp"
    for stale in path.parent.glob(f"{prefix}*{suffix}"):
        pid = stale.name[len(prefix) : -len(suffix)]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f"{prefix}{os.getpid()}{suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def staged_save(model, path):
    """``model.save`` to a temporary file, yielded (to checksum it, say), then renamed to ``path``."""
    with replacing(path, ".keras") as tmp:
        model.save(tmp)
        yield tmp


def atomic_save(model, path):
    """``model.save(path)`` through a temporary file and a rename: the old file survives a crash mid-save."""
    with staged_save(model, path):
        pass
    return Path(path)


WEIGHTS_FILE, METADATA_FILE = "latest.weights.h5", "training_metadata.json"  # keras's names in a backup folder


def finished_epochs(backup_dir):
    """How many epochs the ``BackupAndRestore`` checkpoint in ``backup_dir`` finished; None when it holds none.

    A run resumed with ``epochs`` at most this number has nothing left to train.
    When the metadata file is unreadable, the previous checkpoint (``.bkp``)
    counts, as it is the one ``BackupAndRestore`` restores then.
    """
    folder = Path(backup_dir)
    if not (folder / WEIGHTS_FILE).is_file():
        return None
    metadata = folder / METADATA_FILE
    if not metadata.is_file():
        return 0  # weights alone: keras restores them and starts at epoch 1
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (ValueError, KeyError, TypeError):
        if (folder / f"{WEIGHTS_FILE}.bkp").is_file() and (folder / f"{METADATA_FILE}.bkp").is_file():
            return int(json.loads((folder / f"{METADATA_FILE}.bkp").read_text())["epoch"])
        raise ValueError(f"the checkpoint in {folder} has an unreadable {METADATA_FILE}: delete {folder} "
                         "to start over") from None


class BackupAndRestore(compat.BackupAndRestoreHooks):
    """``keras.callbacks.BackupAndRestore`` with checkpoint files replaced atomically, that says when it resumes.

    keras rewrites ``latest.weights.h5`` and ``training_metadata.json`` in place,
    so a run killed during the write leaves a truncated file (a truncated
    metadata file stops the resume with a JSON error). Here each file is
    written beside its name and renamed, so a kill at any moment leaves a
    loadable checkpoint. The file names are keras's: old backups still resume,
    and one whose metadata keras truncated resumes from its previous copy.

    A restore prints one line (``resuming after epoch 3 from runs/x/backup``);
    a checkpoint whose weights do not fit the model (another architecture, size
    or vocabulary) stops ``fit`` with a one-line ValueError naming the folder.
    """

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        done = finished_epochs(self.backup_dir)
        if done is None:
            return
        epochs = self.params.get("epochs") if self.params else None
        if epochs is not None and done >= epochs:
            print(f"the run is finished: the checkpoint in {self.backup_dir} holds all {done} epochs (epochs={epochs}), "
                  f"so nothing is trained again; delete {self.backup_dir} or use another logdir to train anew",
                  flush=True)
        elif done:
            print(f"resuming after epoch {done} from {self.backup_dir}", flush=True)
        else:
            print(f"resuming from {self.backup_dir} (weights saved within epoch 1)", flush=True)

    def load_checkpoint(self):
        try:
            super().load_checkpoint()
        except json.JSONDecodeError:
            # As an OSError, keras's on_train_begin falls back to the previous checkpoint (or re-raises this).
            raise OSError(f"the checkpoint in {self.backup_dir} has an unreadable {METADATA_FILE}: delete "
                          f"{self.backup_dir} to start over") from None
        except ValueError:
            if not self.model.built:
                raise  # keras's own message
            # The original message (which layers did not fit) stays reachable as ``__context__``.
            raise ValueError(
                f"the checkpoint in {self.backup_dir} was written by another model or other settings: use another "
                f"--logdir (logdir= or backup_dir= in Python), or delete {self.backup_dir} to start over"
            ) from None

    def save_checkpoint(self):
        weights, metadata = Path(self.weights_path), Path(self.metadata_path)
        if self.double_checkpoint:
            pairs = ((weights, self.previous_weights_path), (metadata, self.previous_metadata_path))
            for current, previous in pairs:
                if current.exists():
                    with replacing(previous, ".bkp") as tmp:
                        shutil.copyfile(current, tmp)
        with replacing(weights, ".weights.h5") as tmp:
            self.model.save_weights(tmp)
        with replacing(metadata, ".json") as tmp:
            tmp.write_text(json.dumps(self.progress))


def float32_copy(model):
    """The same model built under the float32 policy with the same weights (compile state kept).

    A model trained under ``mixed_bfloat16`` would otherwise load with bf16
    layers everywhere, slow on CPUs without bf16.
    """
    return policy_copy(model, "float32")


def policy_copy(model, policy, changes=None, fresh=False):
    """The same model rebuilt under dtype policy ``policy`` with its weights cast to the new variable dtypes.

    ``float32`` gives a model for any CPU; ``float16`` halves a file for storage
    (the zoo's ``storage="float16"``; loading turns it back into float32).
    Layers that pin their own dtype (float32 output heads) keep it. ``changes``
    ({setting: value}) edits the config on the way, for settings that keep every
    weight (a fine-tuning run's EMA decay, say). The model itself comes back when nothing would change, unless
    ``fresh``: a new, uncompiled model always (weights without optimizer state).
    """
    if not changes and not fresh and keras.mixed_precision.dtype_policy().name == policy and all(
        layer.dtype_policy.name == policy for layer in compat.all_layers(model)
    ):
        return model
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        config = model.get_config()
        config.pop("dtype", None)
        unknown = sorted(set(changes or {}) - set(config))
        if unknown:
            raise ValueError(f"{type(model).__name__} has no setting {', '.join(unknown)} to change")
        config.update(changes or {})
        copy = type(model).from_config(config)
        copy.build_from_config(model.get_build_config())
        if not copy.built:
            raise ValueError(f"could not rebuild {type(model).__name__} from its build config; it needs a build()")
        if len(copy.weights) != len(model.weights) or any(
            tuple(target.shape) != tuple(source.shape) for target, source in zip(copy.weights, model.weights)
        ):
            if changes:
                raise ValueError(f"changing {', '.join(changes)} changes the weights of {type(model).__name__}; "
                                 "fine-tuning keeps the initial model's weights")
            raise ValueError(f"{type(model).__name__} rebuilt under {policy} has other weights than the original")
        for target, source in zip(copy.weights, model.weights):
            target.assign(keras.ops.cast(source, target.dtype))
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return copy

