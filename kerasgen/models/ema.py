"""Exponential moving averages of a network's weights: diffusion's EMA U-Net and the DCGAN's EMA generator.

After each optimizer step, ``ema <- decay * ema + (1 - decay) * weight`` for every weight of the trained network
(its non-trainable statistics too, such as batch normalisation's moving moments); the first step copies the
weights. ``update`` does it on variables (TensorFlow, on every device of a ``tf.distribute`` strategy, and
PyTorch); ``updated_values`` gives the new values for JAX's stateless step.
"""

from keras import ops

from kerasgen import backend


def decay_after(iterations, decay):
    """The decay after optimizer step ``iterations``: 0 on the first step (the EMA copies the weights)."""
    return ops.where(iterations <= 1, 0.0, decay)


def update(pairs, decay):
    """``ema <- decay * ema + (1 - decay) * weight`` for each (ema, weight) variable pair of ``pairs``.

    On TensorFlow the update runs in a cross-replica context, on every device of the strategy.
    """
    pairs = list(pairs)
    if backend.name() == "tensorflow":
        import tensorflow as tf

        def average(ema, weight):
            return ema.assign(decay * ema + (1 - decay) * weight)

        def on_every_device(strategy):
            for ema, weight in pairs:
                strategy.extended.update(ema.value, average, args=(weight.value,), group=False)

        tf.distribute.get_replica_context().merge_call(on_every_device)
        return
    for ema, weight in pairs:
        ema.assign(decay * ema + (1 - decay) * weight)


def updated_values(pairs, decay, variables, values, non_trainable_variables, non_trainable_values):
    """JAX: ``non_trainable_values`` (a new list) with each EMA variable of ``pairs`` averaged towards its weight.

    ``variables`` and ``values`` give the value of every variable after the step (trainable and non-trainable); the
    EMA variables are among ``non_trainable_variables``.
    """
    value = {id(variable): v for variable, v in zip(variables, values)}
    position = {id(variable): i for i, variable in enumerate(non_trainable_variables)}
    updated = list(non_trainable_values)
    for ema, weight in pairs:
        updated[position[id(ema)]] = decay * value[id(ema)] + (1 - decay) * value[id(weight)]
    return updated
