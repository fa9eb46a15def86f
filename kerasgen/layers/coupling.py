"""Invertible layers for normalizing flows (RealNVP): affine coupling, ActNorm, squeeze.

Each layer maps ``x`` to ``(y, log_det)``, where ``log_det`` (batch,) is the log
of the absolute Jacobian determinant of the map for each example, and
``layer(y, inverse=True)`` returns ``(x, log_det)`` of the inverse map (the
negative). The layers compute in float32 whatever the dtype policy, so
log-likelihoods stay exact; only the networks inside a coupling layer follow
the policy (e.g. bfloat16 convolutions under ``mixed_bfloat16``).
"""

import math

import keras
import numpy as np
from keras import ops

from kerasgen import backend
from kerasgen.checks import InvalidArgument

MASKS = ("checkerboard", "channel")


def _positions(x):
    """The number of positions that share one per-channel parameter: H*W for images, 1 for vectors."""
    return float(math.prod(x.shape[1:-1]))


def _per_example(value, x):
    """A scalar broadcast to one value per example of ``x``."""
    return ops.zeros(ops.shape(x)[:1], "float32") + value  # not ops.full: PyTorch's fills with numbers only


def space_to_depth(x):
    """(n, H, W, C) -> (n, H/2, W/2, 4C), each 2x2 patch into channels in (row, column, channel) order."""
    _, height, width, channels = x.shape
    patches = ops.reshape(x, (-1, height // 2, 2, width // 2, 2, channels))
    return ops.reshape(ops.transpose(patches, (0, 1, 3, 2, 4, 5)), (-1, height // 2, width // 2, 4 * channels))


def depth_to_space(x):
    """The inverse of ``space_to_depth``: (n, H, W, 4C) -> (n, 2H, 2W, C)."""
    _, height, width, channels = x.shape
    patches = ops.reshape(x, (-1, height, width, 2, 2, channels // 4))
    return ops.reshape(ops.transpose(patches, (0, 1, 3, 2, 4, 5)), (-1, 2 * height, 2 * width, channels // 4))


def _global_moments(x):
    """Per-channel mean and variance of the global batch (all-reduced over tf.distribute replicas)."""
    axes = list(range(len(x.shape) - 1))
    moments = [ops.mean(x, axes), ops.mean(ops.square(x), axes)]
    if backend.name() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            moments = context.all_reduce(tf.distribute.ReduceOp.MEAN, moments)
    mean, mean_square = moments
    return mean, ops.maximum(mean_square - ops.square(mean), 0.0)


@keras.saving.register_keras_serializable(package="kerasgen")
class ActNorm(keras.layers.Layer):
    """Per-channel affine map ``y = (x + bias) * exp(log_scale)``: Glow's activation normalisation.

    The first call with ``training=True`` sets ``bias`` and ``log_scale`` from
    the batch so that ``y`` has zero mean and unit variance per channel
    (data-dependent initialisation); before that the layer is the identity.
    Under ``tf.distribute`` the statistics are those of the global batch (an
    all-reduce over replicas of equal batch size), so every replica, and a
    single device given the same global batch, initialise identically. Unlike
    batch normalisation the map is then fixed per step, so the log-determinant,
    ``positions * sum(log_scale)``, is exact and the same in training and
    inference.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized")

    def _initialize_once(self, x):
        """Set ``bias`` and ``log_scale`` from the batch ``x`` unless done before."""
        # The all-reduce must stay outside the cond: a cross-replica sync inside control flow is unsupported.
        mean, variance = _global_moments(x)
        log_scale = -0.5 * ops.log(variance + self.epsilon)
        if backend.name() == "tensorflow":
            import tensorflow as tf

            def initialize():  # each replica writes its own copy of the variables, with the same values
                self.bias.assign(-mean)
                self.log_scale.assign(log_scale)
                self.initialized.assign(1.0)
                return tf.constant(True)

            tf.cond(self.initialized > 0, lambda: tf.constant(False), initialize)
        else:
            # A select rather than a cond: JAX cannot assign inside a traced branch. On JAX, fit keeps the
            # assigned trainable values through RealNVP.train_step.
            done = self.initialized > 0
            self.bias.assign(ops.where(done, self.bias.value, -mean))
            self.log_scale.assign(ops.where(done, self.log_scale.value, log_scale))
            self.initialized.assign(1.0)

    def call(self, x, inverse=False, training=False):
        if training and not inverse:
            self._initialize_once(x)
        log_scale = ops.convert_to_tensor(self.log_scale)
        log_det = _per_example(_positions(x) * ops.sum(log_scale), x)
        if inverse:
            return x * ops.exp(-log_scale) - self.bias, -log_det
        return (x + self.bias) * ops.exp(log_scale), log_det

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerasgen")
class Squeeze(keras.layers.Layer):
    """Space-to-depth: (H, W, C) -> (H/2, W/2, 4C), each 2x2 patch into channels. A permutation: log-det 0."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, x, inverse=False):
        y = depth_to_space(x) if inverse else space_to_depth(x)
        return y, _per_example(0.0, x)


def coupling_mask(shape, mask, parity):
    """The binary mask b (1 = passed through, 0 = transformed) broadcastable to inputs of ``shape``.

    ``checkerboard`` alternates features (vectors, shape (d,)) or pixels
    (images, shape (H, W, C)); ``channel`` passes the first half of the last
    axis. ``parity`` 1 swaps the two halves.
    """
    if mask not in MASKS:
        raise InvalidArgument(f"mask must be one of {', '.join(MASKS)}; got {mask!r}")
    *spatial, channels = shape
    if mask == "channel":
        keep = np.arange(channels) < channels // 2
    elif spatial:
        rows, cols = np.indices(spatial)
        keep = ((rows + cols) % 2 == 0)[..., None]
    else:
        keep = np.arange(channels) % 2 == 0
    return (keep != bool(parity)).astype(np.float32)


@keras.saving.register_keras_serializable(package="kerasgen")
class AffineCoupling(keras.layers.Layer):
    """RealNVP's affine coupling: ``y = b*x + (1-b) * (x * exp(s(b*x)) + t(b*x))`` for a fixed binary mask b.

    The half of ``x`` that ``b`` keeps passes through unchanged and conditions
    a scale and shift of the other half, so the map is invertible in closed
    form and its log-determinant is the sum of ``s`` over the transformed
    half. ``s = scale * tanh(.)`` with a learned per-channel ``scale`` bounds
    the log-scale, as in the paper.

    The network computing ``s`` and ``t`` is an MLP of ``num_blocks`` hidden
    ReLU layers for vectors (batch, d), and for images (batch, H, W, C) a 3x3
    convolution to ``hidden_units`` channels, ``num_blocks`` pre-activation
    residual blocks of two 3x3 convolutions, and a 3x3 output convolution. The
    output layer starts at zero, so a new coupling is the identity.
    """

    def __init__(self, mask="checkerboard", parity=0, hidden_units=64, num_blocks=2, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mask not in MASKS:
            raise InvalidArgument(f"mask must be one of {', '.join(MASKS)}; got {mask!r}")
        self.mask = mask
        self.parity = int(parity)
        self.hidden_units = hidden_units
        self.num_blocks = num_blocks

    def build(self, input_shape):
        shape = tuple(input_shape[1:])
        if len(shape) not in (1, 3):
            raise InvalidArgument(f"AffineCoupling takes vectors (batch, d) or images (batch, H, W, C), got "
                                  f"{input_shape}")
        self.mask_values = coupling_mask(shape, self.mask, self.parity)
        if self.mask_values.all() or not self.mask_values.any():
            raise InvalidArgument(f"a {self.mask} mask on inputs of shape {shape} leaves nothing to transform")
        channels = shape[-1]
        if len(shape) == 1:
            self.hidden = [keras.layers.Dense(self.hidden_units, activation="relu") for _ in range(self.num_blocks)]
            self.output_layer = keras.layers.Dense(2 * channels, kernel_initializer="zeros")
        else:
            count = 1 + 2 * self.num_blocks  # an input convolution, then two per residual block
            self.hidden = [keras.layers.Conv2D(self.hidden_units, 3, padding="same") for _ in range(count)]
            self.output_layer = keras.layers.Conv2D(2 * channels, 3, padding="same", kernel_initializer="zeros")
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        h = input_shape
        for layer in self.hidden:
            layer.build(h)
            h = layer.compute_output_shape(h)
        self.output_layer.build(h)

    def _network(self, x_kept):
        if len(x_kept.shape) == 2:
            h = x_kept
            for layer in self.hidden:
                h = layer(h)
        else:
            h = self.hidden[0](x_kept)
            for first, second in zip(self.hidden[1::2], self.hidden[2::2]):
                h = h + second(ops.relu(first(ops.relu(h))))
            h = ops.relu(h)
        return ops.cast(self.output_layer(h), "float32")

    def call(self, x, inverse=False):
        mask = ops.convert_to_tensor(self.mask_values)
        transformed = 1.0 - mask
        kept = mask * x
        raw_log_scale, shift = ops.split(self._network(kept), 2, axis=-1)
        log_scale = transformed * self.scale * ops.tanh(raw_log_scale)
        log_det = ops.sum(log_scale, axis=list(range(1, len(x.shape))))
        if inverse:
            return kept + transformed * (x - shift) * ops.exp(-log_scale), -log_det
        return kept + transformed * (x * ops.exp(log_scale) + shift), log_det

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask,
            "parity": self.parity,
            "hidden_units": self.hidden_units,
            "num_blocks": self.num_blocks,
        }
