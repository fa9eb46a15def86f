"""tf.distribute strategies by name, and the multi-worker start from the chief's state.

Strategies are TensorFlow's; on the JAX and PyTorch backends a model trains on one device (or under a
``keras.distribution`` the user sets). What a model's own training step needs under a strategy (per-replica
noise, loss scaling) is ``kerasgen.backend``'s, below the models.
"""

import contextlib
import functools
import json
import os

import keras

from kerasgen import backend, compat
from kerasgen.checks import InvalidArgument
from kerasgen.models.optimizers import held_optimizers

STRATEGIES = ("default", "mirrored", "multiworker")


def check_tf_config():
    """Parse ``TF_CONFIG`` and fail with a one-line reason if it cannot describe a multi-worker cluster."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InvalidArgument("TF_CONFIG is not set: multiworker training needs a cluster and task description")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidArgument(f"TF_CONFIG is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(config, dict):
        raise InvalidArgument("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(cluster.get("worker"), list) or not cluster["worker"]:
        raise InvalidArgument("TF_CONFIG cluster must list at least one worker address under 'worker'")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise InvalidArgument("TF_CONFIG task must name a job type of the cluster and an integer index")
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise InvalidArgument(f"TF_CONFIG task index {task['index']} is outside the {task['type']} list")
    return config


def get_strategy(name="default"):
    """``default`` (one device), ``mirrored`` (all local devices), ``multiworker`` (hosts from TF_CONFIG).

    These are ``tf.distribute`` strategies, on TensorFlow only. On JAX, data-parallel training is Keras's
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``; on PyTorch kerasgen trains on one
    device.
    """
    if backend.name() != "tensorflow":
        if name == "default":
            return OneDevice()
        advice = ("set keras.distribution.DataParallel() instead" if backend.name() == "jax"
                  else "kerasgen trains on one device there")
        raise InvalidArgument(f"strategy {name!r} is a tf.distribute strategy: it needs the tensorflow Keras backend, "
                              f"not {backend.name()} ({advice})")
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        check_tf_config()
        return _multiworker_strategy()
    raise InvalidArgument(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


class OneDevice:
    """The ``default`` strategy off TensorFlow: one process, one device (or the ``keras.distribution`` the user
    set), so its scope changes nothing."""

    num_replicas_in_sync = 1
    cluster_resolver = None

    def scope(self):
        return contextlib.nullcontext()


def model_strategy(model):
    """The strategy ``model`` was built under: TensorFlow's, or ``OneDevice`` on the other backends."""
    return getattr(model, "distribute_strategy", None) or OneDevice()


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
    variables = [*model.variables, *(v for optimizer in held_optimizers(model).values() for v in optimizer.variables)]
    unique = {id(v): v for v in variables if v.synchronization != "on_read"}
    return list(unique.values())
