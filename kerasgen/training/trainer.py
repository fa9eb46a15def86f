"""One training run for any family: data, model, callbacks, resume, save.

Plain ``model.fit`` underneath; ``train`` only wires the parts together the same way for every family (read from its
``kerasgen.families`` description): BackupAndRestore so a killed run resumes, TensorBoard, samples per temperature,
a stop on non-finite loss, progress, an atomic final save.
"""

import os
import sys
import time
import warnings

import keras
import numpy as np

from kerasgen import callbacks as kg_callbacks
from kerasgen import backend, data, distribute, families, precision
from kerasgen.models.optimizers import uses_loss_scaling
from kerasgen.saving import BackupAndRestore, atomic_save, checkpoint_position, float32_copy, policy_copy
from kerasgen.text import CharTokenizer, WordTokenizer
from kerasgen.training.config import ConfigError, RunConfig, check_writable
from kerasgen.training.schedules import epoch_decay, is_epoch_schedule, learning_rate_schedule, make_optimizer
from kerasgen.checks import InvalidArgument

TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}


def train(config, data_name=None, **settings):
    """Train a model as ``config`` (a ``RunConfig``) says; returns (model, history).

    ``train(family, data_name, **settings)`` builds the ``RunConfig`` from keyword arguments, and
    ``train(config, **changes)`` runs a variant of one (``RunConfig.replace``). The settings:

    ``data``: a data set name or a path (default: the family's own data set). Text families read a corpus
    (``level`` char or word tokens, windows of ``seq_len``; ``random_offsets``: the windows cut at a new offset
    each epoch, ``data.offset_windows``; ``carry_state``: contiguous streams with the recurrent state carried across
    batches, reset each epoch); image families read uint8 images (a folder at
    ``image_size``); ``moons`` is 2-D points. ``conditional``: a family with a class-conditional form learns the
    data set's labels (a folder's class sub-folders) and samples by class; an unconditional ``init`` model is
    turned into a conditional one with its weights kept. With ``init`` (a zoo name or ``.keras`` path) training starts from
    that model rebuilt under ``policy``: ``model_kwargs`` then change only settings that keep the weights, a text
    model keeps its tokenizer (a warning gives the share of unknown tokens) unless ``extend_vocabulary`` adds the
    text's unseen tokens. ``backup_dir`` (default ``logdir/backup``) holds the resume checkpoint: run the same call
    again after a crash. ``optimizer`` ``adam`` or ``sgd``; ``clipnorm`` (``auto``: 5 for text, none otherwise)
    clips each variable's gradient, ``global_clipnorm`` all of them together; ``weight_decay`` (0: none) is
    decoupled weight decay (AdamW's with ``adam``) on every weight but biases and normalisation scales and offsets
    (``make_optimizer``); ``schedule`` ``constant``,
    ``cosine`` (with ``warmup_steps``) or a per-epoch schedule of ``epoch_decay``. ``verbose``: ``auto`` shows a
    live progress bar on a terminal and a ``ProgressLog`` line every 5% of an epoch otherwise, or ``fit``'s values.

    Time: ``max_time`` (seconds, or a duration such as ``"2h"``, ``"90m"``, ``"1h30m"``; needs a checkpoint folder)
    stops the run cleanly after the step during which it is spent: the checkpoint is written, one line says where
    the run stopped, and ``history.finished`` is False (``out`` is written only by a finished run). Run the same call
    again to continue: a run resumed within an epoch reads the batches the uninterrupted run would have read (each
    epoch's order is seeded by ``seed`` and the epoch) with the optimizer, schedule, EMA, random generators, metrics
    and TensorBoard steps where they stopped, so it ends with the same weights. ``checkpoint_every`` (a duration,
    ``"auto"``: 10 minutes, or None) also checkpoints within epochs, so a killed run loses at most that much.
    """
    started = time.monotonic()
    if isinstance(config, RunConfig):
        config = config.replace(**settings, **({} if data_name is None else {"data": data_name}))
    else:
        config = RunConfig(config, data_name, **settings)
    c = config
    family, kind = c.family, c.kind

    keras.utils.set_random_seed(c.seed)
    policy = precision.set_policy(c.policy)
    strategy = distribute.get_strategy(c.strategy)
    chief = distribute.is_chief(strategy)
    cluster = distribute.is_multi_worker(strategy)
    if c.max_time is not None and cluster:
        raise ConfigError("{max_time} stops single-machine runs; a multi-worker cluster resumes from finished epochs")
    verbose = c.verbose if chief else 0  # one progress log per cluster: the chief's
    with strategy.scope():
        initial = _initial_model(c.init, policy, c.model_kwargs)
        run = _text_run if kind == families.TEXT else _array_run
        model, batches, validation_ds = run(c, initial)
        steps_per_epoch = c.steps_per_epoch or batches.per_epoch
        rate = learning_rate_schedule(c.learning_rate, c.schedule, c.epochs * steps_per_epoch, c.warmup_steps)
        family.compile_model(
            model,
            lambda r: make_optimizer(c.optimizer, r, c.clipnorm, c.global_clipnorm, c.weight_decay,
                                     **family.optimizer_options),
            rate,
        )
        model.build((None, *batches.input_shape))  # BackupAndRestore restores into built models only (and optimizers)
        if c.carry_state:
            model.carry_state(c.batch_size)

    callbacks = _run_callbacks(model, c, verbose, samples=family.samples and kind != families.POINTS,
                               steps_per_epoch=steps_per_epoch)
    if c.carry_state:
        callbacks.insert(0, kg_callbacks.ResetCarriedState())
    if is_epoch_schedule(c.schedule):
        callbacks.append(keras.callbacks.LearningRateScheduler(epoch_decay(c.learning_rate, c.schedule, c.epochs)))
    backup = next((callback for callback in callbacks if isinstance(callback, BackupAndRestore)), None)
    if backup is not None and not cluster:
        deadline = None if c.max_time is None else started + c.max_time
        callbacks.append(kg_callbacks.TimeLimit(backup, steps_per_epoch, deadline, c.checkpoint_every,
                                                started=started))

    # Where the checkpoint stands decides where the batches start: a cluster's workers (which read no checkpoint)
    # restart the data from its first epoch, as they always have.
    position = checkpoint_position(c.backup_dir) if backup is not None and not cluster else None
    done, within = position[:2] if position else (0, 0)
    epochs = c.epochs
    if done >= epochs or not position:
        phases = [(0 if done >= epochs else done, epochs, 0)]
    elif within:
        phases = [(done, done + 1, within)] + ([(done + 1, epochs, 0)] if done + 1 < epochs else [])
    else:
        phases = [(done, epochs, 0)]
    start = time.time()
    histories, stop = [], None
    try:
        for first, last, offset in phases:
            for callback in callbacks:
                if isinstance(callback, (kg_callbacks.ProgressLog, kg_callbacks.TimeLimit)):
                    callback.offset = offset
                if isinstance(callback, kg_callbacks.ProgressLog):
                    callback.epochs = epochs
            try:
                model.fit(
                    batches.dataset(first * steps_per_epoch + offset, last * steps_per_epoch),
                    validation_data=validation_ds if family.validation else None, initial_epoch=first, epochs=last,
                    steps_per_epoch=steps_per_epoch - offset, callbacks=callbacks, verbose=fit_verbosity(verbose),
                    shuffle=False,  # the batches come in their seeded order; fit's shuffle would only warn
                )
            finally:
                histories.append(model.history)
            if backup is not None:
                backup.announce = False  # one "resuming ..." line per run
    except kg_callbacks.TimeUp as error:
        stop = str(error)
        for callback in callbacks:
            if isinstance(callback, keras.callbacks.TensorBoard):
                callback.on_train_end()  # the epochs' summaries reach their files
        print(stop, flush=True)
    history = _joined(histories)
    history.seconds = time.time() - start
    history.policy = policy
    history.config = config
    history.finished, history.stop_message = stop is None, stop
    if c.out and chief and stop is None:
        atomic_save(float32_copy(model), c.out)
    return model, history


