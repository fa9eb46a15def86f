"""kerasgen: a zoo of generative models for Keras 3 and TensorFlow.

Submodules are imported on first use, so ``import kerasgen`` is cheap and
``kerasgen zoo list`` does not pay for TensorFlow until it must::

    import kerasgen as kg
    model = kg.zoo.load("char-lstm-shakespeare")
    print(model.generate("ROMEO:", max_new_tokens=200, temperature=0.8, seed=0))
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "callbacks",
    "data",
    "distribute",
    "layers",
    "metrics",
    "models",
    "precision",
    "sampling",
    "text",
    "toy_data",
    "zoo",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'kerasgen' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
