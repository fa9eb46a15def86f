"""The contract every model family passes (like KerasHub's ``run_backbone_test``).

``run_model_contract(spec, tmp_path)`` checks, for one small model:
1. it builds and ``fit`` lowers the loss over a few steps on tiny data;
2. it saves to ``.keras`` and loads in a fresh process with ``safe_mode=True``,
   giving identical outputs for the same seed and the same optimizer state;
3. one training step under ``mixed_float16`` and ``mixed_bfloat16`` has a
   finite loss, and the model's outputs stay float32;
4. one data-parallel step over two CPU devices equals the single-device step
   on the same global batch within 1e-5: ``MirroredStrategy`` on TensorFlow,
   ``keras.distribution.DataParallel`` on JAX (tests/test_backends.py runs
   this contract on JAX, with two XLA host devices, and on PyTorch, where
   kerasgen trains on one device and this check does not apply).

A family supplies a ``ContractSpec``: how to build a fresh model, how to compile
it with a given optimizer, and a tiny batch.
"""

import contextlib
import json
import dataclasses
import functools
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from kerasgen.models import ImageClassifier
from kerasgen.models.base import ImageGenerator, PointGenerator, TextGenerator
from kerasgen.models.optimizers import held_optimizers

SEED = 7


@dataclasses.dataclass
class ContractSpec:
    build: Callable[[], keras.Model]  # a fresh, uncompiled model
    compile: Callable[[keras.Model, keras.optimizers.Optimizer], None]
    x: np.ndarray
    y: np.ndarray = None
    fit_steps: int = 8
    learning_rate: float = 1e-2
    loss_key: str = "loss"  # the logged loss that must fall over fit_steps (a GAN: its discriminator loss)


def class_labels(model, n):
    """``labels=`` for a class-conditional model's ``sample`` (every class in turn), else nothing."""
    classes = getattr(model, "num_classes", None)
    return {} if classes is None or isinstance(model, ImageClassifier) else {"labels": np.arange(n) % classes}


def check_config_round_trip(model):
    """``from_config(get_config())`` makes a model whose config comes back equal, value for value."""
    config = model.get_config()
    again = type(model).from_config(config).get_config()
    assert json.dumps(again, sort_keys=True, default=repr) == json.dumps(config, sort_keys=True, default=repr)


def optimizer_state(model):
    """Sums of every optimizer variable the model holds (``optimizer``, or a GAN's two), in a fixed order."""
    return np.array([float(np.sum(np.asarray(v, np.float64)))
                     for o in held_optimizers(model).values() for v in o.variables])


def protocol_outputs(model, x):
    """What a user sees from the model, seeded: logits and generated text, or sampled images."""
    if isinstance(model, TextGenerator):
        prompts = [model.tokenizer.decode(x[0][:3]), model.tokenizer.decode(x[1][:5])]
        texts = model.generate(prompts, max_new_tokens=12, temperature=1.0, seed=SEED)
        return {"logits": keras.ops.convert_to_numpy(model(x)), "texts": np.array(texts)}
    if isinstance(model, ImageGenerator):
        return {"images": model.sample(4, temperature=1.0, seed=SEED, **class_labels(model, 4))}
    if isinstance(model, PointGenerator):
        return {"points": model.sample(4, temperature=1.0, seed=SEED)}
    if isinstance(model, ImageClassifier):
        return {"probabilities": keras.ops.convert_to_numpy(model(x)), "classes": model.predict_classes(x)}
    raise TypeError(f"{type(model).__name__} implements neither protocol")