def _joined(histories):
    """One ``History`` of the epochs of several ``fit`` calls, in order."""
    history = histories[0] if histories else keras.callbacks.History()
    for other in histories[1:]:
        history.epoch.extend(other.epoch)
        for key, values in other.history.items():
            history.history.setdefault(key, []).extend(values)
    return history


class _Batches:
    """A run's training batches, epoch after epoch, readable from any step (``data.seeded_batches``).

    ``arrays``: equal-length numpy arrays (inputs first); ``streams``: each element of ``arrays`` is already one
    batch, read in order (truncated backpropagation through time); ``input_shape``: the model's input shape where
    ``transform`` makes the examples (``data.offset_windows``).
    """

    def __init__(self, arrays, batch_size, seed, shuffle=True, drop_remainder=True, transform=None, streams=False,
                 input_shape=None):
        self.arrays, self.batch_size, self.seed, self.streams = arrays, batch_size, seed, streams
        self.shuffle, self.drop_remainder, self.transform = shuffle and not streams, drop_remainder, transform
        self._input_shape = input_shape

    @property
    def per_epoch(self):
        count = len(self.arrays[0])
        if self.streams:
            return count
        return count // self.batch_size if self.drop_remainder else -(-count // self.batch_size)

    @property
    def input_shape(self):
        if self._input_shape is not None:  # the model's input, where ``transform`` makes it from the arrays
            return self._input_shape
        return self.arrays[0].shape[2:] if self.streams else self.arrays[0].shape[1:]

    def dataset(self, start, stop):
        """Batches ``start`` to ``stop`` (exclusive) of the run's stream (a ``tf.data`` dataset)."""
        arrays = self.arrays[0] if len(self.arrays) == 1 else tuple(self.arrays)
        if self.streams:
            dataset = data.seeded_batches(arrays, 1, stop, start=start, shuffle=False)
            return dataset.map(lambda *batch: tuple(part[0] for part in batch))
        return data.seeded_batches(arrays, self.batch_size, stop, seed=self.seed, start=start, shuffle=self.shuffle,
                                   drop_remainder=self.drop_remainder, transform=self.transform)


