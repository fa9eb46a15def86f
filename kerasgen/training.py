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
    schedule="constant",
    warmup_steps=0,
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
        train_ds = data.text_windows(train_split, tokenizer, seq_len, batch_size, seed=seed)
        total_steps = epochs * (steps_per_epoch or int(train_ds.cardinality()))
        rate = learning_rate_schedule(learning_rate, schedule, total_steps, warmup_steps)
        model.compile(optimizer=keras.optimizers.Adam(rate, clipnorm=clipnorm))
    validation_ds = data.text_windows(validation_split, tokenizer, seq_len, batch_size, shuffle=False)
    if not model.built:  # BackupAndRestore restores into built models only
        model(next(iter(train_ds))[0][:1])

    callbacks = [StopOnNonFiniteLoss()]
    if schedule == "step":
        callbacks.append(keras.callbacks.LearningRateScheduler(step_decay(learning_rate, epochs)))
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


def step_decay(learning_rate, epochs):
    """The ``step`` schedule by epoch: ``learning_rate``, divided by 4 from half-way and by 16 from three quarters."""

    def rate(epoch, current=None):
        return learning_rate / (1 if epoch < epochs // 2 else 4 if epoch < (3 * epochs) // 4 else 16)

    return rate


def learning_rate_schedule(learning_rate, schedule, total_steps, warmup_steps=0):
    """``constant`` and ``step`` (applied per epoch by a callback), or ``cosine``: linear warm-up, cosine decay to 10%."""
    if schedule in ("constant", "step"):
        return learning_rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else learning_rate, max(total_steps - warmup_steps, 1), alpha=0.1,
            warmup_target=learning_rate if warmup_steps else None, warmup_steps=warmup_steps,
        )
    raise ValueError(f"schedule must be 'constant', 'step' or 'cosine', got {schedule!r}")


def _check_writable(directory):
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".kerasgen-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"log dir {directory!r} is not writable: {error.strerror}") from None


def run_zoo_recipe(name, family, dataset_description, metric, notes, recipe_file, default_epochs, **train_kwargs):
    """Train a text model for zoo entry ``name``, measure ``metric`` and publish weights and card.

    The command line of the recipe script is ``[--epochs N] [--logdir DIR]``;
    the card records the exact command that reproduces the entry.
    """
    import argparse
    import platform

    from kerasgen import metrics, zoo

    parser = argparse.ArgumentParser(description=f"Reproduce zoo entry {name} (resumable: rerun after a crash).")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--logdir", default=f"runs/{name}")
    args = parser.parse_args()
    model, history = train_text(family, epochs=args.epochs, logdir=args.logdir, **train_kwargs)
    value = metrics.evaluate(model, metric["key"], **metric["args"])
    card = zoo.publish(
        model,
        name,
        {
            "family": family,
            "dataset": dataset_description,
            "metric": {**metric, "value": round(value, 4)},
            "command": f"python zoo/recipes/{Path(recipe_file).name} --epochs {args.epochs}",
            "training_time": (
                f"{history.seconds / 60:.0f} min for the final session of the run "
                f"({len(history.epoch)} of {args.epochs} epochs; earlier sessions resumed from checkpoints), "
                f"policy {history.policy}"
            ),
            "hardware": f"{platform.machine()} CPU ({os.cpu_count()} cores), no GPU",
            "notes": notes,
        },
    )
    print(card)
    return card