class _FreshProcess:
    """Loads ``path`` in a new Python process with ``safe_mode=True`` and saves its protocol outputs; it runs while
    this process goes on with the other checks, and ``outputs()`` waits for it."""

    def __init__(self, path, x, tmp_path):
        np.save(tmp_path / "x.npy", x)
        self.result_path = tmp_path / "loaded.npz"
        script = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
            import keras, numpy as np
            import kerasgen.models
            from contract import optimizer_state, protocol_outputs
            model = keras.saving.load_model({str(path)!r}, safe_mode=True)
            outputs = protocol_outputs(model, np.load({str(tmp_path / "x.npy")!r}))
            outputs["optimizer_variables"] = optimizer_state(model)
            np.savez({str(self.result_path)!r}, **outputs)
            """
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def outputs(self):
        try:
            _, stderr = self.process.communicate(timeout=300)
        finally:
            self.process.kill()
        assert self.process.returncode == 0, stderr[-3000:]
        return dict(np.load(self.result_path))


def fit_and_start_round_trip(spec, tmp_path):
    """Fit a fresh model (its loss must fall), save it and start loading it elsewhere; returns a check to run later."""
    keras.utils.set_random_seed(SEED)
    model = spec.build()
    spec.compile(model, keras.optimizers.Adam(spec.learning_rate))
    history = model.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=spec.fit_steps, shuffle=False, verbose=0)
    losses = history.history[spec.loss_key]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], f"loss did not decrease over {spec.fit_steps} steps: {losses}"

    check_config_round_trip(model)
    path = tmp_path / "model.keras"
    model.save(path)
    fresh = _FreshProcess(path, spec.x, tmp_path)
    original, state = protocol_outputs(model, spec.x), optimizer_state(model)
    assert state.size, "the model holds no optimizer state to compare"

    def check_round_trip():
        loaded = fresh.outputs()
        for key, value in original.items():
            if value.dtype.kind in "fc":
                np.testing.assert_allclose(loaded[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
            else:
                np.testing.assert_array_equal(loaded[key], value, err_msg=key)
        np.testing.assert_allclose(loaded["optimizer_variables"], state, rtol=1e-6, err_msg="optimizer state")

    return check_round_trip


def check_mixed_precision(spec):
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_dtype_policy(policy)
        try:
            keras.utils.set_random_seed(SEED)
            model = spec.build()
            spec.compile(model, keras.optimizers.Adam(spec.learning_rate))
            logs = model.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=1, verbose=0).history
            assert all(np.isfinite(v[-1]) for v in logs.values()), (policy, logs)
            if policy == "mixed_float16":  # float16 gradients underflow unless the loss is scaled
                optimizers = [getattr(model, n, None) for n in ("optimizer", "d_optimizer", "g_optimizer")]
                scaled = [o for o in optimizers if isinstance(o, keras.optimizers.LossScaleOptimizer)]
                assert scaled, f"{type(model).__name__} trains under mixed_float16 without loss scaling"
                for optimizer in scaled:
                    scale = float(keras.ops.convert_to_numpy(optimizer.dynamic_scale))
                    assert np.isfinite(scale) and scale >= 1, scale
            if isinstance(model, (TextGenerator, ImageClassifier)):
                assert keras.backend.standardize_dtype(model(spec.x).dtype) == "float32", policy
            else:
                images = model.sample(2, seed=SEED, **class_labels(model, 2))
                assert images.dtype == np.float32 and np.all(np.isfinite(images)), policy
        finally:
            keras.mixed_precision.set_dtype_policy("float32")


@functools.cache
def two_device_strategy():
    """One MirroredStrategy per process: several would share collective keys and clash."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "needs two logical CPU devices (tests/conftest.py sets them up)"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


@contextlib.contextmanager
def two_device_scope():
    """Models built and trained inside are data-parallel over two CPU devices, the backend's way."""
    if keras.backend.backend() == "tensorflow":
        with two_device_strategy().scope():
            yield
        return
    devices = keras.distribution.list_devices("cpu")
    assert len(devices) >= 2, "needs two CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=2)"
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:2]))
    try:
        yield
    finally:
        keras.distribution.set_distribution(None)


def check_data_parallel_equivalence(spec):
    if keras.backend.backend() == "torch":
        return  # kerasgen trains on one device on PyTorch (distribute.get_strategy says so): nothing to compare
    keras.utils.set_random_seed(SEED)
    single = spec.build()
    spec.compile(single, keras.optimizers.SGD(spec.learning_rate))
    # A first step builds every variable (the batch size of the compared step: one trace per model).
    single.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=1, shuffle=False, verbose=0)
    start = [np.array(w) for w in single.get_weights()]
    with two_device_scope():
        mirrored = spec.build()
        spec.compile(mirrored, keras.optimizers.SGD(spec.learning_rate))
        mirrored.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=1, shuffle=False, verbose=0)
    mirrored.set_weights(start)
    single.set_weights(start)
    keras.utils.set_random_seed(SEED)
    single.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=1, shuffle=False, verbose=0)
    with two_device_scope():  # on JAX the distribution also shards fit's batches
        keras.utils.set_random_seed(SEED)
        mirrored.fit(spec.x, spec.y, batch_size=len(spec.x), epochs=1, shuffle=False, verbose=0)
    changed = max(np.max(np.abs(a - b)) for a, b in zip(single.get_weights(), start))
    assert changed > 1e-4, "the step did not change the weights; the comparison would prove nothing"
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


def run_model_contract(spec, tmp_path):
    check_round_trip = fit_and_start_round_trip(spec, tmp_path)  # the fresh process loads while the rest runs
    check_mixed_precision(spec)
    check_data_parallel_equivalence(spec)
    check_round_trip()
