"""Training runs as the CLI and the zoo recipes start them: data, model, callbacks, resume, save.

Plain ``model.fit`` underneath; this module only wires the parts together the
same way every time (BackupAndRestore so a killed run resumes, TensorBoard,
temperature samples, a stop on non-finite loss, an atomic final save).
"""

import math
import numbers
import os
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from kerasgen import callbacks as kg_callbacks
from kerasgen import data, distribute, precision
from kerasgen.saving import BackupAndRestore, atomic_save, float32_copy, policy_copy
from kerasgen.text import CharTokenizer, WordTokenizer

TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}


def text_families():
    from kerasgen import models

    return {"lstm": models.LSTMGenerator, "gpt": models.DecoderTransformer}


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


class NonFiniteLossError(ValueError):
    """Training diverged; the message says where and what was kept."""


def build_text_model(family, tokenizer, model_kwargs):
    families = text_families()
    if family not in families:
        raise ValueError(f"unknown text model family {family!r}: use one of {', '.join(families)}")
    return families[family](tokenizer, **(model_kwargs or {}))


def train_text(
    family,
    text="tiny_shakespeare",
    level="char",
    data_dir=None,
    epochs=10,
    batch_size=64,
    seq_len=128,
    max_vocab=10000,
    init=None,
    logdir=None,
    backup_dir=None,
    out=None,
    learning_rate=1e-3,
    schedule="constant",
    warmup_steps=0,
    optimizer="adam",
    clipnorm=5.0,
    global_clipnorm=None,
    policy="auto",
    strategy="default",
    prompt=None,
    temperatures=(0.5, 1.0),
    model_kwargs=None,
    steps_per_epoch=None,
    carry_state=False,
    extend_vocabulary=False,
    seed=0,
    verbose="auto",
):
    """Train a text model on ``text`` (a data set name or a file) and return (model, history).

    With ``init`` (a zoo name or ``.keras`` path) training starts from those
    weights and keeps their tokenizer: tokens of ``text`` outside it are read
    as the unknown token (a warning gives their share), unless
    ``extend_vocabulary`` adds them, with new embedding and output rows. ``backup_dir`` (default ``logdir/backup``)
    holds the resume checkpoint: run the same command again after a crash.
    By default the model sees shuffled windows from a zero state; with
    ``carry_state`` (recurrent models) it reads ``batch_size`` contiguous
    streams with its state carried from batch to batch (truncated
    backpropagation through time, ``data.text_streams``), reset each epoch.
    Validation reads zero-state windows either way. ``optimizer`` is ``adam``
    or ``sgd``; ``clipnorm`` clips each variable's gradient, ``global_clipnorm``
    (replacing it) all of them together. ``schedule``: ``constant``, ``cosine`` (with
    ``warmup_steps``) or a per-epoch schedule of ``epoch_decay``. ``verbose``:
    ``auto`` shows a live progress bar on a terminal and a ``ProgressLog`` line
    every 5% of an epoch otherwise, or Keras's ``fit`` values.
    """
    from kerasgen import zoo

    if level not in TOKENIZERS:
        raise ValueError(f"level must be one of {', '.join(TOKENIZERS)}; got {level!r}")
    _check_run_args(learning_rate, out)
    keras.utils.set_random_seed(seed)
    policy = precision.set_policy(policy)
    strategy = distribute.get_strategy(strategy)
    chief = distribute.is_chief(strategy)
    verbose = verbose if chief else 0  # one progress log per cluster: the chief's
    train_split, validation_split = data.load_text(text, "train", data_dir), data.load_text(text, "validation", data_dir)
    with strategy.scope():
        if init:
            model = policy_copy(zoo.load_model(init), policy)  # trains under the run's policy
            model = _fit_vocabulary(model, init, text, train_split, extend_vocabulary)
            tokenizer = model.tokenizer
        elif extend_vocabulary:
            raise ValueError("extend_vocabulary grows the vocabulary of an initial model: give init=... too")
        else:
            tokenizer = (
                CharTokenizer.from_text(train_split)
                if level == "char"
                else WordTokenizer.from_text(train_split, max_vocab=max_vocab)
            )
            model = build_text_model(family, tokenizer, model_kwargs)
        if carry_state:
            if not hasattr(model, "carry_state"):
                raise ValueError(f"carry_state needs a recurrent model; {family!r} has no state to carry")
            train_ds = data.text_streams(train_split, tokenizer, seq_len, batch_size, name=f"the train split of {text}")
        else:
            train_ds = data.text_windows(train_split, tokenizer, seq_len, batch_size, seed=seed,
                                         name=f"the train split of {text}")
        total_steps = epochs * (steps_per_epoch or int(train_ds.cardinality()))
        rate = learning_rate_schedule(learning_rate, schedule, total_steps, warmup_steps)
        model.compile(optimizer=make_optimizer(optimizer, rate, clipnorm, global_clipnorm))
    validation_ds = data.text_windows(validation_split, tokenizer, seq_len, batch_size, shuffle=False,
                                      name=f"the validation split of {text}")
    if not model.built:  # BackupAndRestore restores into built models only
        with strategy.scope():
            model(next(iter(train_ds))[0][:1])

    callbacks = _run_callbacks(model, logdir, backup_dir, temperatures, prompt, verbose, image_model=False)
    if carry_state:
        with strategy.scope():
            model.carry_state(batch_size)
        callbacks.insert(0, kg_callbacks.ResetCarriedState())
    if is_epoch_schedule(schedule):
        callbacks.append(keras.callbacks.LearningRateScheduler(epoch_decay(learning_rate, schedule, epochs)))

    start = time.time()
    history = model.fit(
        train_ds,
        validation_data=validation_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=fit_verbosity(verbose),
        shuffle=False,  # the tf.data pipeline shuffles; fit's shuffle would only warn that it ignores itself
    )
    history.seconds = time.time() - start
    history.policy = policy
    if out and chief:
        atomic_save(float32_copy(model), out)
    return model, history


