"""What JAX and PyTorch share behind ``kerasgen.backend``: plain ``keras.ops`` where TensorFlow has a faster op of
its own (``bias_add``, ``argmax``, ``gather``), and no replicas inside a training step (``tf.distribute``'s)."""

from keras import ops


def bias_add(x, bias):
    return x + bias


def argmax(x):
    return ops.cast(ops.argmax(x, axis=-1), "int32")


def gather(table, indices):
    return ops.take(table, indices, axis=0)


def replica_noise(shape, seed, distribution, dtype):
    """No replicas inside a step: the backend's own draw."""
    from kerasgen import backend

    return ops.cast((backend.normal if distribution == "normal" else backend.uniform)(shape, seed), dtype)


def scale_for_replicas(loss):
    return loss
