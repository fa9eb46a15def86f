"""tf.distribute strategies by name."""

import json
import os

import tensorflow as tf

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
    """``default`` (one device), ``mirrored`` (all local devices), ``multiworker`` (hosts from TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


def is_chief(strategy=None):
    """True on the worker that writes checkpoints and logs (worker 0 or the single process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
