"""The optimizers a model holds, and the loss scaling a custom ``train_step`` needs under ``mixed_float16``.

Here, in the models' layer, because models with their own training step (a GAN's two optimizers) use them; the
training layer (``precision``, ``distribute``, ``callbacks``) reads them too.
"""

import keras


def held_optimizers(model):
    """The optimizers ``model`` holds, by attribute: ``optimizer`` if set, then every other optimizer attribute by name.

    A GAN's ``d_optimizer`` and ``g_optimizer`` are found this way. Each optimizer appears once, as held:
    a ``LossScaleOptimizer`` is returned itself, not its inner optimizer.
    """
    compiled = getattr(model, "optimizer", None)
    held = {"optimizer": compiled} if isinstance(compiled, keras.optimizers.Optimizer) else {}
    for name, value in sorted(vars(model).items()):
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not known for known in held.values()):
            held[name] = value
    return held


def uses_loss_scaling():
    """True when the global policy computes in float16, which needs loss scaling."""
    return keras.mixed_precision.dtype_policy().compute_dtype == "float16"


def loss_scaled(optimizer):
    """``optimizer`` wrapped in a ``LossScaleOptimizer`` when the policy needs it.

    Keras wraps only ``model.optimizer`` itself; models with several optimizers
    (a GAN) wrap each with this and scale each loss with ``scale_loss``.
    """
    optimizer = keras.optimizers.get(optimizer)
    if uses_loss_scaling() and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def scale_loss(optimizer, loss):
    """The loss to differentiate: scaled for a ``LossScaleOptimizer`` (which unscales the gradients)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss
