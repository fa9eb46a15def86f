"""Callbacks that watch training: samples per temperature, progress lines, mixed-precision health, embeddings,
the stop on a non-finite loss and the time limit."""

import math
import numbers
import os
import sys
import time
from collections.abc import Iterable

import keras
import numpy as np

from kerasgen.events import EventWriter
from kerasgen.images import image_grid, save_png
from kerasgen.checks import InvalidArgument, WrongType, check_positive_int, check_real, format_duration
from kerasgen.models.base import ImageGenerator, TextGenerator
from kerasgen.models.optimizers import held_optimizers


def _tensorflow():
    """TensorFlow, for TensorBoard summaries: imported when one is written, so the callbacks load on any backend."""
    import tensorflow as tf

    return tf


def _temperature_tuple(temperatures):
    """``temperatures`` (one number or a sequence of them) as a tuple of floats, each finite and >= 0."""
    if isinstance(temperatures, numbers.Real):
        temperatures = (temperatures,)
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Iterable):
        raise WrongType(f"temperatures must be a number or a sequence of numbers, got {type(temperatures).__name__}")
    temperatures = tuple(temperatures)
    if not temperatures:
        raise InvalidArgument("temperatures must be one number or a non-empty sequence of them")
    return tuple(check_real(t, "temperatures", 0) for t in temperatures)


class TemperatureSampler(keras.callbacks.Callback):
    """At the end of every ``every``-th epoch, sample the model at each temperature.

    Text models (``generate``) print a continuation of ``prompt`` and log it as
    TensorBoard text; image models (``sample``) log a grid of ``num_images``
    images to TensorBoard and save it as PNG under ``log_dir/samples/``. With
    ``log_dir=None`` text goes to stdout only and image grids are not kept.
    The same ``seed`` every epoch shows how one sample evolves. ``temperatures``
    is one number or a sequence of them. Samples are logged at TensorBoard step
    ``epoch`` (0-based, the step of keras's epoch scalars); printed headers and
    PNG names count epochs from 1. A class-conditional model (``num_classes``)
    draws a grid of one row per class, ``per_class`` images each.
    """

    def __init__(
        self, temperatures=(0.5, 1.0), every=1, log_dir=None, prompt=None, num_images=16, max_new_tokens=200,
        seed=0, verbose=1, per_class=8,
    ):
        super().__init__()
        self.temperatures = _temperature_tuple(temperatures)
        self.every = check_positive_int(every, "every")
        self.log_dir = log_dir
        self.prompt = prompt or ""
        self.num_images = check_positive_int(num_images, "num_images")
        self.max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens")
        self.seed = seed
        self.verbose = verbose
        self.per_class = check_positive_int(per_class, "per_class")
        self._writer = None

    def _summary_writer(self):
        if self._writer is None and self.log_dir:
            self._writer = EventWriter(os.path.join(self.log_dir, "samples"))
        return self._writer

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if isinstance(self.model, TextGenerator):
            self._log_text(epoch)
        elif isinstance(self.model, ImageGenerator):
            self._log_images(epoch)
        else:
            raise WrongType(f"TemperatureSampler needs a kerasgen text or image model, got {type(self.model).__name__}")

    def _log_text(self, epoch):
        writer = self._summary_writer()
        for temperature in self.temperatures:
            text = self.model.generate(
                self.prompt, max_new_tokens=self.max_new_tokens, temperature=temperature, seed=self.seed
            )
            if self.verbose:
                print(f"\n--- epoch {epoch + 1}, temperature {temperature} ---\n{text}\n", flush=True)
            if writer:  # indented markdown keeps the sample's line breaks in TensorBoard
                writer.text(f"temperature_{temperature}", "    " + text.replace("\n", "\n    "), epoch)

    def _log_images(self, epoch):
        writer = self._summary_writer()
        classes = getattr(self.model, "num_classes", None)
        for temperature in self.temperatures:
            if classes:
                labels = np.repeat(np.arange(classes, dtype=np.int32), self.per_class)
                images = self.model.sample(len(labels), temperature=temperature, seed=self.seed, labels=labels)
                grid = image_grid(images, cols=self.per_class)
            else:
                images = self.model.sample(self.num_images, temperature=temperature, seed=self.seed)
                grid = image_grid(images)
            if self.log_dir:
                save_png(grid, os.path.join(self.log_dir, "samples", f"epoch{epoch + 1:04d}_t{temperature}.png"))
            if writer:
                writer.image(f"temperature_{temperature}", grid, epoch)


