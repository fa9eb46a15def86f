"""The TensorFlow side of ``kerasgen.backend``: TensorFlow's stateless random ops and ``tf.function``."""

import tensorflow as tf


def seed_pair(seed):
    return tf.constant([seed, 0], tf.int32)


def split_seed(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))


def fold_in(seed, data):
    return tf.random.experimental.stateless_fold_in(seed, data)


def normal(shape, seed, dtype):
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)


def uniform(shape, seed, dtype):
    return tf.random.stateless_uniform(shape, seed=seed, dtype=dtype)


def uniform_int(shape, seed, low, high):
    return tf.random.stateless_uniform(shape, seed, low, high, tf.int32)


def categorical(logits, seed):
    return tf.random.stateless_categorical(logits, 1, seed=seed, dtype=tf.int32)[:, 0]


def has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def compiled(fn):
    return tf.function(fn, reduce_retracing=True)


def bias_add(x, bias):
    return tf.nn.bias_add(x, bias)


def compiled_with_variables(fn, variables):
    return compiled(fn)


def argmax(x):
    return tf.argmax(x, axis=-1, output_type=tf.int32)


def gather(table, indices):
    return tf.gather(table, indices)
