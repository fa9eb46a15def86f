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


def replica_noise(shape, seed, distribution, dtype):
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    replica = context.replica_id_in_sync_group if context is not None else 0
    local = shape[0]
    global_shape = tf.concat([[local * replicas], tf.cast(shape[1:], tf.int32)], axis=0)
    draw = tf.random.stateless_normal if distribution == "normal" else tf.random.stateless_uniform
    noise = draw(global_shape, seed=seed, dtype=tf.float32)
    return tf.cast(noise[replica * local : (replica + 1) * local], dtype)


def scale_for_replicas(loss):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def value_and_input_gradient(fn, x):
    # Inside an outer tape the inner gradient is itself recorded: the outer tape differentiates through it.
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
        total = tf.reduce_sum(tf.cast(value, tf.float32))
    return value, tape.gradient(total, x)
