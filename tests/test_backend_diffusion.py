"""The diffusion family on keras.ops and kerasgen.backend: its arithmetic against numpy, and on TensorFlow its random
streams against the TensorFlow calls the zoo's cards were measured with."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasgen import backend
from kerasgen.models.diffusion import (
    DiffusionModel,
    cosine_alpha_bars,
    ddim_step,
    ddpm_step,
    make_sampling_step,
    predict_clean,
    sampling_timesteps,
)

on_tensorflow = pytest.mark.skipif(backend.name() != "tensorflow", reason="TensorFlow's streams")


def numpy_clean(x, output, a, prediction):
    """predict_clean in float64 numpy."""
    x0 = np.sqrt(a) * x - np.sqrt(1 - a) * output if prediction == "v" else (x - np.sqrt(1 - a) * output) / np.sqrt(a)
    x0 = np.clip(x0, -1, 1)
    return x0, (x - np.sqrt(a) * x0) / np.sqrt(1 - a)


def numpy_ddim(x0, eps, a, a_prev, eta, noise):
    sigma = eta * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
    return np.sqrt(a_prev) * x0 + np.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps + sigma * noise


def numpy_ddpm(x, x0, a, a_prev, noise):
    beta = 1 - a / a_prev
    mean = (np.sqrt(a_prev) * beta * x0 + np.sqrt(1 - beta) * (1 - a_prev) * x) / (1 - a)
    return mean + np.sqrt(beta * (1 - a_prev) / (1 - a)) * noise


def as_tensor(array):
    return ops.convert_to_tensor(np.asarray(array, np.float32))


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_the_steps_in_keras_ops_match_numpy(prediction):
    rng = np.random.default_rng(0)
    x, output, noise = (rng.normal(size=(2, 5, 5, 3)).astype(np.float32) for _ in range(3))
    alpha_bars = cosine_alpha_bars(1000).astype(np.float32)
    for t, t_prev in [(999, 949), (500, 480), (30, 10), (9, None)]:
        a = float(alpha_bars[t])
        a_prev = 1.0 if t_prev is None else float(alpha_bars[t_prev])
        x0, eps = predict_clean(as_tensor(x), as_tensor(output), as_tensor(a), prediction)
        want_x0, want_eps = numpy_clean(x.astype(np.float64), output, a, prediction)
        np.testing.assert_allclose(ops.convert_to_numpy(x0), want_x0, atol=2e-5)
        np.testing.assert_allclose(ops.convert_to_numpy(eps), want_eps, rtol=1e-4, atol=1e-4)
        for eta in (0.0, 0.4, 1.0):
            got = ddim_step(x0, eps, as_tensor(a), as_tensor(a_prev), as_tensor(eta), as_tensor(noise))
            want = numpy_ddim(ops.convert_to_numpy(x0), ops.convert_to_numpy(eps), a, a_prev, eta, noise)
            np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-4)
        got = ddpm_step(as_tensor(x), x0, as_tensor(a), as_tensor(a_prev), as_tensor(noise))
        want = numpy_ddpm(x, ops.convert_to_numpy(x0), a, a_prev, noise)
        np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-4)


def randomized(model, seed=0):
    """``model`` built, with random weights in both networks (the output convolution starts at zero)."""
    model.build((None, *model.image_shape))
    rng = np.random.default_rng(seed)
    for network in (model.network, model.ema_network):
        network.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in network.get_weights()])
    return model


def tiny_model(**kwargs):
    return DiffusionModel(image_shape=(6, 6, 1), widths=(8, 16), block_depth=1, timesteps=100, **kwargs)


def test_a_compiled_step_reads_the_weights_of_each_call():
    """The compiled step must not keep the weights it was traced with (under jax.jit they would be constants)."""
    model = randomized(tiny_model())
    step = make_sampling_step(model.network, "ddim", model.prediction)
    x = backend.normal((2, 6, 6, 1), backend.seed_pair(0))
    args = [ops.convert_to_tensor(v, "float32") for v in (0.5, 0.7, 0.0, 1.0)]
    t, seed = ops.convert_to_tensor(50, "int32"), backend.seed_pair(1)
    before = ops.convert_to_numpy(step(x, t, *args, seed))
    model.network.set_weights([w * 1.5 for w in model.network.get_weights()])
    after = ops.convert_to_numpy(step(x, t, *args, seed))
    expected = ops.convert_to_numpy(make_sampling_step(model.network, "ddim", model.prediction)(x, t, *args, seed))
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, expected, atol=1e-6)


@on_tensorflow
@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_sample_draws_the_streams_of_the_tensorflow_calls_it_replaced(prediction):
    """A fixed-seed DDIM (eta 0.5) draw, rebuilt from tf.random's stateless calls, the EMA U-Net and numpy."""
    import tensorflow as tf

    model = randomized(tiny_model(prediction=prediction))
    n, steps, eta, temperature = 3, 4, 0.5, 0.8
    got = model.sample(n, seed=11, steps=steps, eta=eta, temperature=temperature)

    start_seed, steps_seed = tf.unstack(tf.random.experimental.stateless_split(tf.constant([11, 0], tf.int32), 2))
    x = temperature * tf.random.stateless_normal((n, 6, 6, 1), start_seed).numpy().astype(np.float64)
    timesteps = sampling_timesteps(steps, model.timesteps)
    for i, t in enumerate(timesteps):
        a = np.float32(model.alpha_bars[t])
        a_prev = np.float32(model.alpha_bars[timesteps[i + 1]]) if i + 1 < steps else 1.0
        output = model.ema_network(tf.constant(x, tf.float32), tf.fill([n], int(t))).numpy()
        x0, eps = numpy_clean(x, output, a, prediction)
        step_seed = tf.random.experimental.stateless_fold_in(steps_seed, i)
        noise = temperature * tf.random.stateless_normal(x.shape, step_seed).numpy()
        x = numpy_ddim(x0, eps, a, a_prev, eta, noise)
    np.testing.assert_allclose(got, np.clip((x + 1) / 2, 0, 1), atol=1e-4)


@on_tensorflow
def test_a_training_call_draws_timesteps_noise_and_label_dropout_from_the_step_counter():
    """``model(images, training=True)`` at optimizer step k: TensorFlow's stateless draws at seeds (k, 1), (k, 2)
    and (k, 3), the v target built from them, and the network's prediction at the dropped-out labels."""
    import tensorflow as tf

    model = randomized(tiny_model(prediction="v", num_classes=4, label_dropout=0.5))
    model.compile(optimizer=keras.optimizers.Adam())
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(7)
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(8, 6, 6, 1)).astype(np.float32)
    labels = rng.integers(0, 4, size=8).astype(np.int32)
    target, prediction = model((images, labels), training=True)

    uniform = tf.random.stateless_uniform((8,), seed=[7, 1]).numpy()
    timesteps = np.minimum((uniform * 100).astype(np.int32), 99)
    noise = tf.random.stateless_normal((8, 6, 6, 1), seed=[7, 2]).numpy()
    dropped = np.where(tf.random.stateless_uniform((8,), seed=[7, 3]).numpy() < 0.5, 4, labels)
    assert 0 < (dropped == 4).sum() < 8
    a = model.alpha_bars.astype(np.float32)[timesteps][:, None, None, None]
    x0 = 2 * images - 1
    np.testing.assert_allclose(target, np.sqrt(a) * noise - np.sqrt(1 - a) * x0, atol=1e-5)
    noisy = tf.constant(np.sqrt(a) * x0 + np.sqrt(1 - a) * noise, tf.float32)
    np.testing.assert_allclose(prediction, model.network(noisy, timesteps, dropped), atol=1e-4)