def _fit_vocabulary(model, init, text, train_split, extend):
    """``model``, or with ``extend`` a copy that also knows the tokens of ``train_split`` it has never seen."""
    from kerasgen.text import describe_tokens

    unseen = model.tokenizer.unseen_tokens(train_split)
    if not unseen:
        return model
    if extend:
        model = model.extend_vocabulary(unseen)
        print(f"extended the vocabulary of {init} by {len(unseen)} tokens: {describe_tokens(unseen)}", flush=True)
        return model
    share = model.tokenizer.unknown_share(train_split)
    warnings.warn(
        f"{100 * share:.2f}% of the tokens of {text} are outside the vocabulary of {init} and are read as its "
        f"unknown token ({describe_tokens(unseen)}); extend_vocabulary=True (--extend-vocab) adds them",
        UserWarning, stacklevel=3,
    )
    return model


EPOCH_SCHEDULES = ("step", "halving")


def is_epoch_schedule(schedule):
    """Whether ``schedule`` sets the rate epoch by epoch (a name of ``EPOCH_SCHEDULES`` or a ``{epoch: rate}`` dict)."""
    return isinstance(schedule, dict) or schedule in EPOCH_SCHEDULES


def epoch_decay(learning_rate, schedule, epochs):
    """The rate of each epoch for the per-epoch schedules (``None`` for the others).

    ``step``: ``learning_rate``, divided by 4 from half-way and by 16 from
    three quarters of ``epochs``. ``halving``: ``learning_rate`` for the first
    third of the epochs, then halved every epoch (Zaremba et al.'s LSTM
    schedule: 4 constant epochs of 13). A dict ``{first epoch: rate}``: each
    rate from its (0-based) epoch on, ``learning_rate`` before the first; the
    same rates whatever ``epochs`` is, so a run can be extended.
    """
    if isinstance(schedule, dict):
        changes = sorted(_check_rate_changes(schedule).items())
        return lambda epoch, current=None: ([learning_rate] + [r for first, r in changes if epoch >= first])[-1]
    if schedule == "step":
        return lambda epoch, current=None: learning_rate / (
            1 if epoch < epochs // 2 else 4 if epoch < (3 * epochs) // 4 else 16
        )
    if schedule == "halving":
        constant = max(1, epochs // 3)
        return lambda epoch, current=None: learning_rate * 0.5 ** max(0, epoch - constant + 1)
    return None


def _check_rate_changes(changes):
    if not changes:
        raise ValueError("a schedule dict needs at least one {first epoch: rate} entry")
    for epoch, rate in changes.items():
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"schedule dict keys must be epoch numbers >= 0, got {epoch!r}")
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"schedule dict rates must be finite numbers > 0, got {rate!r} for epoch {epoch}")
    return changes


