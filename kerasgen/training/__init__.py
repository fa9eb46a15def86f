"""Training runs: one ``train(config)`` for every model family, its learning-rate schedules and optimizers.

    import kerasgen as kg
    model, history = kg.training.train("lstm", "tiny_shakespeare", epochs=5, logdir="runs/lstm", out="lstm.keras")

    config = kg.training.RunConfig("lstm", "tiny_shakespeare", epochs=5, logdir="runs/lstm")  # validated at once
    model, history = kg.training.train(config, max_time="2h")  # a variant of it

Families are described once in ``kerasgen.families``; a run reads its family's description, never its name.
"""

from kerasgen.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from kerasgen.training.config import ConfigError, RunConfig
from kerasgen.training.schedules import (
    EPOCH_SCHEDULES,
    epoch_decay,
    is_epoch_schedule,
    learning_rate_schedule,
    make_optimizer,
)
from kerasgen.training.trainer import fit_verbosity, train, train_images, train_text

__all__ = [
    "ConfigError",
    "EPOCH_SCHEDULES",
    "NonFiniteLossError",
    "RunConfig",
    "StopOnNonFiniteLoss",
    "epoch_decay",
    "fit_verbosity",
    "is_epoch_schedule",
    "learning_rate_schedule",
    "make_optimizer",
    "train",
    "train_images",
    "train_text",
]
