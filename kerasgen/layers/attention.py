"""Causal multi-head self-attention with a static-size key/value cache, and the transformer block around it."""

import math

import keras
from keras import ops

from kerasgen import backend
from kerasgen.checks import InvalidArgument


def norm_weights(norm):
    """(gamma, beta, epsilon) of a ``keras.layers.LayerNormalization`` over the last axis, for ``layer_norm``."""
    return ops.cast(norm.gamma, "float32"), ops.cast(norm.beta, "float32"), norm.epsilon


def layer_norm(x, gamma, beta, epsilon):
    """Layer normalisation over the last axis from plain tensors, in float32, returned in ``x``'s dtype.

    The same arithmetic as ``keras.layers.LayerNormalization`` in the fewest ops:
    the generation step calls it twice per block for every token.
    """
    x32 = ops.cast(x, "float32")
    centred = x32 - ops.mean(x32, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
    return ops.cast(centred * ops.rsqrt(variance + epsilon) * gamma + beta, x.dtype)


def gelu(x):
    """Exact GELU, ``x * Phi(x)``, written with erf: TensorFlow's own exact GELU computes it through erfc, which ONNX
    has no operator for."""
    return 0.5 * x * (1.0 + ops.erf(x * ops.cast(1 / math.sqrt(2), x.dtype)))


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
            raise InvalidArgument(f"embedding_dim {dim} must be divisible by num_heads {self.num_heads}")
        self.head_dim = dim // self.num_heads
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.qkv.build(input_shape)
        self.output_dense = keras.layers.Dense(dim, name="output")
        self.output_dense.build(input_shape)

    def _heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = ops.split(self.qkv(x), 3, axis=-1)
        shape = (batch, length, self.num_heads, self.head_dim)
        return ops.reshape(q, shape), ops.reshape(k, shape), ops.reshape(v, shape)

    def _attend(self, q, k, v, visible, training):
        scores = ops.einsum("bqhd,bkhd->bhqk", ops.cast(q, "float32"), ops.cast(k, "float32"))
        scores = ops.where(visible, scores / math.sqrt(self.head_dim), -1e9)
        weights = self.dropout_layer(ops.softmax(scores, axis=-1), training=training)
        y = ops.einsum("bhqk,bkhd->bqhd", ops.cast(weights, v.dtype), v)
        batch, length = ops.shape(y)[0], ops.shape(y)[1]
        return self.output_dense(ops.reshape(y, (batch, length, self.num_heads * self.head_dim)))

    def call(self, x, training=False, return_kv=False):
        """Attention over the whole sequence; ``return_kv`` adds keys and values laid out (length, batch, dim)."""
        q, k, v = self._heads(x)
        positions = ops.arange(ops.shape(x)[1])
        visible = positions[:, None] >= positions[None]  # (query, key): each position sees itself and the past
        y = self._attend(q, k, v, visible, training)
        if return_kv:
            shape = (ops.shape(x)[0], ops.shape(x)[1], self.num_heads * self.head_dim)
            return y, ops.transpose(ops.reshape(k, shape), (1, 0, 2)), ops.transpose(ops.reshape(v, shape), (1, 0, 2))
        return y

    def step_weights(self):
        """The kernels and biases ``step`` reads, as tensors in the compute dtype: read once per generation call."""
        return tuple(
            ops.cast(w, self.compute_dtype)
            for w in (self.qkv.kernel, self.qkv.bias, self.output_dense.kernel, self.output_dense.bias)
        )

    def step(self, x, cache_k, cache_v, write, bias, weights):
        """One new position through the cache, in as few and as cheap graph ops as possible.

        Generation at small batch is bound by per-op costs, not arithmetic: plain
        matrix products on 2-D tensors (no reshapes around projections, no variable
        reads), keys and values written with a scatter (no copy of the whole cache
        through a mask), and attention over all heads at once as elementwise
        products and sums (cheaper than per-head batched matrix products of one
        row), with a softmax from elementary ops.

        x: (batch, dim), the new position. cache_k, cache_v: (max_length, batch, dim), heads side by side.
        write: int32 (1, 1), the new position's index (its key and value go there).
        bias: float32 (max_length, 1, 1), 0 where visible (<= the new position), -1e9 elsewhere.
        Both come from ``step_masks``, shared by every layer of a step; ``weights`` is ``step_weights()``.
        """
        qkv_kernel, qkv_bias, output_kernel, output_bias = weights
        batch = ops.shape(x)[0]
        q, k, v = ops.split(backend.bias_add(ops.matmul(x, qkv_kernel), qkv_bias), 3, axis=-1)
        cache_k = ops.scatter_update(cache_k, write, ops.cast(k, cache_k.dtype)[None])
        cache_v = ops.scatter_update(cache_v, write, ops.cast(v, cache_v.dtype)[None])
        heads = (cache_k.shape[0], batch, self.num_heads, self.head_dim)  # cache length is static (max_length)
        q = ops.cast(q, "float32") * (1.0 / math.sqrt(self.head_dim))
        scores = ops.sum(ops.reshape(ops.cast(cache_k, "float32") * q, heads), axis=-1) + bias  # (L, b, h)
        probs = ops.exp(scores - ops.max(scores, axis=0, keepdims=True))
        probs = probs / ops.sum(probs, axis=0, keepdims=True)
        y = ops.sum(ops.reshape(cache_v, heads) * ops.cast(probs, cache_v.dtype)[..., None], axis=0)
        y = ops.reshape(y, (batch, self.num_heads * self.head_dim))
        return backend.bias_add(ops.matmul(y, output_kernel), output_bias), cache_k, cache_v

    @staticmethod
    def step_masks(index, max_length):
        """The ``write`` index and ``bias`` of ``step`` for new position ``index`` (a scalar tensor)."""
        bias = ops.reshape(ops.where(ops.arange(max_length) <= index, 0.0, -1e9), (max_length, 1, 1))
        return ops.reshape(index, (1, 1)), bias

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
        self.mlp_in = keras.layers.Dense(self.mlp_ratio * dim, name="mlp_in")
        self.mlp_out = keras.layers.Dense(dim, name="mlp_out")
        for layer in (self.attention_norm, self.attention, self.mlp_norm, self.mlp_in):
            layer.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_ratio * dim,))

    def _mlp(self, x, training):
        return self.residual_dropout(self.mlp_out(gelu(self.mlp_in(self.mlp_norm(x)))), training=training)

    def call(self, x, training=False, return_kv=False):
        y, k, v = self.attention(self.attention_norm(x), training=training, return_kv=True)
        x = x + self.residual_dropout(y, training=training)
        x = x + self._mlp(x, training)
        return (x, k, v) if return_kv else x

    def step_weights(self):
        """Everything ``step`` reads, as tensors (see ``CachedCausalSelfAttention.step_weights``)."""
        dtype = self.compute_dtype
        return (
            norm_weights(self.attention_norm),
            self.attention.step_weights(),
            norm_weights(self.mlp_norm),
            tuple(ops.cast(w, dtype) for w in (self.mlp_in.kernel, self.mlp_in.bias, self.mlp_out.kernel, self.mlp_out.bias)),
        )

    def step(self, x, cache_k, cache_v, write, bias, weights):
        """One new position, x: (batch, dim) (see ``CachedCausalSelfAttention.step``)."""
        attention_norm, attention_weights, mlp_norm, (in_kernel, in_bias, out_kernel, out_bias) = weights
        y, cache_k, cache_v = self.attention.step(
            layer_norm(x, *attention_norm), cache_k, cache_v, write, bias, attention_weights
        )
        x = x + y
        hidden = gelu(backend.bias_add(ops.matmul(layer_norm(x, *mlp_norm), in_kernel), in_bias))
        return x + backend.bias_add(ops.matmul(hidden, out_kernel), out_bias), cache_k, cache_v

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
        length = ops.shape(x)[1]
        if isinstance(start, int):
            positions = self.positions[start : start + length]
        else:  # a tensor offset: a gather, which XLA compiles once for every offset (a slice would not)
            positions = ops.take(self.positions, start + ops.arange(length), axis=0)
        return x + ops.cast(positions, x.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}