def make_optimizer(name, learning_rate, clipnorm=None, global_clipnorm=None):
    """``adam`` or plain ``sgd`` (the recurrent language models' optimizer), with optional gradient clipping.

    ``clipnorm`` clips each variable's gradient; ``global_clipnorm``, when
    given, clips all of them together instead.
    """
    if global_clipnorm is not None:
        clipnorm = None
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, clipnorm=clipnorm, global_clipnorm=global_clipnorm)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, clipnorm=clipnorm, global_clipnorm=global_clipnorm)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def _run_callbacks(model, logdir, backup_dir, temperatures, prompt, verbose, image_model):
    """Stop on non-finite loss, resume checkpoint, TensorBoard, samples per temperature, precision monitor.

    In a multi-worker cluster only the chief reads and writes checkpoints,
    logs and samples; the other workers write nothing and start from the chief's state.
    """
    backup_dir = backup_dir or (os.path.join(logdir, "backup") if logdir else None)
    callbacks = [StopOnNonFiniteLoss(backup_dir)]
    chief = distribute.is_chief(model.distribute_strategy)
    if backup_dir and chief:
        # Kept after the last epoch: running the same command again republishes instead of retraining.
        callbacks.append(BackupAndRestore(backup_dir, double_checkpoint=True, delete_checkpoint=False))
    callbacks.append(distribute.SyncWithChief())  # multi-worker: every worker starts from the chief's state
    if not chief:
        return callbacks
    if logdir:
        _check_writable(logdir)
        callbacks.append(keras.callbacks.TensorBoard(logdir))
        if not image_model and hasattr(model, "tokenizer"):
            callbacks.append(kg_callbacks.EmbeddingProjector(logdir))
    if hasattr(model, "generate") or image_model:
        callbacks.append(
            kg_callbacks.TemperatureSampler(temperatures, log_dir=logdir, prompt=prompt, max_new_tokens=200,
                                            verbose=verbose)
        )
    if precision.uses_loss_scaling():
        callbacks.append(kg_callbacks.MixedPrecisionMonitor(logdir))
    if verbose == "auto" and not sys.stdout.isatty():
        callbacks.append(kg_callbacks.ProgressLog())  # last: its lines include what the others add to the logs
    return callbacks


