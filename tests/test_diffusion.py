"""DiffusionModel: the contract, the schedule, the samplers against an exact noise oracle, EMA, bad inputs."""

import re
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgen.layers.unet import GroupNorm, UNet
from kerasgen.models.diffusion import (
    DiffusionModel,
    cosine_alpha_bars,
    ddim_step,
    ddpm_step,
    make_sampling_step,
    predict_clean,
    run_sampler,
    sampling_timesteps,
)


def tiny_model(**kwargs):
    return DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1, **kwargs)


def tiny_images(count=8, seed=0):
    """Binary 8x8 images: a bright 4x4 square at a random place on a dark background."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 8, 8, 1), np.float32)
    for image, (row, col) in zip(images, rng.integers(0, 5, size=(count, 2))):
        image[row : row + 4, col : col + 4] = 1.0
    return images


@pytest.fixture(scope="module")
def trained():
    """A tiny model (EMA decay 0.5) after two training steps, with its weights after the first and the second."""
    keras.utils.set_random_seed(0)
    model = tiny_model(ema_decay=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(tiny_images(), batch_size=8, epochs=1, verbose=0)
    first, first_ema = model.network.get_weights(), model.ema_network.get_weights()
    model.fit(tiny_images(), batch_size=8, epochs=1, verbose=0)
    return SimpleNamespace(model=model, first=first, first_ema=first_ema, second=model.network.get_weights())


def test_cosine_schedule_falls_from_one_to_zero():
    alpha_bars = cosine_alpha_bars(1000)
    assert alpha_bars.shape == (1000,)
    assert np.all(np.diff(alpha_bars) < 0)
    assert 0.999 < alpha_bars[0] < 1 and 0 < alpha_bars[-1] < 1e-6
    # Cosine: about half the signal variance is left halfway through.
    assert 0.4 < alpha_bars[500] < 0.6


def test_sampling_timesteps_stride_the_chain_from_the_last_timestep():
    np.testing.assert_array_equal(sampling_timesteps(1000, 1000), np.arange(999, -1, -1))
    np.testing.assert_array_equal(sampling_timesteps(1, 1000), [999])
    strided = sampling_timesteps(50, 1000)
    assert len(strided) == 50 and strided[0] == 999 and strided[-1] == 19
    assert np.all(np.diff(strided) == -20)


def test_ddpm_step_is_ddim_with_eta_one():
    rng = np.random.default_rng(0)
    x, predicted, noise = (tf.constant(rng.normal(size=(3, 4, 4, 1)), tf.float32) for _ in range(3))
    alpha_bars = cosine_alpha_bars(1000)
    for t, t_prev in [(999, 979), (500, 499), (100, 60), (19, None)]:
        a, a_prev = alpha_bars[t], 1.0 if t_prev is None else alpha_bars[t_prev]
        a, a_prev = tf.constant(a, tf.float32), tf.constant(a_prev, tf.float32)
        x0, predicted_noise = predict_clean(x, predicted, a)
        np.testing.assert_allclose(
            ddpm_step(x, x0, a, a_prev, noise), ddim_step(x0, predicted_noise, a, a_prev, 1.0, noise), atol=2e-5
        )


def test_epsilon_and_v_predictions_of_the_same_noise_give_the_same_clean_image():
    rng = np.random.default_rng(1)
    x0 = tf.constant(rng.uniform(-1, 1, size=(3, 4, 4, 1)), tf.float32)
    noise = tf.constant(rng.normal(size=(3, 4, 4, 1)), tf.float32)
    for a in cosine_alpha_bars(1000)[[0, 300, 700, 990]]:
        a = tf.constant(a, tf.float32)
        x = tf.sqrt(a) * x0 + tf.sqrt(1 - a) * noise
        v = tf.sqrt(a) * noise - tf.sqrt(1 - a) * x0
        for output, prediction in [(noise, "epsilon"), (v, "v")]:
            clean, estimated_noise = predict_clean(x, output, a, prediction)
            np.testing.assert_allclose(clean, x0, atol=2e-3)
            np.testing.assert_allclose(estimated_noise, noise, atol=2e-3)
    # Where almost no signal is left, v still gives the clean image; an epsilon error of 1e-3 does not.
    a = tf.constant(cosine_alpha_bars(1000)[999], tf.float32)
    x = tf.sqrt(a) * x0 + tf.sqrt(1 - a) * noise
    v = tf.sqrt(a) * noise - tf.sqrt(1 - a) * x0
    np.testing.assert_allclose(predict_clean(x, v + 1e-3, a, "v")[0], x0, atol=2e-3)
    assert np.abs(predict_clean(x, noise + 1e-3, a)[0] - x0).max() > 0.5


def mixture_oracle(alpha_bars, points, weights, prediction="epsilon"):
    """The exact E[noise | x_t] (or E[v | x_t]) when the data are ``points`` (k, H, W, C) with ``weights``."""
    alpha_bars = tf.constant(alpha_bars, tf.float64)
    points = tf.constant(points, tf.float64)
    log_weights = tf.math.log(tf.constant(weights, tf.float64))

    def predict_noise(x, timesteps):
        x = tf.cast(x, tf.float64)
        a = tf.gather(alpha_bars, timesteps)[:, None]
        flat, means = tf.reshape(x, [tf.shape(x)[0], -1]), tf.reshape(points, [len(weights), -1])
        distances = tf.reduce_sum((flat[:, None, :] - tf.sqrt(a)[:, :, None] * means[None]) ** 2, axis=-1)
        posterior = tf.nn.softmax(log_weights[None] - distances / (2 * (1 - a)), axis=-1)
        x0 = tf.reshape(posterior @ means, tf.shape(x))
        a = a[:, :, None, None]
        noise = (x - tf.sqrt(a) * x0) / tf.sqrt(1 - a)
        return noise if prediction == "epsilon" else tf.sqrt(a) * noise - tf.sqrt(1 - a) * x0

    return predict_noise


@pytest.mark.parametrize("sampler, prediction", [("ddim", "epsilon"), ("ddpm", "epsilon"), ("ddim", "v")])
def test_samplers_with_an_exact_oracle_recover_the_one_training_image(sampler, prediction):
    alpha_bars = cosine_alpha_bars(1000)
    image = np.random.default_rng(0).uniform(-1, 1, size=(1, 4, 4, 1))
    step = make_sampling_step(mixture_oracle(alpha_bars, image, [1.0], prediction), sampler, prediction)
    x = tf.random.stateless_normal((3, 4, 4, 1), tf.constant([1, 0]))
    samples = run_sampler(step, x, alpha_bars, 10, seed=tf.constant([2, 0]))
    np.testing.assert_allclose(samples, image.repeat(3, axis=0), atol=1e-5)


@pytest.mark.parametrize(
    "sampler, steps, eta, prediction",
    [("ddpm", 1000, 0.0, "epsilon"), ("ddpm", 100, 0.0, "epsilon"), ("ddim", 50, 0.0, "epsilon"),
     ("ddim", 50, 0.5, "epsilon"), ("ddim", 50, 0.0, "v"), ("ddpm", 100, 0.0, "v")],
)
def test_samplers_with_an_exact_oracle_draw_the_data_distribution(sampler, steps, eta, prediction):
    """Data: two 2x2 images, -0.5 everywhere (weight 0.25) or +0.5 (0.75). Exact noise predictions must give
    samples on those two images in those proportions: wrong means or variances miss one or the other."""
    alpha_bars = cosine_alpha_bars(1000)
    points = np.stack([np.full((2, 2, 1), -0.5), np.full((2, 2, 1), 0.5)])
    step = make_sampling_step(mixture_oracle(alpha_bars, points, [0.25, 0.75], prediction), sampler, prediction)
    seed = tf.constant([3, 0])
    x = tf.random.stateless_normal((2000, 2, 2, 1), tf.constant([4, 0]))
    samples = run_sampler(step, x, alpha_bars, steps, eta=eta, seed=seed).numpy().reshape(2000, 4)
    distance = np.minimum(np.abs(samples + 0.5).max(axis=1), np.abs(samples - 0.5).max(axis=1))
    assert distance.max() < 0.02, distance.max()
    assert abs(np.mean(samples[:, 0] > 0) - 0.75) < 0.04


def test_unet_keeps_any_image_size():
    # MNIST's 28 -> 14 -> 7, and odd sizes that round up going down (7 -> 4 -> 2, 5 -> 3 -> 2) and crop going up.
    for shape, widths, attention in [((28, 28, 1), (4, 8, 8), False), ((7, 5, 2), (4, 4, 4), True)]:
        unet = UNet(shape[-1], widths=widths, block_depth=1, attention=attention)
        out = unet(tf.zeros((2, *shape)), tf.constant([0, 999]))
        assert out.shape == (2, *shape) and out.dtype == tf.float32


@pytest.mark.parametrize(
    "shape, groups, policy, affine",
    [
        ((3, 6, 5, 16), 8, "float32", True),
        ((2, 4, 4, 6), 3, "mixed_bfloat16", True),
        ((2, 3, 3, 8), 4, "float32", False),
    ],
)
def test_group_norm_equals_keras_group_normalization(shape, groups, policy, affine):
    # Same weights, same outputs and input gradients as keras.layers.GroupNormalization, on inputs far from
    # zero mean (where E[x^2] - E[x]^2 would lose precision in low precision arithmetic).
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(3.0, 2.0, shape).astype(np.float32))
    weights = [rng.normal(size=shape[-1]).astype(np.float32) for _ in range(2 if affine else 0)]
    outputs = []
    for layer_class in (keras.layers.GroupNormalization, GroupNorm):
        layer = layer_class(groups=groups, epsilon=1e-5, scale=affine, center=affine, dtype=policy)
        layer.build(shape)
        layer.set_weights(weights)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * np.arange(y.shape[-1], dtype=np.float32))
        outputs.append((y, tape.gradient(loss, x)))
        assert y.dtype == layer.compute_dtype
    (expected, expected_grad), (got, got_grad) = outputs
    tolerance = 1e-5 if policy == "float32" else 1e-2
    np.testing.assert_allclose(tf.cast(got, tf.float32), tf.cast(expected, tf.float32), atol=tolerance * 10)
    np.testing.assert_allclose(got_grad, expected_grad, atol=tolerance * 10)
    assert GroupNorm.from_config(GroupNorm(groups=groups).get_config()).groups == groups


def test_call_returns_the_noise_and_its_prediction():
    noise, predicted = tiny_model()(tiny_images(2))
    assert noise.shape == predicted.shape == (2, 8, 8, 1)
    assert noise.dtype == predicted.dtype == tf.float32
    np.testing.assert_array_equal(predicted, 0.0)  # the output convolution starts at zero


def test_v_prediction_targets_v_of_the_same_noise_and_timesteps():
    images = tiny_images(4)
    noise, _ = tiny_model()(images)
    v, _ = tiny_model(prediction="v")(images)  # a fresh model draws the same timesteps and noise
    x0 = 2 * images - 1
    for v_i, noise_i, x0_i in zip(v.numpy(), noise.numpy(), x0):
        # v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x0 for the image's alpha_bar.
        basis = np.stack([noise_i.ravel(), -x0_i.ravel()], axis=1)
        (signal, rest), *_ = np.linalg.lstsq(basis, v_i.ravel(), rcond=None)
        np.testing.assert_allclose(basis @ [signal, rest], v_i.ravel(), atol=1e-5)
        assert signal >= 0 and rest >= 0 and abs(signal**2 + rest**2 - 1) < 1e-4


def test_v_prediction_model_trains_saves_and_samples_the_same_after_loading(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model(prediction="v")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(tiny_images(), batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    model.save(tmp_path / "v.keras")
    loaded = keras.saving.load_model(tmp_path / "v.keras")
    assert loaded.prediction == "v" and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.sample(3, seed=5, steps=5), model.sample(3, seed=5, steps=5))


def test_sampling_is_seeded_and_samplers_differ(trained):
    model = trained.model
    ddim = model.sample(2, steps=4, seed=1)
    assert ddim.shape == (2, 8, 8, 1) and ddim.dtype == np.float32
    assert 0 <= ddim.min() and ddim.max() <= 1
    np.testing.assert_array_equal(model.sample(2, steps=4, seed=1), ddim)
    assert np.abs(model.sample(2, steps=4, seed=2) - ddim).max() > 1e-3
    assert np.abs(model.sample(2, steps=4, sampler="ddpm", seed=1) - ddim).max() > 1e-3
    assert np.abs(model.sample(2, steps=4, eta=1.0, seed=1) - ddim).max() > 1e-3
    assert np.abs(model.sample(2, steps=4, seed=1, use_ema=False) - ddim).max() > 1e-3
    # Temperature 0 starts from zeros and adds no noise: the seed no longer matters.
    np.testing.assert_array_equal(
        model.sample(2, steps=4, sampler="ddpm", temperature=0.0, seed=1),
        model.sample(2, steps=4, sampler="ddpm", temperature=0.0, seed=2),
    )


def test_progress_is_called_after_every_step(trained):
    calls = []
    trained.model.sample(2, steps=4, seed=0, progress=lambda step, total: calls.append((step, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_chunked_sampling_and_the_cli_report_progress_every_step(trained, tmp_path, capsys):
    from kerasgen import cli
    from kerasgen.models.chunks import sample_in_chunks

    calls = []
    images = sample_in_chunks(trained.model, 5, 0, chunk=2, progress=lambda done, n: calls.append((done, n)), steps=4)
    assert images.shape == (5, 8, 8, 1)
    # Chunks of 2, 2 and 1 images, 4 steps each: images done grow in proportion to the steps, up to 5 of 5,
    # each count reported once (steps that finish no further image repeat no number).
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    np.testing.assert_array_equal(images, sample_in_chunks(trained.model, 5, 0, chunk=2, steps=4))
    path = tmp_path / "diffusion.keras"
    trained.model.save(path)
    capsys.readouterr()
    assert cli.main(["sample", str(path), "-n", "8", "--steps", "50", "--out", str(tmp_path / "grid.png")]) == 0
    err = capsys.readouterr().err
    shown = [int(done) for done in re.findall(r"^sampled (\d+)/8$", err, re.M)]  # a line each: not a terminal
    assert shown == list(range(1, 9)) and err.endswith("sampled 8/8\n"), err  # 50 steps, no number twice


def test_ema_copies_the_first_step_then_averages(trained):
    model = trained.model
    for ema, weight in zip(trained.first_ema, trained.first):
        np.testing.assert_array_equal(ema, weight)
    for ema, a, b in zip(model.ema_network.get_weights(), trained.first, trained.second):
        np.testing.assert_allclose(ema, 0.5 * a + 0.5 * b, rtol=1e-6, atol=1e-7)
    assert max(np.abs(e - w).max() for e, w in zip(model.ema_network.get_weights(), trained.second)) > 1e-4
    assert not model.ema_network.trainable_weights and len(model.trainable_weights) == len(trained.second)


def test_save_and_load_keep_raw_and_ema_weights(trained, tmp_path):
    model = trained.model
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_config() == model.get_config()
    for name in ("network", "ema_network"):
        for a, b in zip(getattr(model, name).get_weights(), getattr(loaded, name).get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, "n must"),
        ({"n": 2.5}, TypeError, "n must"),
        ({"steps": 0}, ValueError, "steps must"),
        ({"steps": 1001}, ValueError, "steps must"),
        ({"sampler": "euler"}, ValueError, "sampler must"),
        ({"eta": -0.1}, ValueError, "eta must"),
        ({"eta": "0"}, TypeError, "eta must"),
        ({"sampler": "ddpm", "eta": 0.5}, ValueError, "eta applies"),
        ({"temperature": -1.0}, ValueError, "temperature must"),
        ({"seed": "a"}, TypeError, "seed must"),
        ({"progress": 3}, TypeError, "progress must"),
    ],
)
def test_sample_rejects_bad_arguments(kwargs, error, match):
    model = tiny_model()
    with pytest.raises(error, match=match):
        model.sample(**{"n": 1, **kwargs})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"image_shape": (8, 0, 1)}, "image_shape"),
        ({"widths": ()}, "widths"),
        ({"block_depth": 0}, "block_depth"),
        ({"timesteps": 1}, "timesteps"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"prediction": "x0"}, "prediction must"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiffusionModel(**{"image_shape": (8, 8, 1), **kwargs})


def test_fit_rejects_images_of_another_shape():
    model = tiny_model()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="images must have shape"):
        model.fit(np.zeros((2, 9, 8, 1), np.float32), verbose=0)


def test_train_images_trains_a_diffusion_model_and_logs_sample_grids(data_dir, tmp_path):
    from kerasgen import training, zoo

    out = tmp_path / "diffusion.keras"
    model, history = training.train_images(
        "diffusion", "mnist", data_dir=data_dir, epochs=1, steps_per_epoch=2, batch_size=16, policy="float32",
        verbose=0, temperatures=(1.0,), model_kwargs={"widths": (8, 16), "block_depth": 1}, logdir=tmp_path / "logs",
        out=out,
    )
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    assert list((tmp_path / "logs" / "samples").glob("*.png"))  # the sample grid of the epoch
    loaded = zoo.load_model(out)
    np.testing.assert_allclose(loaded.sample(2, steps=3, seed=0), model.sample(2, steps=3, seed=0), atol=1e-5)
