"""Saving that never leaves a half-written file, and float32 copies of mixed-precision models."""

import os
from pathlib import Path

import keras


def atomic_save(model, path):
    """``model.save(path)`` through a temporary file and a rename: the old file survives a crash mid-save."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    try:
        model.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def float32_copy(model):
    """The same model built under the float32 policy with the same weights (compile state kept).

    A model trained under ``mixed_bfloat16`` would otherwise load with bf16
    layers everywhere, slow on CPUs without bf16.
    """
    if keras.mixed_precision.dtype_policy().name == "float32" and all(
        layer.dtype_policy.name == "float32" for layer in model._flatten_layers()
    ):
        return model
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("float32")
    try:
        config = model.get_config()
        config.pop("dtype", None)
        copy = type(model).from_config(config)
        copy.build_from_config(model.get_build_config())
        if not copy.built:
            raise ValueError(f"could not rebuild {type(model).__name__} from its build config; it needs a build()")
        copy.set_weights(model.get_weights())
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return copy
