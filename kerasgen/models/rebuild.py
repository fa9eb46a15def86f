"""A model rebuilt from its own config with some settings changed, for its caller to copy the weights into.

``TextGenerator.extend_vocabulary`` (more token ids) and ``DiffusionModel.with_classes`` (a label embedding) both
make their new model this way and differ only in which weights may differ and how those are filled.
"""

import keras


def rebuilt(model, input_shape, **changes):
    """A new, built model of ``model``'s class and config with ``changes`` applied, under ``model``'s dtype policy
    (its sublayers take the global policy while they are made); ``model`` is built first if it is not."""
    config = {**model.get_config(), **changes}
    if not model.built:
        model.build(input_shape)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(model.dtype_policy)
    try:
        new = type(model).from_config(config)
        new.build(input_shape)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return new

