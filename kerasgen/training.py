"""Training runs as the CLI and the zoo recipes start them: data, model, callbacks, resume, save.

Plain ``model.fit`` underneath; this module only wires the parts together the
same way every time (BackupAndRestore so a killed run resumes, TensorBoard,
temperature samples, a stop on non-finite loss, an atomic final save).
"""

import math
import os
import time
from pathlib import Path

import keras

from kerasgen import callbacks as kg_callbacks
from kerasgen import data, distribute, precision
from kerasgen.saving import atomic_save, float32_copy
from kerasgen.text import CharTokenizer, WordTokenizer

TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}


def text_families():
    from kerasgen import models

    return {"lstm": models.LSTMGenerator, "gpt": models.DecoderTransformer}


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first non-finite batch loss, before anything is saved, and say so.

    The epoch in progress is abandoned, so the last checkpoint (written by
    BackupAndRestore at the end of the previous epoch) stays the last good one.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"training stopped: loss became {float(loss)} at batch {batch}; the last good checkpoint is kept"
            )


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
    clipnorm=5.0,
    policy="auto",
    strategy="default",
    prompt=None,
    temperatures=(0.5, 1.0),
    model_kwargs=None,
    steps_per_epoch=None,
    seed=0,
    verbose=2,
):
    """Train a text model on ``text`` (a data set name or a file) and return (model, history).

    With ``init`` (a zoo name or ``.keras`` path) training starts from those
    weights and keeps their tokenizer. ``backup_dir`` (default ``logdir/backup``)
    holds the resume checkpoint: run the same command again after a crash.
    """
    from kerasgen import zoo

    if level not in TOKENIZERS:
        raise ValueError(f"level must be one of {', '.join(TOKENIZERS)}; got {level!r}")
    keras.utils.set_random_seed(seed)
    policy = precision.set_policy(policy)
    strategy = distribute.get_strategy(strategy)
    train_split, validation_split = data.load_text(text, "train", data_dir), data.load_text(text, "validation", data_dir)
    with strategy.scope():
        if init:
            model = zoo.load_model(init)
            tokenizer = model.tokenizer
        else:
            tokenizer = (
                CharTokenizer.from_text(train_split)
                if level == "char"
                else WordTokenizer.from_text(train_split, max_vocab=max_vocab)
            )
            model = build_text_model(family, tokenizer, model_kwargs)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm))
    train_ds = data.text_windows(train_split, tokenizer, seq_len, batch_size, seed=seed)
    validation_ds = data.text_windows(validation_split, tokenizer, seq_len, batch_size, shuffle=False)
    if not model.built:  # BackupAndRestore restores into built models only
        model(next(iter(train_ds))[0][:1])

    callbacks = [StopOnNonFiniteLoss()]
    backup_dir = backup_dir or (os.path.join(logdir, "backup") if logdir else None)
    if backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True))
    if logdir:
        _check_writable(logdir)
        callbacks.append(keras.callbacks.TensorBoard(logdir))
        callbacks.append(kg_callbacks.EmbeddingProjector(logdir))
    callbacks.append(
        kg_callbacks.TemperatureSampler(
            temperatures, log_dir=logdir, prompt=prompt, max_new_tokens=200, verbose=verbose
        )
    )
    if precision.uses_loss_scaling():
        callbacks.append(kg_callbacks.MixedPrecisionMonitor(logdir))

    start = time.time()
    history = model.fit(
        train_ds,
        validation_data=validation_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    history.seconds = time.time() - start
    history.policy = policy
    if out:
        atomic_save(float32_copy(model), out)
    return model, history


def _check_writable(directory):
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".kerasgen-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"log dir {directory!r} is not writable: {error.strerror}") from None
