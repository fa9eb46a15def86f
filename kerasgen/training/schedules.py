"""Learning rates and optimizers: per-step schedules (cosine with warm-up), per-epoch schedules, the optimizer factory."""

import math
import numbers

import keras

from kerasgen.checks import InvalidArgument


STEP_SCHEDULES = ("constant", "cosine")  # set by the optimizer's schedule, step by step
EPOCH_SCHEDULES = ("step", "halving")  # set by a callback, epoch by epoch


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
        changes = sorted(check_rate_changes(schedule).items())
        return lambda epoch, current=None: ([learning_rate] + [r for first, r in changes if epoch >= first])[-1]
    if schedule == "step":
        return lambda epoch, current=None: learning_rate / (
            1 if epoch < epochs // 2 else 4 if epoch < (3 * epochs) // 4 else 16
        )
    if schedule == "halving":
        constant = max(1, epochs // 3)
        return lambda epoch, current=None: learning_rate * 0.5 ** max(0, epoch - constant + 1)
    return None


def check_rate_changes(changes):
    if not changes:
        raise InvalidArgument("a schedule dict needs at least one {first epoch: rate} entry")
    for epoch, rate in changes.items():
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise InvalidArgument(f"schedule dict keys must be epoch numbers >= 0, got {epoch!r}")
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (math.isfinite(rate) and rate > 0):
            raise InvalidArgument(f"schedule dict rates must be finite numbers > 0, got {rate!r} for epoch {epoch}")
    return changes


OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
NOT_DECAYED = ("bias", "gamma", "beta")  # variable names weight decay leaves alone: biases, normalisations' scales


def make_optimizer(name, learning_rate, clipnorm=None, global_clipnorm=None, weight_decay=0.0, **options):
    """``adam`` or plain ``sgd`` (the recurrent language models' optimizer), with optional gradient clipping.

    ``clipnorm`` clips each variable's gradient; ``global_clipnorm``, when
    given, clips all of them together instead. ``weight_decay`` (0: none) is
    decoupled weight decay (Loshchilov and Hutter's AdamW with ``adam``): each
    step first shrinks every weight by ``learning_rate * weight_decay`` of its
    value, except biases and normalisation scales and offsets (``NOT_DECAYED``).
    ``options`` go to the optimizer (a GAN's Adam ``beta_1=0.5``).
    """
    if name not in OPTIMIZERS:
        raise InvalidArgument(f"optimizer must be 'adam' or 'sgd', got {name!r}")
    if global_clipnorm is not None:
        clipnorm = None
    optimizer = OPTIMIZERS[name](learning_rate, clipnorm=clipnorm, global_clipnorm=global_clipnorm,
                                 weight_decay=weight_decay or None, **options)
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NOT_DECAYED))
    return optimizer


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
    raise InvalidArgument(
        f"schedule must be one of constant, cosine, {', '.join(EPOCH_SCHEDULES)} or an {{epoch: rate}} dict; "
        f"got {schedule!r}"
    )
