"""The residual U-Net a diffusion model denoises with, and its blocks.

``UNet(channels, widths, block_depth)`` maps noisy images and integer
timesteps to a prediction of the noise, float32 whatever the dtype policy.
Each resolution level has ``block_depth`` residual blocks that read the
timestep's sinusoidal embedding; levels are joined by stride-2 convolutions on
the way down (sizes round up: 28 -> 14 -> 7 -> 4) and by nearest-neighbour
upsampling cropped to the matching skip connection's size on the way up, so any
image size works.
"""

import math

import keras
from keras import ops

from kerasgen.checks import InvalidArgument

NORM_GROUPS = 8


def group_norm(channels, name):
    """``GroupNorm`` with up to ``NORM_GROUPS`` groups that divide ``channels``."""
    return GroupNorm(groups=math.gcd(NORM_GROUPS, channels), epsilon=1e-5, name=name)


@keras.saving.register_keras_serializable(package="kerasgen")
class GroupNorm(keras.layers.GroupNormalization):
    """``keras.layers.GroupNormalization`` (same weights and config) computed per channel, not on a 5-D group view.

    For channels-last inputs the statistics are float32 means of ``x`` and
    ``x ** 2`` over height and width, pooled into groups; the normalization is
    then one multiply-add with a per-(image, channel) scale and shift. The
    result equals the parent layer's to float32 rounding, at a fraction of its
    time on a CPU (the 5-D broadcasts dominate a small U-Net's step there).
    """

    def call(self, inputs):
        if self.axis not in (-1, len(inputs.shape) - 1) or len(inputs.shape) < 3:
            return super().call(inputs)
        channels = inputs.shape[-1]
        x = ops.cast(inputs, "float32")
        spatial = tuple(range(1, len(inputs.shape) - 1))
        grouped = (-1, self.groups, channels // self.groups)
        mean = ops.mean(ops.reshape(ops.mean(x, spatial), grouped), -1, keepdims=True)
        mean_square = ops.mean(ops.reshape(ops.mean(ops.square(x), spatial), grouped), -1, keepdims=True)
        gamma = ops.reshape(ops.cast(self.gamma, "float32"), grouped[1:]) if self.scale else ops.ones(grouped[1:])
        scale = ops.rsqrt(ops.maximum(mean_square - ops.square(mean), 0.0) + self.epsilon) * gamma
        shift = -mean * scale
        if self.center:
            shift = shift + ops.reshape(ops.cast(self.beta, "float32"), grouped[1:])
        broadcast = [-1] + [1] * len(spatial) + [channels]
        return ops.cast(x * ops.reshape(scale, broadcast) + ops.reshape(shift, broadcast), self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerasgen")
class SinusoidalEmbedding(keras.layers.Layer):
    """Integer positions or timesteps (batch,) to (batch, dim) features ``[sin(t * f), cos(t * f)]``.

    The frequencies ``f`` run geometrically from 1 down to ``1 / max_period``
    (as in the transformer and DDPM). They are computed in float32, so large
    timesteps keep their precision under a float16/bfloat16 policy; the output
    has the layer's compute dtype.
    """

    def __init__(self, dim, max_period=10_000.0, **kwargs):
        super().__init__(**kwargs)
        if dim < 2 or dim % 2:
            raise InvalidArgument(f"dim must be an even number >= 2, got {dim}")
        self.dim = dim
        self.max_period = max_period

    def call(self, positions):
        half = self.dim // 2
        frequencies = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(positions, "float32")[:, None] * frequencies[None, :]
        return ops.cast(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1), self.compute_dtype)

    def compute_output_shape(self, positions_shape):
        return (positions_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="kerasgen")
class ResidualBlock(keras.layers.Layer):
    """``skip(x) + conv(swish(norm(conv(swish(norm(x))) + dense(embedding))))``.

    ``skip`` is the identity when the width does not change, else a 1x1
    convolution. ``embedding`` (batch, dim) conditions every pixel on the noise level.
    """

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def build(self, x_shape, embedding_shape):
        channels = x_shape[-1]
        self.norm_in = group_norm(channels, "norm_in")
        self.conv_in = keras.layers.Conv2D(self.width, 3, padding="same", name="conv_in")
        self.embedding_projection = keras.layers.Dense(self.width, name="embedding_projection")
        self.norm_out = group_norm(self.width, "norm_out")
        self.conv_out = keras.layers.Conv2D(self.width, 3, padding="same", name="conv_out")
        self.skip = None if channels == self.width else keras.layers.Conv2D(self.width, 1, name="skip")
        hidden_shape = tuple(x_shape[:-1]) + (self.width,)
        self.norm_in.build(x_shape)
        self.conv_in.build(x_shape)
        self.embedding_projection.build(embedding_shape)
        self.norm_out.build(hidden_shape)
        self.conv_out.build(hidden_shape)
        if self.skip is not None:
            self.skip.build(x_shape)

    def call(self, x, embedding):
        h = self.conv_in(ops.silu(self.norm_in(x)))
        h = h + self.embedding_projection(embedding)[:, None, None, :]
        h = self.conv_out(ops.silu(self.norm_out(h)))
        return h + (x if self.skip is None else self.skip(x))

    def compute_output_shape(self, x_shape, embedding_shape):
        return tuple(x_shape[:-1]) + (self.width,)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(package="kerasgen")
class Upsample(keras.layers.Layer):
    """Nearest-neighbour 2x upsampling cropped to ``reference``'s height and width, then a 3x3 convolution.

    Cropping undoes the rounding up of stride-2 downsampling (7 -> 4 -> 8 -> 7).
    """

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def build(self, x_shape, reference_shape):
        self.conv = keras.layers.Conv2D(self.width, 3, padding="same", name="conv")
        self.conv.build(tuple(reference_shape[:-1]) + (x_shape[-1],))

    def call(self, x, reference):
        height, width = reference.shape[1], reference.shape[2]
        x = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
        return self.conv(x[:, :height, :width])

    def compute_output_shape(self, x_shape, reference_shape):
        return tuple(reference_shape[:-1]) + (self.width,)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(package="kerasgen")
class SpatialSelfAttention(keras.layers.Layer):
    """``x + attention(norm(x))`` over all pixels of a feature map (a residual self-attention block)."""

    def __init__(self, num_heads=4, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads

    def build(self, x_shape):
        channels = x_shape[-1]
        self.norm = group_norm(channels, "norm")
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, max(1, channels // self.num_heads), name="attention"
        )
        sequence_shape = (x_shape[0], x_shape[1] * x_shape[2], channels)
        self.norm.build(x_shape)
        self.attention.build(sequence_shape, sequence_shape)

    def call(self, x):
        batch, height, width, channels = ops.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
        sequence = ops.reshape(self.norm(x), (batch, height * width, channels))
        return x + ops.reshape(self.attention(sequence, sequence), (batch, height, width, channels))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable(package="kerasgen")
class UNet(keras.layers.Layer):
    """Residual U-Net noise predictor: ``unet(noisy_images, timesteps)`` -> float32 noise, shaped like the images.

    ``widths[i]`` is the number of channels at level ``i`` (level 0 at full
    resolution, each next level at half the size). The timestep (an int, batch)
    becomes a sinusoidal embedding and a two-layer MLP, which every residual
    block adds after its first convolution. On the way up, each block reads the
    matching down block's output too (concatenated). With ``attention=True`` a
    self-attention layer sits between the lowest level's down and up blocks.
    The output convolution starts at zero and runs in float32.

    With ``num_classes``, ``unet(noisy_images, timesteps, labels)`` also reads a class label per image: a learned
    label embedding is added to the timestep embedding. Label ``num_classes`` (or ``labels=None``) is "no
    class", the unconditional input of classifier-free guidance. The label embedding starts at zero, so a
    conditional U-Net given an unconditional one's weights computes what that one did. It is multiplied by
    ``sqrt(embedding_dim)`` (as Transformers scale token embeddings): Adam moves each weight by about the learning
    rate per step whatever its scale, and unscaled, the label rows stayed ~10x smaller than the timestep embedding
    after 3 epochs of fine-tuning, too weak to tell the classes apart.
    """

    def __init__(self, channels, widths=(32, 64, 96), block_depth=2, attention=False, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.widths = tuple(widths)
        self.block_depth = block_depth
        self.attention = attention
        self.num_classes = num_classes
        embedding_dim = 4 * self.widths[0]
        self.timestep_embedding = SinusoidalEmbedding(self.widths[0], name="timestep_embedding")
        self.embedding_hidden = keras.layers.Dense(embedding_dim, activation="silu", name="embedding_hidden")
        self.embedding_output = keras.layers.Dense(embedding_dim, name="embedding_output")
        self.label_embedding = None
        self.label_gain = float(embedding_dim) ** 0.5
        if num_classes is not None:
            self.label_embedding = keras.layers.Embedding(
                num_classes + 1, embedding_dim, embeddings_initializer="zeros", name="label_embedding"
            )
        self.stem = keras.layers.Conv2D(self.widths[0], 3, padding="same", name="stem")
        # Each list holds its blocks in the order the forward pass uses them.
        levels = list(enumerate(self.widths))
        self.down_blocks = [ResidualBlock(w, name=f"down_{i}_{j}") for i, w in levels for j in range(block_depth)]
        self.downsamples = [
            keras.layers.Conv2D(w, 3, strides=2, padding="same", name=f"downsample_{i}") for i, w in levels[:-1]
        ]
        self.lowest_attention = SpatialSelfAttention(name="lowest_attention") if attention else None
        self.up_blocks = [ResidualBlock(w, name=f"up_{i}_{j}") for i, w in reversed(levels) for j in range(block_depth)]
        self.upsamples = [Upsample(w, name=f"upsample_{i}") for i, w in reversed(levels[:-1])]
        self.output_norm = group_norm(self.widths[0], "output_norm")
        self.output_conv = keras.layers.Conv2D(
            channels, 3, padding="same", kernel_initializer="zeros", dtype="float32", name="output_conv"
        )

    def call(self, noisy_images, timesteps, labels=None):
        embedding = self.embedding_output(self.embedding_hidden(self.timestep_embedding(timesteps)))
        if self.label_embedding is not None:
            if labels is None:
                labels = ops.full(ops.shape(timesteps)[:1], self.num_classes, dtype="int32")
            label_embedding = self.label_embedding(labels) * self.label_gain
            embedding = embedding + ops.cast(label_embedding, embedding.dtype)
        x = self.stem(noisy_images)
        skips = []
        down_blocks, downsamples = iter(self.down_blocks), iter(self.downsamples)
        for level in range(len(self.widths)):
            for _ in range(self.block_depth):
                x = next(down_blocks)(x, embedding)
                skips.append(x)
            if level < len(self.widths) - 1:
                x = next(downsamples)(x)
        if self.lowest_attention is not None:
            x = self.lowest_attention(x)
        up_blocks, upsamples = iter(self.up_blocks), iter(self.upsamples)
        for level in reversed(range(len(self.widths))):
            for _ in range(self.block_depth):
                x = next(up_blocks)(ops.concatenate([x, skips.pop()], axis=-1), embedding)
            if level > 0:
                x = next(upsamples)(x, skips[-1])  # to the size of the level above
        return self.output_conv(ops.silu(self.output_norm(x)))

    def compute_output_shape(self, noisy_images_shape, timesteps_shape, labels_shape=None):
        return tuple(noisy_images_shape[:-1]) + (self.channels,)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "widths": list(self.widths),
            "block_depth": self.block_depth,
            "attention": self.attention,
            "num_classes": self.num_classes,
        }
