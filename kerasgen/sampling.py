"""Next-token choice from logits, shared by every text model.

``next_tokens`` is pure TensorFlow and stateless (the seed is a tensor), so it
runs inside a compiled generation loop; ``check_sampling_args`` validates the
Python-side arguments once, before the loop starts.
"""

import numbers

import numpy as np
import tensorflow as tf

from kerasgen.checks import check_positive_int, check_real

MAX_TEMPERATURE = 1000.0  # already uniform sampling for any sensible logits; huge values overflow float32 (NaN)


def check_temperature(temperature, note=""):
    """``temperature`` as a float in [0, MAX_TEMPERATURE]; TypeError/ValueError naming it otherwise."""
    return check_real(temperature, "temperature", 0, MAX_TEMPERATURE, note=note)


def check_sampling_args(temperature=1.0, top_k=None, top_p=None):
    """Raise ValueError/TypeError for arguments ``next_tokens`` cannot honour."""
    check_temperature(temperature, " (0 means greedy)")
    if top_k is not None:
        check_positive_int(top_k, "top_k")
    if top_p is not None:
        check_real(top_p, "top_p", 0, 1, open_below=True, note=" or None")


def seed_pair(seed):
    """An int seed (or None: a fresh random one) as the shape-(2,) int32 tensor stateless ops take."""
    if seed is None:
        seed = np.random.randint(0, 2**31 - 1)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)


def _dynamic(value):
    return tf.is_tensor(value) or isinstance(value, np.ndarray)


def next_tokens(logits, temperature=1.0, top_k=None, top_p=None, seed=(0, 0)):
    """Choose one token id per row of ``logits`` (batch, vocab).

    Args:
        logits: float tensor (batch, vocab).
        temperature: 0 picks the argmax (greedy); otherwise logits are divided
            by it before sampling. A Python number or a scalar tensor.
        top_k: keep only the ``top_k`` most likely tokens (None: all). Static.
        top_p: keep the smallest set of most likely tokens whose probability
            reaches ``top_p`` (nucleus sampling; None or 1: all).
        seed: shape-(2,) int32 tensor; the same seed gives the same choice.

    Returns:
        int32 tensor (batch,).
    """
    # A tensor temperature or top_p (a compiled loop) is checked by the caller; everything else is checked here.
    check_sampling_args(1.0 if _dynamic(temperature) else temperature, top_k, None if _dynamic(top_p) else top_p)
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    temperature = tf.cast(temperature, tf.float32)
    scaled = logits / tf.maximum(temperature, 1e-6)
    if top_k is not None and (logits.shape[-1] is None or top_k < logits.shape[-1]):
        kth_largest = tf.math.top_k(scaled, k=top_k).values[:, -1:]
        scaled = tf.where(scaled < kth_largest, -np.inf, scaled)
    if top_p is not None:
        ordered = tf.sort(scaled, axis=-1, direction="DESCENDING")
        mass_before = tf.math.cumsum(tf.nn.softmax(ordered), axis=-1, exclusive=True)
        # The last kept token is the first whose preceding mass reaches top_p.
        kept = tf.cast(mass_before < top_p, tf.int32)
        cutoff = tf.gather(ordered, tf.reduce_sum(kept, axis=-1, keepdims=True) - 1, batch_dims=1)
        scaled = tf.where(scaled < cutoff, -np.inf, scaled)
    sampled = tf.random.stateless_categorical(scaled, 1, seed=seed, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0, sampled, greedy)
