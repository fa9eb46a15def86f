"""Policy selection, loss scaling helpers and strategies by name."""

import json

import keras
import pytest
import tensorflow as tf

from kerasgen import backend, distribute, precision
from kerasgen.models import optimizers


def test_auto_policy_prefers_float16_on_gpu(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert precision.set_policy("auto") == "mixed_float16"
    assert keras.mixed_precision.dtype_policy().name == "mixed_float16"


@pytest.mark.parametrize("has_bf16, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_policy_on_cpu(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: has_bf16)
    assert precision.set_policy("auto") == expected
    assert keras.mixed_precision.dtype_policy().name == expected


def test_unknown_policy_is_value_error():
    with pytest.raises(ValueError, match="policy"):
        precision.set_policy("float8")


def test_loss_scaling_only_under_float16():
    assert not isinstance(optimizers.loss_scaled("adam"), keras.optimizers.LossScaleOptimizer)
    precision.set_policy("mixed_bfloat16")
    assert not isinstance(optimizers.loss_scaled("adam"), keras.optimizers.LossScaleOptimizer)
    precision.set_policy("mixed_float16")
    optimizer = optimizers.loss_scaled(keras.optimizers.Adam())
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert optimizers.loss_scaled(optimizer) is optimizer
    optimizer.build([keras.Variable(1.0)])
    loss = tf.constant(2.0)
    assert float(optimizers.scale_loss(optimizer, loss)) == 2.0 * float(optimizer.dynamic_scale)
    assert float(optimizers.scale_loss(keras.optimizers.Adam(), loss)) == 2.0


def test_strategies_by_name():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.get_strategy("tpu")


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "TF_CONFIG is not set"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"cluster": {}, "task": {"type": "worker", "index": 0}}), "at least one worker"),
        (json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}), "task must name"),
        (json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}), "outside"),
    ],
)
def test_malformed_tf_config_is_a_clear_error(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        distribute.get_strategy("multiworker")


def test_chief_is_worker_zero():
    class Resolver:
        def __init__(self, task_type, task_id):
            self.task_type, self.task_id = task_type, task_id

    class Strategy:
        def __init__(self, resolver):
            self.cluster_resolver = resolver

    assert distribute.is_chief(tf.distribute.get_strategy())
    assert distribute.is_chief(Strategy(Resolver("worker", 0)))
    assert not distribute.is_chief(Strategy(Resolver("worker", 1)))


def test_replica_noise_is_the_same_however_the_batch_is_split():
    from contract import two_device_strategy

    seed = tf.constant([3, 4])
    single = backend.replica_noise(tf.constant([6, 2]), seed)
    strategy = two_device_strategy()

    @tf.function
    def per_replica():
        return backend.replica_noise(tf.constant([3, 2]), seed)

    parts = strategy.experimental_local_results(strategy.run(per_replica))
    assert tf.reduce_max(tf.abs(tf.concat(parts, axis=0) - single)) == 0
    assert float(tf.math.reduce_std(single)) > 0.1
    uniform = backend.replica_noise(tf.constant([1000, 1]), seed, "uniform")
    assert 0 <= float(tf.reduce_min(uniform)) and float(tf.reduce_max(uniform)) < 1
