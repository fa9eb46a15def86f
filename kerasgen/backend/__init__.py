"""What differs between Keras's backends, in one place per backend.

Models, layers and samplers are written in ``keras.ops``; what ``keras.ops`` leaves out lives here, with one module
per backend (``tensorflow_ops``, ``jax_ops``, ``torch_ops``) behind the same functions:

- stateless random draws from explicit seeds: a seed is a shape-(2,) integer tensor, ``seed_pair(int)`` makes one,
  ``split_seed`` and ``fold_in`` derive others, and ``normal``, ``uniform``, ``uniform_int`` and ``categorical``
  draw from one. The same seed gives the same draw on one backend; backends differ in their streams (TensorFlow's
  are the ones the zoo's cards were measured with).
- ``compiled(fn)``: a function compiled the backend's way (``tf.function``, ``jax.jit``, plain PyTorch eager).
- data-parallel training steps: ``step_seed`` (a seed from a step counter), ``replica_noise`` (this replica's rows
  of the global batch's noise) and ``scale_for_replicas`` (a per-replica loss as a share of the global one); only
  TensorFlow's ``tf.distribute`` has replicas inside a step.
- ``value_and_input_gradient``: a gradient with respect to a step's inputs that the step can differentiate again
  (a gradient penalty).

The backend is Keras's (``KERAS_BACKEND``); TensorFlow is imported only when it is the backend.
"""

import importlib
import numbers
import sys

import keras
import numpy as np
from keras import ops

from kerasgen.checks import WrongType

_MODULES = {"tensorflow": "tensorflow_ops", "jax": "jax_ops", "torch": "torch_ops"}


def name():
    """The Keras backend in use: ``tensorflow``, ``jax`` or ``torch``."""
    return keras.backend.backend()


def _ops():
    backend = name()
    if backend not in _MODULES:
        raise RuntimeError(f"kerasgen runs on the tensorflow, jax and torch Keras backends, not {backend!r}")
    module = sys.modules.get(f"{__name__}.{_MODULES[backend]}")  # no import machinery inside a traced function
    return module or importlib.import_module(f"{__name__}.{_MODULES[backend]}")


def check_seed(seed):
    """An int seed (or None: a fresh random one) as a Python int in [0, 2**31 - 1)."""
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise WrongType(f"seed must be an int or None, got {type(seed).__name__}")
    return int(seed) % (2**31 - 1)


def seed_pair(seed):
    """An int seed (or None: a fresh random one) as the shape-(2,) seed tensor the draws below take."""
    return _ops().seed_pair(check_seed(seed))


def seed_from_tensor(seed):
    """``seed_pair`` of an integer scalar tensor (a served model's input): equal to ``seed_pair(int(seed))``."""
    seed = ops.mod(ops.cast(seed, "int64"), 2**31 - 1)
    return ops.cast(ops.stack([seed, ops.zeros_like(seed)]), keras.backend.standardize_dtype(seed_pair(0).dtype))


def split_seed(seed, count):
    """``count`` independent seeds derived from ``seed`` (a list)."""
    return _ops().split_seed(seed, count)


def fold_in(seed, data):
    """A seed derived from ``seed`` and an integer (a step or group index, possibly a tensor)."""
    return _ops().fold_in(seed, data)


def normal(shape, seed, dtype="float32"):
    """Standard normal noise of ``shape`` from ``seed``."""
    return _ops().normal(shape, seed, dtype)


def uniform(shape, seed, dtype="float32"):
    """Uniform noise in [0, 1) of ``shape`` from ``seed``."""
    return _ops().uniform(shape, seed, dtype)


def uniform_int(shape, seed, low, high):
    """int32 integers uniform in [low, high) of ``shape`` from ``seed``."""
    return _ops().uniform_int(shape, seed, low, high)


def categorical(logits, seed):
    """One int32 class per row of ``logits`` (batch, classes), drawn from their softmax with ``seed``."""
    return _ops().categorical(logits, seed)


def has_gpu():
    """True when the backend sees a GPU."""
    return _ops().has_gpu()


def compiled(fn):
    """``fn`` compiled the backend's way (its arguments tensors)."""
    return _ops().compiled(fn)


def bias_add(x, bias):
    """``x + bias`` along the last axis. On TensorFlow the ``BiasAdd`` op, which Grappler fuses with the matmul (and
    activation) before it, where it leaves a plain add alone: text generation's cached step runs twice as fast."""
    return _ops().bias_add(x, bias)


def compiled_with_variables(fn, variables):
    """``fn`` compiled the backend's way, reading the Keras ``variables`` it uses afresh at every call.

    ``tf.function`` and PyTorch read variables themselves; under ``jax.jit`` a variable read while tracing would
    be frozen into the compiled function, so JAX passes the variables' current values in at each call instead.
    """
    return _ops().compiled_with_variables(fn, list(variables))


def argmax(x):
    """The index of the largest entry along the last axis, int32. On TensorFlow one ``tf.argmax``: ``ops.argmax``
    adds five ops that order -0.0 below 0.0, which cost a generation loop at batch 1 several percent per token."""
    return _ops().argmax(x)


def gather(table, indices):
    """``table[indices]`` along the first axis, for indices known to be in range (token ids). On TensorFlow one
    ``tf.gather``: ``ops.take`` first maps negative indices, three more ops per generated token."""
    return _ops().gather(table, indices)


def value_and_input_gradient(fn, x):
    """``(fn(x), the gradient of the sum of fn(x) with respect to x)``, the gradient itself differentiable: inside a
    training step's own differentiation (a gradient tape, autograd, ``jax.grad``) a loss may depend on it, as a
    gradient penalty does."""
    return _ops().value_and_input_gradient(fn, x)


def step_seed(counter, salt):
    """A shape-(2,) seed from a step counter (a variable shared by all replicas) and a per-use salt."""
    return ops.stack([ops.cast(counter, "int32"), ops.convert_to_tensor(salt, "int32")])


def replica_noise(shape, seed, distribution="normal", dtype="float32"):
    """Random noise for this replica's slice of the global batch.

    The whole global batch's noise is drawn from ``seed`` (a shape-(2,) int tensor, e.g. ``step_seed`` of the
    optimizer's step counter) and each replica keeps its own rows, so a step under ``MirroredStrategy`` sees
    exactly the noise the same step sees on one device. ``shape[0]`` is the per-replica batch. ``distribution``
    is ``normal`` (standard) or ``uniform`` ([0, 1)). Without replicas: the draw of ``normal`` or ``uniform``.
    """
    return _ops().replica_noise(shape, seed, distribution, dtype)


def scale_for_replicas(loss):
    """A per-replica mean loss divided by the number of replicas.

    Gradients are summed across replicas, so this makes a step under a strategy equal to the step on the global
    batch. Keras does this for compiled losses; custom ``compute_loss``/``train_step`` code calls it. Without
    replicas: the loss itself.
    """
    return _ops().scale_for_replicas(loss)
