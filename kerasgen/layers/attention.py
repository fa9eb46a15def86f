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
        q, k, v = self._heads(x)
        length = tf.shape(x)[1]
        visible = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
        y = self._attend(q, k, v, visible, training)
        return (y, k, v) if return_kv else y

    def step(self, x, cache_k, cache_v, index):
        """One new position: x (batch, 1, dim); caches (batch, max_length, heads, head_dim); index a scalar."""
        q, k, v = self._heads(x)
        here = (tf.range(tf.shape(cache_k)[1]) == index)[None, :, None, None]
        cache_k = tf.where(here, k, cache_k)
        cache_v = tf.where(here, v, cache_v)
        visible = (tf.range(tf.shape(cache_k)[1]) <= index)[None, :]
        return self._attend(q, cache_k, cache_v, visible, False), cache_k, cache_v

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

    def step(self, x, cache_k, cache_v, index):
        y, cache_k, cache_v = self.attention.step(self.attention_norm(x), cache_k, cache_v, index)
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
        return x + tf.cast(self.positions[start : start + length], x.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}
