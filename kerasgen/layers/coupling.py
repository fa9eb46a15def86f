"""Invertible layers for normalizing flows (RealNVP): affine coupling, ActNorm, squeeze.

Each layer maps ``x`` to ``(y, log_det)``, where ``log_det`` (batch,) is the log
of the absolute Jacobian determinant of the map for each example, and
``layer(y, inverse=True)`` returns ``(x, log_det)`` of the inverse map (the
negative). The layers compute in float32 whatever the dtype policy, so
log-likelihoods stay exact; only the networks inside a coupling layer follow
the policy (e.g. bfloat16 convolutions under ``mixed_bfloat16``).
"""

import keras
import numpy as np
import tensorflow as tf

MASKS = ("checkerboard", "channel")


def _positions(x):
    """The number of positions that share one per-channel parameter: H*W for images, 1 for vectors."""
    return tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), tf.float32)


def _per_example(value, x):
    """A scalar broadcast to one value per example of ``x``."""
    return tf.fill(tf.shape(x)[:1], value)


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

    def _global_moments(self, x):
        """Per-channel mean and variance of the global batch (all-reduced over replicas)."""
        axes = list(range(len(x.shape) - 1))
        moments = [tf.reduce_mean(x, axes), tf.reduce_mean(tf.square(x), axes)]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            moments = context.all_reduce(tf.distribute.ReduceOp.MEAN, moments)
        mean, mean_square = moments
        return mean, tf.maximum(mean_square - tf.square(mean), 0.0)

    def _initialize(self, mean, variance):
        # Each replica writes its own copy of the variables, with the same (all-reduced) values.
        self.bias.assign(-mean)
        self.log_scale.assign(-0.5 * tf.math.log(variance + self.epsilon))
        self.initialized.assign(1.0)
        return tf.constant(True)

    def call(self, x, inverse=False, training=False):
        if training and not inverse:
            # The all-reduce must stay outside the cond: a cross-replica sync inside control flow is unsupported.
            mean, variance = self._global_moments(x)
            tf.cond(self.initialized > 0, lambda: tf.constant(False), lambda: self._initialize(mean, variance))
        log_scale = tf.convert_to_tensor(self.log_scale)
        log_det = _per_example(_positions(x) * tf.reduce_sum(log_scale), x)
        if inverse:
            return x * tf.exp(-log_scale) - self.bias, -log_det
        return (x + self.bias) * tf.exp(log_scale), log_det

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerasgen")
class Squeeze(keras.layers.Layer):
    """Space-to-depth: (H, W, C) -> (H/2, W/2, 4C), each 2x2 patch into channels. A permutation: log-det 0."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, x, inverse=False):
        y = tf.nn.depth_to_space(x, 2) if inverse else tf.nn.space_to_depth(x, 2)
        return y, _per_example(0.0, x)


def coupling_mask(shape, mask, parity):
    """The binary mask b (1 = passed through, 0 = transformed) broadcastable to inputs of ``shape``.

    ``checkerboard`` alternates features (vectors, shape (d,)) or pixels
    (images, shape (H, W, C)); ``channel`` passes the first half of the last
    axis. ``parity`` 1 swaps the two halves.
    """
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}; got {mask!r}")
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
            raise ValueError(f"mask must be one of {', '.join(MASKS)}; got {mask!r}")
        self.mask = mask
        self.parity = int(parity)
        self.hidden_units = hidden_units
        self.num_blocks = num_blocks

    def build(self, input_shape):
        shape = tuple(input_shape[1:])
        if len(shape) not in (1, 3):
            raise ValueError(f"AffineCoupling takes vectors (batch, d) or images (batch, H, W, C), got {input_shape}")
        self.mask_values = coupling_mask(shape, self.mask, self.parity)
        if self.mask_values.all() or not self.mask_values.any():
            raise ValueError(f"a {self.mask} mask on inputs of shape {shape} leaves nothing to transform")
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
                h = h + second(tf.nn.relu(first(tf.nn.relu(h))))
            h = tf.nn.relu(h)
        return tf.cast(self.output_layer(h), tf.float32)

    def call(self, x, inverse=False):
        mask = tf.constant(self.mask_values)
        transformed = 1.0 - mask
        kept = mask * x
        raw_log_scale, shift = tf.split(self._network(kept), 2, axis=-1)
        log_scale = transformed * self.scale * tf.tanh(raw_log_scale)
        log_det = tf.reduce_sum(log_scale, axis=list(range(1, len(x.shape))))
        if inverse:
            return kept + transformed * (x - shift) * tf.exp(-log_scale), -log_det
        return kept + transformed * (x * tf.exp(log_scale) + shift), log_det

    def get_config(self):
        return {
            **super().get_config(),
            "mask": self.mask,
            "parity": self.parity,
            "hidden_units": self.hidden_units,
            "num_blocks": self.num_blocks,
        }