def fit_verbosity(verbose):
    """``fit``'s ``verbose`` for a run's: ``auto`` is Keras's live bar on a terminal, else 0 (``ProgressLog`` prints)."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 0
    return verbose


def learning_rate_schedule(learning_rate, schedule, total_steps, warmup_steps=0):
    """The optimizer's rate: ``cosine`` (linear warm-up, cosine decay to 10%) or a number.

    A number for ``constant`` and for the per-epoch schedules, whose callback sets the rate each epoch.
    """
    if schedule == "constant" or is_epoch_schedule(schedule):
        return learning_rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else learning_rate, max(total_steps - warmup_steps, 1), alpha=0.1,
            warmup_target=learning_rate if warmup_steps else None, warmup_steps=warmup_steps,
        )
    raise ValueError(
        f"schedule must be one of constant, cosine, {', '.join(EPOCH_SCHEDULES)} or an {{epoch: rate}} dict; "
        f"got {schedule!r}"
    )


def _check_run_args(learning_rate, out):
    """Arguments that would otherwise fail only after training, or make it diverge at once."""
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate}")
    if out is not None:
        if not str(out).endswith(".keras"):
            raise ValueError(f"out must be a path ending in .keras, got {str(out)!r}")
        _check_writable(Path(out).parent, "out folder")


def _check_writable(directory, name="log dir"):
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {str(directory)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".kerasgen-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"{name} {str(directory)!r} is not writable: {error.strerror}") from None


def image_families():
    from kerasgen import models

    return {
        "vae": models.VAE, "dcgan": models.DCGAN, "classifier": models.ImageClassifier, "realnvp": models.RealNVP,
        "diffusion": models.DiffusionModel,
    }


def train_images(
    family,
    dataset="mnist",
    data_dir=None,
    epochs=10,
    batch_size=128,
    steps_per_epoch=None,
    learning_rate=1e-3,
    init=None,
    logdir=None,
    backup_dir=None,
    out=None,
    policy="auto",
    strategy="default",
    temperatures=(0.7, 1.0),
    model_kwargs=None,
    clipnorm=None,
    schedule="constant",
    image_size=None,
    seed=0,
    verbose="auto",
):
    """Train an image model on ``dataset`` (``mnist``, ``fashion_mnist`` or a folder) and return (model, history).

    VAEs see dynamically binarised images (each pixel 1 with probability equal
    to its intensity, redrawn every epoch) and validate on the test split
    binarised with a fixed seed. The classifier trains on labels; the other
    families on images alone. ``realnvp`` also trains on ``dataset="moons"``:
    the fixed 2-D two-moons splits of ``kerasgen.toy_data.moons``. Resume,
    logging and saving as ``train_text``; ``schedule`` is ``constant`` or
    one of ``epoch_decay``'s per-epoch schedules (not for the two optimizers
    of ``dcgan``). With ``init`` (a zoo name or ``.keras`` path) training
    starts from that model, rebuilt under ``policy``; ``model_kwargs`` then
    changes only settings that keep the weights (``{"ema_decay": 0.9998}``).
    A folder's images are read at ``image_size`` (height, width): by default
    the ``init`` model's size, else the first image's (``data.load_image_arrays``).
    """
    import numpy as np
    import tensorflow as tf

    from kerasgen import zoo
    from kerasgen.models.vae import binarize

    families = image_families()
    if family not in families:
        raise ValueError(f"unknown image model family {family!r}: use one of {', '.join(families)}")
    _check_run_args(learning_rate, out)
    if schedule != "constant" and not is_epoch_schedule(schedule):
        raise ValueError(
            f"schedule must be constant, {' or '.join(EPOCH_SCHEDULES)} or an {{epoch: rate}} dict for image "
            f"models, got {schedule!r}"
        )
    if schedule != "constant" and family == "dcgan":
        raise ValueError(f"schedule {schedule!r} needs a single optimizer; dcgan trains two (use 'constant')")
    keras.utils.set_random_seed(seed)
    policy = precision.set_policy(policy)
    strategy = distribute.get_strategy(strategy)
    chief = distribute.is_chief(strategy)
    verbose = verbose if chief else 0  # one progress log per cluster: the chief's
    points = dataset == "moons"
    initial = zoo.load_model(init) if init else None
    if points:
        from kerasgen.toy_data import moons

        if family != "realnvp":
            raise ValueError(f"dataset 'moons' holds 2-D points, which only the realnvp family models; got {family!r}")
        train_x, test_x = moons("train"), moons("validation")
    else:
        expected = getattr(initial, "image_shape", None)
        if image_size is None and expected is not None and dataset not in data.IMAGE_SETS:
            image_size = tuple(expected[:2])  # a folder read at the size the model was trained on
        train_x, train_y = data.load_image_arrays(dataset, "train", data_dir, image_size=image_size)
        test_x, test_y = data.load_image_arrays(dataset, "test", data_dir, image_size=image_size)
        if initial is not None and (expected is None or tuple(expected) != train_x.shape[1:]):
            takes = f"images of shape {tuple(expected)}" if expected is not None else "2-D points"
            raise ValueError(f"{init} takes {takes}; {dataset} holds images of shape {train_x.shape[1:]} "
                             "(a folder's channels come from its first image)")
        train_x, test_x = train_x.astype(np.float32) / 255.0, test_x.astype(np.float32) / 255.0
    if family == "classifier" and train_y is None:
        raise ValueError(f"the classifier learns labels: {dataset} is a flat folder; put each class's images "
                         "in a sub-folder of its own")
    if family == "classifier":
        train_ds = tf.data.Dataset.from_tensor_slices((train_x, train_y.astype(np.int32)))
        validation = (test_x, test_y.astype(np.int32))
    else:
        train_ds = tf.data.Dataset.from_tensor_slices(train_x)
        validation = (binarize(test_x, seed=0) if family == "vae" else test_x, None)
    train_ds = train_ds.shuffle(len(train_x), seed=seed, reshuffle_each_iteration=True)
    if family == "vae":
        train_ds = train_ds.map(lambda x: tf.cast(tf.random.uniform(tf.shape(x), seed=seed) < x, tf.float32))
    train_ds = train_ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    validation_ds = tf.data.Dataset.from_tensor_slices(validation[0] if validation[1] is None else validation)
    validation_ds = validation_ds.batch(500).prefetch(tf.data.AUTOTUNE)

    with strategy.scope():
        if init:  # rebuilt under the run's policy; model_kwargs may change settings that keep the weights
            model = policy_copy(initial, policy, changes=model_kwargs)
        else:
            shape_argument = "input_shape" if family == "realnvp" else "image_shape"
            model = families[family](**{shape_argument: train_x.shape[1:]}, **(model_kwargs or {}))
        if family == "dcgan":
            model.compile(
                d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
            )
        elif family == "classifier":
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        else:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm))
        model.build((None, *train_x.shape[1:]))  # BackupAndRestore restores into built models only
    image_model = family != "classifier" and not points
    callbacks = _run_callbacks(model, logdir, backup_dir, temperatures, None, verbose, image_model=image_model)
    if is_epoch_schedule(schedule):
        callbacks.append(keras.callbacks.LearningRateScheduler(epoch_decay(learning_rate, schedule, epochs)))
    start = time.time()
    history = model.fit(
        train_ds, validation_data=validation_ds if family != "dcgan" else None, epochs=epochs,
        steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=fit_verbosity(verbose), shuffle=False,
    )
    history.seconds = time.time() - start
    history.policy = policy
    if out and chief:
        atomic_save(float32_copy(model), out)
    return model, history


def run_zoo_recipe(name, family, dataset_description, metric, notes, recipe_file, default_epochs, report=None,
                   storage="float32", finetune=None, **train_kwargs):
    """Train a model for zoo entry ``name``, measure ``metric`` and publish weights and card.

    The command line of the recipe script is ``[--epochs N] [--logdir DIR]``;
    the card records the exact command that reproduces the entry. ``report``
    (model -> dict) adds further figures to the card's metric. ``storage`` is
    the weights' dtype in the shipped file (``zoo.publish``). Run again after
    the last epoch, the recipe republishes from the final checkpoint.
    ``finetune`` (train keyword arguments with ``epochs``) adds a second run
    that starts from the first one's saved model with fresh optimizer state
    (``--finetune-epochs N``; its ``model_kwargs`` change settings that keep
    the weights, such as the EMA decay), itself resumable.
    """
    import argparse
    import platform

    from kerasgen import zoo

    parser = argparse.ArgumentParser(description=f"Reproduce zoo entry {name} (resumable: rerun after a crash).")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--logdir", default=f"runs/{name}")
    if finetune:
        finetune = dict(finetune)
        parser.add_argument("--finetune-epochs", type=int, default=finetune.pop("epochs"))
    args = parser.parse_args()
    trainer = train_images if family in image_families() else train_text
    command = f"python zoo/recipes/{Path(recipe_file).name} --epochs {args.epochs}"
    first = os.path.join(args.logdir, "first_run.keras") if finetune else None
    model, history = trainer(family, epochs=args.epochs, logdir=args.logdir, out=first, **train_kwargs)
    if finetune:
        model, second = trainer(family, epochs=args.finetune_epochs, logdir=os.path.join(args.logdir, "finetune"),
                                init=first, **{**train_kwargs, **finetune})
        history.epoch, history.seconds = history.epoch + second.epoch, history.seconds + second.seconds
        args.epochs += args.finetune_epochs
        command += f" --finetune-epochs {args.finetune_epochs}"
    minutes = f"{history.seconds / 60:.0f} min"
    if len(history.epoch) == args.epochs:
        training_time = f"{minutes} ({args.epochs} epochs in one run), policy {history.policy}"
    else:
        training_time = (
            f"{minutes} for the final session of the run ({len(history.epoch)} of {args.epochs} epochs; "
            f"earlier sessions resumed from checkpoints), policy {history.policy}"
        )
    if not history.epoch and name in zoo.names():  # a republish: the training time is the earlier card's
        training_time = zoo.info(name).get("training_time", training_time)
    card = zoo.publish(
        model,
        name,
        {
            "family": family,
            "dataset": dataset_description,
            "metric": {**metric, "value": None},
            "command": command,
            "training_time": training_time,
            "hardware": f"{platform.machine()} CPU ({os.cpu_count()} cores), no GPU",
            "notes": notes,
        },
        storage=storage,
    )
    # The figure is measured on the shipped file, as `kerasgen eval` loads it: float32, from the zoo.
    precision.set_policy("float32")
    shipped = zoo.load(name)
    card["metric"] = {**metric, "value": round(zoo.measure(shipped, metric), 4), **(report(shipped) if report else {})}
    zoo.write_card(card)
    print(card)
    return card
