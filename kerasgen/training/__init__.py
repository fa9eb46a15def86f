"""Training runs: one ``train(family, data, ...)`` for every model family, its learning-rate schedules and optimizers.

    import kerasgen as kg
    model, history = kg.training.train("lstm", "tiny_shakespeare", epochs=5, logdir="runs/lstm", out="lstm.keras")

Families are described once in ``kerasgen.families``; a run reads its family's description, never its name.
"""

from kerasgen.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from kerasgen.training.schedules import (
    EPOCH_SCHEDULES,
    epoch_decay,
    is_epoch_schedule,
    learning_rate_schedule,
    make_optimizer,
)
from kerasgen.training.trainer import fit_verbosity, train, train_images, train_text

__all__ = [
    "EPOCH_SCHEDULES",
    "NonFiniteLossError",
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