def train_text(family, text=None, **settings):
    """``train`` on a text corpus (``text``: a data set name or a file)."""
    return train(family, text, **settings)


def train_images(family, dataset=None, **settings):
    """``train`` on images (``dataset``: ``mnist``, ``fashion_mnist`` or a folder) or 2-D points (``moons``)."""
    return train(family, dataset, **settings)


def _initial_model(init, policy, model_kwargs):
    """The ``init`` model rebuilt under the run's policy with ``model_kwargs`` applied, or None."""
    if not init:
        return None
    from kerasgen import zoo

    return policy_copy(zoo.load_model(init), policy, changes=model_kwargs)


def _text_run(c, initial):
    """(model, train batches, validation batches) for a text family's run ``c`` (a ``RunConfig``)."""
    family, text, seq_len, batch_size = c.family, c.data, c.seq_len, c.batch_size
    train_split = data.load_text(text, "train", c.data_dir)
    validation_split = data.load_text(text, "validation", c.data_dir)
    if initial is not None:
        model = _fit_vocabulary(initial, c.init, text, train_split, c.extend_vocabulary)
    else:
        tokenizer = (CharTokenizer.from_text(train_split) if c.level == "char"
                     else WordTokenizer.from_text(train_split, max_vocab=c.max_vocab))
        model = family.build(tokenizer, **c.model_kwargs)
    tokenizer = model.tokenizer
    if c.carry_state:
        if not hasattr(model, "carry_state"):
            raise ConfigError(f"{{carry_state}} needs a recurrent model; {family.name!r} has no state to carry")
        batches = _Batches(data.stream_arrays(train_split, tokenizer, seq_len, batch_size,
                                              name=f"the train split of {text}"), batch_size, c.seed, streams=True)
    elif c.random_offsets:
        starts, transform = data.offset_windows(train_split, tokenizer, seq_len, batch_size, c.seed,
                                                name=f"the train split of {text}")
        batches = _Batches((starts,), batch_size, c.seed, drop_remainder=False, transform=transform,
                           input_shape=(seq_len,))
    else:
        batches = _Batches(data.window_arrays(train_split, tokenizer, seq_len, name=f"the train split of {text}"),
                           batch_size, c.seed, drop_remainder=False)
    validation_ds = data.validation_batches(
        data.window_arrays(validation_split, tokenizer, seq_len, name=f"the validation split of {text}"), batch_size
    )
    return model, batches, validation_ds


