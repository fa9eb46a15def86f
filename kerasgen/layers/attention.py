"""Causal multi-head self-attention with a static-size key/value cache, and the transformer block around it."""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasgen")
class CachedCausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention in which position t sees positions <= t.

    ``call(x)`` attends over the whole sequence (training, or filling the cache
    from a prompt with ``return_kv=True``). ``step(x_t, cache, index)`` attends
    from one new position ``index`` over a cache of static length, writing its
    own key and value into the cache first: generation costs O(length) per
    token instead of O(length^2). Scores and softmax run in float32.
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.dropout = dropout
        self.dropout_layer = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(f"embedding_dim {dim} must be divisible by num_heads {self.num_heads}")
        self.head_dim = dim // self.num_heads
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.qkv.build(input_shape)
        self.output_dense = keras.layers.Dense(dim, name="output")
        self.output_dense.build(input_shape)

    def _heads(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        q, k, v = tf.split(self.qkv(x), 3, axis=-1)
        shape = [batch, length, self.num_heads, self.head_dim]
        return tf.reshape(q, shape), tf.reshape(k, shape), tf.reshape(v, shape)

    def _attend(self, q, k, v, visible, training):
        scores = tf.einsum("bqhd,bkhd->bhqk", tf.cast(q, tf.float32), tf.cast(k, tf.float32))
        scores = tf.where(visible, scores / math.sqrt(self.head_dim), -1e9)
        weights = self.dropout_layer(tf.nn.softmax(scores, axis=-1), training=training)
        y = tf.einsum("bhqk,bkhd->bqhd", tf.cast(weights, v.dtype), v)
        batch, length = tf.shape(y)[0], tf.shape(y)[1]
        return self.output_dense(tf.reshape(y, [batch, length, self.num_heads * self.head_dim]))

    def call(self, x, training=False, return_kv=False):
        """Attention over the whole sequence; ``return_kv`` adds keys and values (batch, heads, length, head_dim)."""
        q, k, v = self._heads(x)
        length = tf.shape(x)[1]
        visible = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
        y = self._attend(q, k, v, visible, training)
        if return_kv:
            return y, tf.transpose(k, [0, 2, 1, 3]), tf.transpose(v, [0, 2, 1, 3])
        return y

    def step(self, x, cache_k, cache_v, write, bias):
        """One new position through the cache, in as few graph ops as possible (generation is overhead-bound).

        x: (batch, 1, dim). cache_k, cache_v: (batch, heads, max_length, head_dim).
        write: bool (1, 1, max_length, 1), true at the new position (its key and value go there).
        bias: float32 (1, 1, 1, max_length), 0 where visible (<= the new position), -1e9 elsewhere.
        Both masks are shared by every layer of a step (see ``step_masks``).
        """
        batch = tf.shape(x)[0]
        # (batch, 1, 3 * dim) -> (batch, 3, heads, 1, head_dim): with one position the layout is free.
        q, k, v = tf.unstack(tf.reshape(self.qkv(x), [batch, 3, self.num_heads, 1, self.head_dim]), axis=1)
        cache_k = tf.where(write, tf.cast(k, cache_k.dtype), cache_k)
        cache_v = tf.where(write, tf.cast(v, cache_v.dtype), cache_v)
        q = tf.cast(q, tf.float32) * (1.0 / math.sqrt(self.head_dim))
        scores = tf.matmul(q, tf.cast(cache_k, tf.float32), transpose_b=True) + bias
        y = tf.matmul(tf.cast(tf.nn.softmax(scores), cache_v.dtype), cache_v)  # (batch, heads, 1, head_dim)
        return self.output_dense(tf.reshape(y, [batch, 1, self.num_heads * self.head_dim])), cache_k, cache_v

    @staticmethod
    def step_masks(index, max_length):
        """The ``write`` and ``bias`` masks of ``step`` for new position ``index`` (a scalar tensor)."""
        positions = tf.range(max_length)
        write = tf.reshape(positions == index, [1, 1, max_length, 1])
        bias = tf.reshape(tf.where(positions <= index, 0.0, -1e9), [1, 1, 1, max_length])
        return write, bias

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="kerasgen")
class TransformerBlock(keras.layers.Layer):
    """Pre-LayerNorm decoder block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, num_heads, mlp_ratio=4, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.dropout = dropout
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention = CachedCausalSelfAttention(num_heads, dropout, name="attention")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="mlp_norm")
        self.residual_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.mlp_in = keras.layers.Dense(self.mlp_ratio * dim, activation="gelu", name="mlp_in")
        self.mlp_out = keras.layers.Dense(dim, name="mlp_out")
        for layer in (self.attention_norm, self.attention, self.mlp_norm, self.mlp_in):
            layer.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_ratio * dim,))

    def _mlp(self, x, training):
        return self.residual_dropout(self.mlp_out(self.mlp_in(self.mlp_norm(x))), training=training)

    def call(self, x, training=False, return_kv=False):
        y, k, v = self.attention(self.attention_norm(x), training=training, return_kv=True)
        x = x + self.residual_dropout(y, training=training)
        x = x + self._mlp(x, training)
        return (x, k, v) if return_kv else x

    def step(self, x, cache_k, cache_v, write, bias):
        """One new position (see ``CachedCausalSelfAttention.step``)."""
        y, cache_k, cache_v = self.attention.step(self.attention_norm(x), cache_k, cache_v, write, bias)
        x = x + y
        return x + self._mlp(x, False), cache_k, cache_v

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_ratio": self.mlp_ratio, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="kerasgen")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings for up to ``max_length`` positions, added to the input."""

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=(self.max_length, input_shape[-1]), initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="positions",
        )

    def call(self, x, start=0):
        length = tf.shape(x)[1]
        if isinstance(start, int):
            positions = self.positions[start : start + length]
        else:  # a tensor offset: a gather, which XLA compiles once for every offset (a slice would not)
            positions = tf.gather(self.positions, start + tf.range(length))
        return x + tf.cast(positions, x.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}