def _duration(seconds):
    """``40 s``, ``12 min 5 s``, ``2 h 3 min``: elapsed and remaining times for people."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _scalars(logs, template):
    """``template.format(name, value)`` for each entry of ``logs`` that is a number."""
    parts = []
    for name, value in (logs or {}).items():
        try:
            parts.append(template.format(name, float(value)))
        except (TypeError, ValueError):
            continue  # a non-scalar entry
    return parts


class ProgressLog(keras.callbacks.Callback):
    """Plain progress lines for output that is not a terminal (a log file, a CI job): no bars, no carriage returns.

    Within an epoch, a line every ``every_percent`` percent of its steps::

        epoch 2/10 - 35% (350/1000 steps) - loss 1.234 - 40 s elapsed, ~1 min 14 s left

    or, when ``fit`` does not know the number of steps, every ``every_seconds``::

        epoch 2/10 - 350 steps - loss 1.234 - 40 s elapsed

    At the end of each epoch one line in a fixed format for scripts, every number
    of the epoch's logs (validation ``val_*`` included) as ``name=value``::

        epoch 2/10 done in 115 s: loss=1.23456 val_loss=1.34567

    (whole seconds; pairs separated by single spaces; values as ``%.6g``). List
    it after the callbacks that add to the logs (``MixedPrecisionMonitor``) so
    their figures appear. ``stream`` defaults to ``sys.stdout`` at the time of
    writing.
    """

    def __init__(self, every_percent=5, every_seconds=30.0, stream=None):
        super().__init__()
        self.every_percent = check_real(every_percent, "every_percent", 0, 100, open_below=True)
        self.every_seconds = check_real(every_seconds, "every_seconds", 0)
        self.stream = stream
        self.offset = 0  # steps of the first epoch done before this fit (a run resumed within an epoch)
        self.epochs = None  # the run's epochs, where a fit covers only some of them (else fit's)

    def _write(self, line):
        stream = self.stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def _epoch_label(self, epoch):
        epochs = self.epochs or (self.params or {}).get("epochs")
        return f"epoch {epoch + 1}/{epochs}" if epochs else f"epoch {epoch + 1}"

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._started = epoch, time.monotonic()
        self._skipped = self.offset if getattr(self, "_first_epoch", True) else 0
        self._first_epoch = False
        self._last_line = self._started
        self._next_percent = (self._percent(self._skipped) // self.every_percent + 1) * self.every_percent

    def _percent(self, done):
        steps = (self.params or {}).get("steps")
        return 100 * done / (steps + self._skipped) if steps else 0

    def on_train_batch_end(self, batch, logs=None):
        steps, now = (self.params or {}).get("steps"), time.monotonic()
        ran, elapsed = batch + 1, now - self._started
        done = ran + self._skipped
        if steps:
            steps += self._skipped
            percent = 100 * done / steps
            if percent < self._next_percent:
                return
            self._next_percent = (percent // self.every_percent + 1) * self.every_percent
            progress = f"{int(percent)}% ({done}/{steps} steps)"
            timing = f"{_duration(elapsed)} elapsed, ~{_duration(elapsed / ran * (steps - done))} left"
        else:
            if now - self._last_line < self.every_seconds:
                return
            progress, timing = f"{done} steps", f"{_duration(elapsed)} elapsed"
        self._last_line = now
        self._write(" - ".join([self._epoch_label(self._epoch), progress, *_scalars(logs, "{} {:.4g}"), timing]))

    def on_epoch_end(self, epoch, logs=None):
        seconds = int(round(time.monotonic() - self._started))
        self._write(" ".join([f"{self._epoch_label(epoch)} done in {seconds} s:", *_scalars(logs, "{}={:.6g}")]))


class ResetCarriedState(keras.callbacks.Callback):
    """Zero a recurrent model's carried training state at the start of every epoch (``LSTMGenerator.carry_state``).

    Each epoch reads the streams from their beginning again, so it starts from the zero state.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_carried_state()