def _array_run(c, initial):
    """(model, train batches, validation batches) for a run ``c`` of a family that reads arrays: images or points."""
    family, kind, dataset, data_dir, init, image_size = c.family, c.kind, c.data, c.data_dir, c.init, c.image_size

    expected = getattr(initial, "image_shape", None)
    if kind == families.POINTS:
        from kerasgen.toy_data import moons

        train_x, test_x = moons("train"), moons("validation")
        train_y = test_y = None
    else:
        if image_size is None and expected is not None and dataset not in data.IMAGE_SETS:
            image_size = tuple(expected[:2])  # a folder read at the size the model was trained on
        train_x, train_y = data.load_image_arrays(dataset, "train", data_dir, image_size=image_size)
        test_x, test_y = data.load_image_arrays(dataset, "test", data_dir, image_size=image_size)
        if initial is not None and (expected is None or tuple(expected) != train_x.shape[1:]):
            takes = f"images of shape {tuple(expected)}" if expected is not None else "2-D points"
            raise InvalidArgument(f"{init} takes {takes}; {dataset} holds images of shape {train_x.shape[1:]} "
                                  "(a folder's channels come from its first image)")
        train_x, test_x = train_x.astype(np.float32) / 255.0, test_x.astype(np.float32) / 255.0
    labelled = family.labels or c.conditional
    if labelled and train_y is None:
        learns = "learns labels" if family.labels else "learns labels when conditional"
        raise InvalidArgument(f"the {family.name} family {learns}: {dataset} has none (a flat folder); put each "
                              "class's images in a sub-folder of its own")
    options = dict(c.model_kwargs)
    if c.conditional:
        num_classes = int(max(train_y.max(), test_y.max() if len(test_y) else 0)) + 1
        if initial is not None:
            initial = _conditional_initial(initial, init, num_classes, dataset)
        else:
            options["num_classes"] = num_classes
    model = initial if initial is not None else family.build(train_x.shape[1:], **options)

    validation = family.validation_transform(test_x) if family.validation_transform else test_x
    if labelled:
        validation = (validation, test_y.astype(np.int32))
    arrays = (train_x, train_y.astype(np.int32)) if labelled else (train_x,)
    transform = family.train_transform(c.seed) if family.train_transform else None
    batches = _Batches(arrays, c.batch_size, c.seed, transform=transform)
    return model, batches, data.validation_batches(validation, 500)


def _conditional_initial(initial, init, num_classes, dataset):
    """The ``init`` model able to learn ``num_classes`` classes: itself when it has them, else a conditional copy."""
    held = getattr(initial, "num_classes", None)
    if held is None:
        if not hasattr(initial, "with_classes"):
            raise InvalidArgument(f"{init} is unconditional and cannot gain classes: train a conditional "
                                  f"{type(initial).__name__} from scratch (without init)")
        return initial.with_classes(num_classes)
    if held < num_classes:
        raise InvalidArgument(f"{init} knows {held} classes; {dataset} has {num_classes}")
    return initial


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
        UserWarning, stacklevel=4,  # train's caller
    )
    return model


def _run_callbacks(model, c, verbose, samples, steps_per_epoch=None):
    """Stop on non-finite loss, resume checkpoint, TensorBoard, samples per temperature, precision monitor, progress.

    In a multi-worker cluster only the chief reads and writes checkpoints,
    logs and samples; the other workers write nothing and start from the chief's state.
    """
    logdir, backup_dir = c.logdir, c.backup_dir
    callbacks = [kg_callbacks.StopOnNonFiniteLoss(backup_dir)]
    chief = distribute.is_chief(distribute.model_strategy(model))
    if backup_dir and chief:
        # Kept after the last epoch: running the same command again republishes instead of retraining.
        callbacks.append(BackupAndRestore(backup_dir, steps_per_epoch, double_checkpoint=True,
                                          delete_checkpoint=False))
    callbacks.append(distribute.SyncWithChief())  # multi-worker: every worker starts from the chief's state
    if not chief:
        return callbacks
    if logdir:
        check_writable(logdir)
        if backend.name() == "tensorflow":
            callbacks.append(keras.callbacks.TensorBoard(logdir))
            if hasattr(model, "tokenizer"):
                callbacks.append(kg_callbacks.EmbeddingProjector(logdir))
        else:  # Keras's TensorBoard callback writes through TensorFlow
            callbacks.append(kg_callbacks.EpochScalars(logdir))
    if samples:
        callbacks.append(
            kg_callbacks.TemperatureSampler(c.temperatures, log_dir=logdir, prompt=c.prompt, max_new_tokens=200,
                                            verbose=verbose)
        )
    if uses_loss_scaling():
        callbacks.append(kg_callbacks.MixedPrecisionMonitor(logdir))
    if verbose == "auto" and not sys.stdout.isatty():
        callbacks.append(kg_callbacks.ProgressLog())  # last: its lines include what the others add to the logs
    return callbacks


def fit_verbosity(verbose):
    """``fit``'s ``verbose`` for a run's: ``auto`` is Keras's live bar on a terminal, else 0 (``ProgressLog`` prints)."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 0
    return verbose
