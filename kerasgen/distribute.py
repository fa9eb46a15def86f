"""tf.distribute strategies by name, and the per-replica noise and loss scaling models use on every backend.

Strategies are TensorFlow's; on the JAX and PyTorch backends a model trains on one device (or under a
``keras.distribution`` the user sets), and the noise and loss helpers below reduce to plain draws.
"""

import functools
import json
import os

import keras
from keras import ops

from kerasgen import backend, compat

STRATEGIES = ("default", "mirrored", "multiworker")


def check_tf_config():
    """Parse ``TF_CONFIG`` and fail with a one-line reason if it cannot describe a multi-worker cluster."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("TF_CONFIG is not set: multiworker training needs a cluster and task description")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(config, dict):
        raise ValueError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(cluster.get("worker"), list) or not cluster["worker"]:
        raise ValueError("TF_CONFIG cluster must list at least one worker address under 'worker'")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise ValueError("TF_CONFIG task must name a job type of the cluster and an integer index")
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task index {task['index']} is outside the {task['type']} list")
    return config


def get_strategy(name="default"):
    """``default`` (one device), ``mirrored`` (all local devices), ``multiworker`` (hosts from TF_CONFIG).

    These are ``tf.distribute`` strategies, on TensorFlow only. On JAX, data-parallel training is Keras's
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``; on PyTorch kerasgen trains on one
    device.
    """
    if backend.name() != "tensorflow":
        advice = ("set keras.distribution.DataParallel() instead" if backend.name() == "jax"
                  else "kerasgen trains on one device there")
        raise ValueError(f"strategy {name!r} is a tf.distribute strategy: it needs the tensorflow Keras backend, "
                         f"not {backend.name()} ({advice})")
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        check_tf_config()
        return _multiworker_strategy()
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


@functools.cache
def _multiworker_strategy():
    """One per process: TensorFlow configures the cluster's collectives once."""
    import tensorflow as tf

    compat.patch_fit_for_multiworker()
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy=None):
    """True on the worker that writes checkpoints and logs (worker 0 or the single process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def is_multi_worker(strategy=None):
    """True when ``strategy`` trains over a cluster of worker processes (``MultiWorkerMirroredStrategy``)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return bool(resolver is not None and resolver.task_type)


class SyncWithChief(keras.callbacks.Callback):
    """At the start of ``fit``, give every worker the chief's weights, optimizer state and starting epoch.

    Only the chief reads and writes the resume checkpoint, so the hosts need
    no shared storage: listed after the chief's ``BackupAndRestore``, this
    copies what the chief restored (or built) to the other workers in one
    all-reduce. Outside ``MultiWorkerMirroredStrategy`` it does nothing.
    """

    def on_train_begin(self, logs=None):
        if backend.name() != "tensorflow":
            return
        import tensorflow as tf

        strategy = self.model.distribute_strategy
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        variables = _training_state(self.model)
        epoch = tf.constant([compat.resume_epoch(self.model)], tf.float64)  # where BackupAndRestore resumes

        def chief_only(context):  # float64 holds every float32/bfloat16 value and step count exactly
            flat = tf.concat([tf.reshape(tf.cast(v, tf.float64), [-1]) for v in variables] + [epoch], axis=0)
            return flat if context.replica_id_in_sync_group == 0 else tf.zeros_like(flat)

        flat = strategy.reduce("SUM", strategy.experimental_distribute_values_from_function(chief_only), axis=None)
        parts = tf.split(flat, [int(tf.size(v)) for v in variables] + [1])
        for variable, part in zip(variables, parts):
            variable.assign(tf.cast(tf.reshape(part, variable.shape), variable.dtype))
        compat.set_resume_epoch(self.model, int(parts[-1][0]))


def _training_state(model):
    """The variables of the model and of each optimizer it holds (a GAN has two), metrics excepted, in fixed order."""
    from kerasgen.models.base import held_optimizers  # here: the models import this module

    variables = [*model.variables, *(v for optimizer in held_optimizers(model).values() for v in optimizer.variables)]
    unique = {id(v): v for v in variables if v.synchronization != "on_read"}
    return list(unique.values())


def replica_noise(shape, seed, distribution="normal", dtype="float32"):
    """Random noise for this replica's slice of the global batch.

    The whole global batch's noise is drawn from ``seed`` (a shape-(2,) int
    tensor, e.g. built from the optimizer's step counter) and each replica
    keeps its own rows, so a step under MirroredStrategy sees exactly the noise
    the same step sees on one device. ``shape[0]`` is the per-replica batch.
    ``distribution`` is ``normal`` (standard) or ``uniform`` ([0, 1)). Outside
    TensorFlow: the draw of ``kerasgen.backend`` itself.
    """
    if backend.name() != "tensorflow":
        draw = backend.normal if distribution == "normal" else backend.uniform
        return ops.cast(draw(shape, seed), dtype)
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    replica = context.replica_id_in_sync_group if context is not None else 0
    local = shape[0]
    global_shape = tf.concat([[local * replicas], tf.cast(shape[1:], tf.int32)], axis=0)
    draw = tf.random.stateless_normal if distribution == "normal" else tf.random.stateless_uniform
    noise = draw(global_shape, seed=seed, dtype=tf.float32)
    return tf.cast(noise[replica * local : (replica + 1) * local], dtype)


def step_seed(counter, salt):
    """A shape-(2,) seed from a step counter (a variable shared by all replicas) and a per-use salt."""
    return ops.stack([ops.cast(counter, "int32"), ops.convert_to_tensor(salt, "int32")])


def scale_for_replicas(loss):
    """A per-replica mean loss divided by the number of replicas.

    Gradients are summed across replicas, so this makes a step under a
    strategy equal to the step on the global batch. Keras does this for
    compiled losses; custom ``compute_loss``/``train_step`` code calls it.
    Outside TensorFlow there are no replicas: the loss itself.
    """
    if backend.name() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss
