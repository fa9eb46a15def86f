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
from kerasgen.checks import InvalidArgument


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


def checkpoint_position(backup_dir):
    """Where the ``BackupAndRestore`` checkpoint in ``backup_dir`` stands: ``(epochs finished, steps done in the
    next epoch, steps per epoch or None)``, or None when the folder holds no checkpoint.

    A checkpoint written at the end of an epoch has 0 steps of the next. When the metadata file is unreadable, the
    previous checkpoint (``.bkp``) counts, as it is the one ``BackupAndRestore`` restores then.
    """
    folder = Path(backup_dir)
    if not (folder / WEIGHTS_FILE).is_file():
        return None
    metadata = folder / METADATA_FILE
    if not metadata.is_file():
        return 0, 0, None  # weights alone: keras restores them and starts at epoch 1
    try:
        progress = json.loads(metadata.read_text())
        int(progress["epoch"])
    except (ValueError, KeyError, TypeError):
        previous = folder / f"{METADATA_FILE}.bkp"
        if not ((folder / f"{WEIGHTS_FILE}.bkp").is_file() and previous.is_file()):
            raise InvalidArgument(f"the checkpoint in {folder} has an unreadable {METADATA_FILE}: delete {folder} "
                                  "to start over") from None
        progress = json.loads(previous.read_text())
    return int(progress["epoch"]), int(progress.get("batch") or 0), progress.get("steps_per_epoch")


def finished_epochs(backup_dir):
    """How many epochs the ``BackupAndRestore`` checkpoint in ``backup_dir`` finished; None when it holds none.

    A run resumed with ``epochs`` at most this number has nothing left to train.
    """
    position = checkpoint_position(backup_dir)
    return None if position is None else position[0]