class MixedPrecisionMonitor(keras.callbacks.Callback):
    """Logs each loss-scale optimizer's scale and counts the steps it skipped on overflow.

    Skipped steps are batches in which the optimizer's iteration count did not
    advance (non-finite gradients). The figures are added to the epoch logs
    (``loss_scale``, ``skipped_steps``, prefixed by the optimizer attribute for
    models with several), so TensorBoard and History record them too.
    """

    def __init__(self, log_dir=None):
        super().__init__()
        self.log_dir = log_dir
        self.skipped_steps = {}
        self._writer = None

    def _scaled_optimizers(self):
        return {name: optimizer for name, optimizer in held_optimizers(self.model).items()
                if isinstance(optimizer, keras.optimizers.LossScaleOptimizer)}

    def on_train_begin(self, logs=None):
        self._optimizers = self._scaled_optimizers()
        self._last_iterations = {k: int(o.iterations) for k, o in self._optimizers.items()}
        self.skipped_steps = {k: 0 for k in self._optimizers}
        if self.log_dir and self._optimizers:
            self._writer = EventWriter(os.path.join(self.log_dir, "precision"))

    def on_train_batch_end(self, batch, logs=None):
        for key, optimizer in self._optimizers.items():
            iterations = int(optimizer.iterations)
            if iterations == self._last_iterations[key]:
                self.skipped_steps[key] += 1
            self._last_iterations[key] = iterations

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key, optimizer in self._optimizers.items():
            prefix = "" if key == "optimizer" else f"{key}_"
            logs[f"{prefix}loss_scale"] = float(optimizer.dynamic_scale)
            logs[f"{prefix}skipped_steps"] = self.skipped_steps[key]
            if self._writer:
                self._writer.scalar(f"{prefix}loss_scale", logs[f"{prefix}loss_scale"], epoch)
                self._writer.scalar(f"{prefix}skipped_steps", logs[f"{prefix}skipped_steps"], epoch)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class EmbeddingProjector(keras.callbacks.Callback):
    """At the end of training, writes the token embedding and its vocabulary for TensorBoard's projector.

    Files go to ``log_dir/projector``: a checkpoint of the embedding matrix,
    ``metadata.tsv`` (one token per line, escaped so line breaks and tabs stay
    visible), ``projector_config.pbtxt`` and an event file, which makes the
    folder a TensorBoard run named ``projector``: the projector plugin reads
    configs in run folders only. Open TensorBoard on ``log_dir`` and choose the
    Projector tab.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir

    def on_train_end(self, logs=None):
        import json

        from tensorboard.plugins import projector

        root = os.path.join(self.log_dir, "projector")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "metadata.tsv"), "w", encoding="utf-8") as f:
            for token in self.model.tokenizer.tokens:
                f.write(json.dumps(token, ensure_ascii=False)[1:-1] + "\n")
        tf = _tensorflow()
        matrix = tf.Variable(keras.ops.convert_to_numpy(self.model.token_embeddings()).astype(np.float32))
        tf.train.Checkpoint(embedding=matrix).save(os.path.join(root, "embedding.ckpt"))
        config = projector.ProjectorConfig()
        embedding = config.embeddings.add()
        embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
        embedding.metadata_path = "metadata.tsv"
        projector.visualize_embeddings(root, config)
        if not any(name.startswith("events.out.tfevents.") for name in os.listdir(root)):
            EventWriter(root).close()


class EpochScalars(keras.callbacks.Callback):
    """Each epoch's logs as TensorBoard scalars, laid out as ``keras.callbacks.TensorBoard`` lays them out (runs
    ``train`` and ``validation``, tags ``epoch_<name>``) but written without TensorFlow (``kerasgen.events``): the
    loss curves of a run on JAX or PyTorch."""

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writers = {}

    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = EventWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            if isinstance(value, numbers.Real) or np.ndim(value) == 0:
                run, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
                self._writer(run).scalar(f"epoch_{tag}", float(value), epoch)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first non-finite loss or weight, before anything is saved, and say so.

    Every batch's losses are checked; at the end of an epoch the validation
    losses and the weights too (the last update of an epoch can make the
    weights non-finite while the loss reported for that batch, computed before
    it, is still finite). Listed before BackupAndRestore, this stops the run
    before the epoch's checkpoint is written, so the checkpoint of the last
    good epoch in ``backup_dir`` is kept.
    """

    def __init__(self, backup_dir=None):
        super().__init__()
        self.backup_dir = backup_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in _non_finite_losses(logs):
            self._stop(f"{name} became {value} at batch {batch + 1} of epoch {self._epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        for name, value in _non_finite_losses(logs):
            self._stop(f"{name} became {value} in epoch {epoch + 1}")
        for weight in self.model.weights:
            if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
                self._stop(f"weight {weight.path} became non-finite in epoch {epoch + 1}")

    def _stop(self, what):
        kept = (f"the checkpoint of the last good epoch in {self.backup_dir} is kept (rerun to resume from it)"
                if self.backup_dir else "nothing was saved")
        raise NonFiniteLossError(f"training stopped: {what}; {kept}")


def _non_finite_losses(logs):
    for name, value in (logs or {}).items():
        if name.endswith("loss"):
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                yield name, value


class NonFiniteLossError(InvalidArgument):
    """Training diverged; the message says where and what was kept."""


class TimeLimit(keras.callbacks.Callback):
    """Stop a run cleanly when its time is spent, and checkpoint it every so often within an epoch.

    ``deadline`` (a ``time.monotonic()`` value, or None) is checked after every step: once it has passed, the run
    saves a checkpoint through ``backup`` (a ``kerasgen.saving.BackupAndRestore``) and raises ``TimeUp``, which says
    where it stopped. At least one step runs first, so a run restarted again and again still progresses. A step that
    ends an epoch lets the epoch finish (validation, logs, the epoch's checkpoint) and the run stops as the next
    begins. ``every`` (seconds, or None): a checkpoint within an epoch at least that often, so a killed run loses at
    most that much. ``offset``: steps of the first epoch done before this ``fit`` (a run resumed within an epoch).
    List it last, after the callbacks that watch each step.
    """

    def __init__(self, backup, steps_per_epoch, deadline=None, every=None, offset=0, started=None):
        super().__init__()
        self.backup, self.steps_per_epoch = backup, check_positive_int(steps_per_epoch, "steps_per_epoch")
        self.deadline, self.every, self.offset = deadline, every, offset
        self.started = time.monotonic() if started is None else started
        self._steps, self._epoch, self._skipped = 0, 0, offset

    def on_train_begin(self, logs=None):
        self._last_save, self._first = time.monotonic(), True  # steps count over the run's fit calls

    def on_epoch_begin(self, epoch, logs=None):
        if self._steps and self._spent():
            raise TimeUp(self._stopped(epoch, 0))  # the finished epoch saved its checkpoint
        self._epoch, self._skipped, self._first = epoch, self.offset if self._first else 0, False

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        done = self._skipped + batch + 1
        if done >= self.steps_per_epoch:
            return  # the epoch ends now: its own checkpoint follows validation
        now = time.monotonic()
        if self._spent(now):
            self.backup.save_within_epoch(self._epoch, done)
            raise TimeUp(self._stopped(self._epoch, done))
        if self.every is not None and now - self._last_save >= self.every:
            self.backup.save_within_epoch(self._epoch, done)
            self._last_save = now

    def on_epoch_end(self, epoch, logs=None):
        self._last_save = time.monotonic()

    def _spent(self, now=None):
        return self.deadline is not None and (time.monotonic() if now is None else now) >= self.deadline

    def _stopped(self, epoch, done):
        where = f"after epoch {epoch}" if not done else f"at epoch {epoch + 1}, step {done} of {self.steps_per_epoch}"
        return (f"stopped after {format_duration(time.monotonic() - self.started)} {where}: "
                "run the same command to continue")


class TimeUp(Exception):
    """A run stopped by its time limit, its checkpoint saved; the message says where (``TimeLimit``)."""
