"""kerasgen: a zoo of generative models for Keras 3 and TensorFlow.

Submodules are imported on first use, so ``import kerasgen`` is cheap and
``kerasgen zoo list`` does not pay for TensorFlow until it must::

    import kerasgen as kg
    model = kg.zoo.load("char-lstm-shakespeare")
    print(model.generate("ROMEO:", max_new_tokens=200, temperature=0.8, seed=0))

Once kerasgen is imported, ``keras.saving.load_model`` loads kerasgen's ``.keras``
files, and TensorFlow starts without its C++ start-up lines (see ``kerasgen.startup``).
"""

import importlib
import pkgutil

from kerasgen import startup

__version__ = "0.1.0"

_SUBMODULES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")))

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'kerasgen' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


startup.install_hooks()