class BackupAndRestore(compat.BackupAndRestoreHooks):
    """``keras.callbacks.BackupAndRestore`` with checkpoint files replaced atomically, mid-epoch saves, the state
    Keras leaves out, and a line saying where it resumes.

    keras rewrites ``latest.weights.h5`` and ``training_metadata.json`` in place,
    so a run killed during the write leaves a truncated file (a truncated
    metadata file stops the resume with a JSON error). Here each file is
    written beside its name and renamed, so a kill at any moment leaves a
    loadable checkpoint. The file names are keras's: old backups still resume,
    and one whose metadata keras truncated resumes from its previous copy.

    Keras saves at the end of each epoch; ``save_within_epoch(epoch, steps)`` saves after ``steps`` steps of epoch
    ``epoch`` (0-based) too (``TimeLimit`` calls it). Beside the weights and optimizer state, each save records what
    an exact resume needs and ``save_weights`` leaves out: the random generators' states (dropout's) and, within an
    epoch, the metrics' running totals, restored at the start of the resumed epoch. ``steps_per_epoch`` is recorded
    so a resume with other batches is refused.

    A restore prints one line (``resuming after epoch 3 from runs/x/backup``);
    a checkpoint whose weights do not fit the model (another architecture, size
    or vocabulary) stops ``fit`` with a one-line ValueError naming the folder.
    """

    def __init__(self, backup_dir, steps_per_epoch=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.steps_per_epoch = steps_per_epoch
        self.announce = True  # print where the run resumes (a run of several fit calls says it once)
        self._pending_metrics = None

    def on_train_begin(self, logs=None):
        self._pending_metrics = None
        try:
            position = checkpoint_position(self.backup_dir)
        except ValueError:
            position = None  # unreadable: keras's own restore falls back to the previous checkpoint, or says so
        if position is not None and position[2] and self.steps_per_epoch and position[2] != self.steps_per_epoch:
            raise InvalidArgument(f"the checkpoint in {self.backup_dir} was written by a run of {position[2]} "
                                  f"steps per epoch; this one has {self.steps_per_epoch} (another batch size or "
                                  "data): run with the same settings, or use another --logdir to train anew")
        super().on_train_begin(logs)
        if position is None or not self.announce:
            return
        done, steps, _ = position
        epochs = self.params.get("epochs") if self.params else None
        if epochs is not None and done >= epochs:
            print(f"the run is finished: the checkpoint in {self.backup_dir} holds all {done} epochs (epochs={epochs}), "
                  f"so nothing is trained again; delete {self.backup_dir} or use another logdir to train anew",
                  flush=True)
        elif steps:
            of = f" of {self.steps_per_epoch}" if self.steps_per_epoch else ""
            print(f"resuming at epoch {done + 1}, step {steps}{of} from {self.backup_dir}", flush=True)
        elif done:
            print(f"resuming after epoch {done} from {self.backup_dir}", flush=True)
        else:
            print(f"resuming from {self.backup_dir} (weights saved within epoch 1)", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        # fit resets the metrics just before this: a run resumed within an epoch continues its running totals.
        if self._pending_metrics is not None:
            for variable, value in zip(self.model.metrics_variables, self._pending_metrics):
                variable.assign(value)
            self._pending_metrics = None

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
            raise InvalidArgument(
                f"the checkpoint in {self.backup_dir} was written by another model or other settings: use another "
                f"--logdir (logdir= or backup_dir= in Python), or delete {self.backup_dir} to start over"
            ) from None
        try:
            state = json.loads(Path(self.metadata_path).read_text()).get("state") or {}
        except (OSError, ValueError):
            state = {}  # keras restored the previous checkpoint, or one from before these records
        values = state.get("generators")
        generators = _unsaved_variables(self.model)
        if values is not None and len(values) == len(generators):
            for variable, value in zip(generators, values):
                variable.assign(keras.ops.convert_to_tensor(value, variable.dtype))
        metrics = state.get("metrics")
        if metrics is not None and len(metrics) == len(self.model.metrics_variables):
            self._pending_metrics = metrics

    def save_within_epoch(self, epoch, steps):
        """Save now, ``steps`` steps into epoch ``epoch`` (0-based), metrics' running totals included."""
        self.set_progress(epoch, steps)
        self.save_checkpoint(metrics=True)

    def save_checkpoint(self, metrics=False):
        weights, metadata = Path(self.weights_path), Path(self.metadata_path)
        if self.double_checkpoint:
            pairs = ((weights, self.previous_weights_path), (metadata, self.previous_metadata_path))
            for current, previous in pairs:
                if current.exists():
                    with replacing(previous, ".bkp") as tmp:
                        shutil.copyfile(current, tmp)
        state = {"generators": [_plain(variable) for variable in _unsaved_variables(self.model)]}
        if metrics:
            state["metrics"] = [_plain(variable) for variable in self.model.metrics_variables]
        progress = {**self.progress, "steps_per_epoch": self.steps_per_epoch, "state": state}
        with replacing(weights, ".weights.h5") as tmp:
            self.model.save_weights(tmp)
        with replacing(metadata, ".json") as tmp:
            tmp.write_text(json.dumps(progress))


def _unsaved_variables(model):
    """The model's variables that ``save_weights`` leaves out: random generators' states (dropout's)."""
    saved = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in saved]


def _plain(variable):
    """A variable's value as JSON (nested lists of Python numbers: float64 holds any float32 exactly)."""
    return keras.ops.convert_to_numpy(variable).tolist()


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
            raise InvalidArgument(f"{type(model).__name__} has no setting {', '.join(unknown)} to change")
        config.update(changes or {})
        copy = type(model).from_config(config)
        copy.build_from_config(model.get_build_config())
        if not copy.built:
            raise InvalidArgument(f"could not rebuild {type(model).__name__} from its build config; it needs a build()")
        if len(copy.weights) != len(model.weights) or any(
            tuple(target.shape) != tuple(source.shape) for target, source in zip(copy.weights, model.weights)
        ):
            if changes:
                raise InvalidArgument(f"changing {', '.join(changes)} changes the weights of {type(model).__name__}; "
                                      "fine-tuning keeps the initial model's weights")
            raise InvalidArgument(f"{type(model).__name__} rebuilt under {policy} has other weights than the original")
        for target, source in zip(copy.weights, model.weights):
            target.assign(keras.ops.cast(source, target.dtype))
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return copy

