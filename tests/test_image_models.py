"""VAE, DCGAN, the feature classifier and the image metrics: behaviour beyond the shared contract."""

import math
import os

import keras
import numpy as np
import pytest
from helpers import bars

import kerasgen as kg
from kerasgen import cli, metrics
from kerasgen.models.chunks import sample_in_chunks
from kerasgen.models.vae import binarize


def test_iwae_nll_matches_the_exact_likelihood_of_a_one_dimensional_latent():
    keras.utils.set_random_seed(1)
    vae = kg.models.VAE(image_shape=(4, 4, 1), latent_dim=1, filters=(2, 2), hidden_dim=8)
    x = binarize(np.random.default_rng(0).random((3, 4, 4, 1)), seed=1)
    vae.build((None, 4, 4, 1))
    # log p(x) = log integral p(x|z) N(z; 0, 1) dz, by quadrature on a fine grid.
    z = np.linspace(-8, 8, 4001, dtype=np.float32)[:, None]
    logits = np.asarray(vae.decoder(z), np.float64).reshape(len(z), -1)
    flat = x.reshape(len(x), -1)
    log_px_z = -(np.logaddexp(0, logits)[None] - flat[:, None] * logits[None]).sum(-1)
    log_prior = -0.5 * (z[:, 0] ** 2 + math.log(2 * math.pi))
    integrand = log_px_z + log_prior[None]
    peak = integrand.max(axis=1, keepdims=True)
    exact = -(peak[:, 0] + np.log(np.exp(integrand - peak).sum(1) * (z[1, 0] - z[0, 0])))
    estimated = vae.nll(x, num_samples=5000, batch_size=1)
    assert estimated == pytest.approx(exact.mean(), rel=0.01)
    assert vae.nll(x, num_samples=1, batch_size=1) >= estimated - 1e-3  # the bound tightens with more samples


def test_vae_evaluation_reports_the_negative_elbo_deterministically():
    keras.utils.set_random_seed(0)  # the 3% agreement below holds for a trained model; fix which one
    rng = np.random.default_rng(0)
    x = binarize(np.clip(rng.random((64, 12, 12, 1)) * np.linspace(0, 1.5, 12)[None, :, None, None], 0, 1), 1)
    vae = kg.models.VAE(image_shape=(12, 12, 1), latent_dim=4, filters=(4, 8), hidden_dim=32)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    vae.fit(x, epochs=5, batch_size=32, verbose=0)
    loss = vae.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    assert vae.evaluate(x, batch_size=64, verbose=0, return_dict=True) == loss  # fixed-seed draw
    logits, mean, _ = vae(x)
    assert not np.allclose(logits, vae.decoder(mean), atol=1e-3)  # a draw from q(z|x), not the posterior mean
    assert loss["loss"] == pytest.approx(loss["reconstruction"] + loss["kl"], rel=1e-5)
    # A one-sample ELBO estimate: the IWAE estimator with one sample agrees, with 100 it is a tighter bound.
    assert vae.nll(x, num_samples=1) == pytest.approx(loss["loss"], rel=0.03)
    assert vae.nll(x, num_samples=100) < loss["loss"]


def test_vae_sampling_interpolation_and_decoding():
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=3, filters=(4, 8), hidden_dim=16)
    vae.build((None, 8, 8, 1))
    images = vae.sample(5, temperature=1.0, seed=3)
    assert images.shape == (5, 8, 8, 1) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    np.testing.assert_array_equal(images, vae.sample(5, seed=3))
    assert not np.allclose(images, vae.sample(5, seed=4))
    at_zero = vae.sample(4, temperature=0.0, seed=9)
    np.testing.assert_allclose(at_zero, np.repeat(vae.decode(np.zeros((1, 3))), 4, axis=0), atol=1e-6)
    a, b = np.full((8, 8, 1), 0.2, np.float32), np.eye(8, dtype=np.float32)[..., None]
    strip = vae.interpolate(a, b, steps=6)
    means = np.asarray(vae.encode(np.stack([a, b]))[0])
    assert strip.shape == (6, 8, 8, 1)
    np.testing.assert_allclose(strip[0], vae.decode(means[:1])[0], atol=1e-6)
    np.testing.assert_allclose(strip[-1], vae.decode(means[1:])[0], atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda vae: vae.nll(np.full((2, 8, 8, 1), 0.5, np.float32)), "only 0 and 1"),
        (lambda vae: vae.nll(np.zeros((2, 9, 8, 1), np.float32)), "shape"),
        (lambda vae: vae.nll(np.zeros((2, 8, 8, 1), np.uint8)), "uint8"),
        (lambda vae: vae.interpolate(np.full((8, 8, 1), 2.0), np.zeros((8, 8, 1))), "lie in \\[0, 1\\]"),
        (lambda vae: vae.sample(0), "n must be"),
        (lambda vae: vae.sample(2, temperature=-1), "temperature"),
    ],
)
def test_vae_bad_input(call, message):
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    vae.build((None, 8, 8, 1))
    with pytest.raises((ValueError, TypeError), match=message):
        call(vae)


def test_image_shapes_must_halve_twice():
    with pytest.raises(ValueError, match="divisible by 4"):
        kg.models.DCGAN(image_shape=(10, 10, 1))


def test_dcgan_truncation_and_seeds():
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    gan.build()
    images = gan.sample(6, seed=1)
    assert images.shape == (6, 8, 8, 1) and 0 <= images.min() <= images.max() <= 1
    np.testing.assert_array_equal(images, gan.sample(6, seed=1))
    collapsed = gan.sample(3, temperature=0.0, seed=5)
    np.testing.assert_allclose(collapsed, np.repeat(collapsed[:1], 3, axis=0))
    spread = lambda t: gan.sample(64, temperature=t, seed=2).std(axis=0).mean()  # noqa: E731
    assert spread(0.3) < spread(1.0)


def test_frechet_distance_against_the_general_formula():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5))
    b = rng.standard_normal((300, 5)) * 2 + 1
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b)
        - 2 * np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real.clip(0)).sum()
    )
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a), rel=1e-8)
    with pytest.raises(ValueError, match="same d"):
        metrics.frechet_distance(a, b[:, :3])


def test_classifier_learns_and_reports_features_and_histograms():
    keras.utils.set_random_seed(0)
    x, y = bars(256)
    clf = kg.models.ImageClassifier(image_shape=(8, 8, 1), num_classes=2, feature_dim=16, dropout=0.0)
    clf.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    clf.fit(x, y, epochs=15, batch_size=32, verbose=0)
    test_x, test_y = bars(200, seed=1)
    assert np.mean(clf.predict_classes(test_x) == test_y) > 0.95
    assert clf.features(test_x).shape == (200, 16)
    histogram = metrics.class_histogram(clf, test_x, num_classes=2)
    assert histogram.sum() == pytest.approx(1) and histogram == pytest.approx([np.mean(test_y == 0), np.mean(test_y == 1)], abs=0.05)


def test_the_dcgan_ema_generator_averages_the_trained_one_and_draws_the_samples(tmp_path):
    from helpers import bars, dcgan_ema_steps

    images, _ = bars(16, seed=0)
    keras.utils.set_random_seed(0)
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, ema_decay=0.5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    steps = dcgan_ema_steps(gan, images)
    assert steps["copied"] == 0 and steps["averaged"] < 1e-6 and steps["lag"] > 1e-4, steps
    assert not gan.ema_generator.trainable_weights
    assert len(gan.trainable_weights) == len(kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4,
                                                              filters=4).trainable_weights)
    # sample, the SavedModel's sample and the exported network run the EMA generator; training runs the other one
    z = keras.random.normal((3, 4), seed=1)
    drawn = gan.sample(3, seed=5)
    gan.generator.set_weights([w + 1.0 for w in gan.generator.get_weights()])
    np.testing.assert_array_equal(gan.sample(3, seed=5), drawn)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gan._generate(z, None, training=False)),
                               keras.ops.convert_to_numpy(gan.ema_generator(z)), atol=1e-6)
    gan.save(tmp_path / "ema.keras")
    loaded = keras.saving.load_model(tmp_path / "ema.keras", safe_mode=True)
    assert loaded.ema_decay == 0.5
    np.testing.assert_array_equal(loaded.sample(3, seed=5), drawn)
    gan.ema_generator.set_weights([w * 0.5 for w in gan.ema_generator.get_weights()])
    assert np.abs(gan.sample(3, seed=5) - drawn).max() > 1e-3
    with pytest.raises(ValueError, match="ema_decay"):
        kg.models.DCGAN(image_shape=(8, 8, 1), ema_decay=1.0)


def test_minibatch_stddev_appends_each_groups_mean_standard_deviation():
    from kerasgen.layers import MinibatchStddev

    x = np.random.default_rng(0).normal(size=(6, 3, 3, 2)).astype(np.float32)
    out = keras.ops.convert_to_numpy(MinibatchStddev(group_size=4)(x))
    assert out.shape == (6, 3, 3, 3)
    np.testing.assert_array_equal(out[..., :2], x)
    for group in (slice(0, 4), slice(4, 6)):  # groups of four consecutive images; the last one is smaller
        np.testing.assert_allclose(out[group, ..., 2], np.full((len(x[group]), 3, 3), x[group].std(axis=0).mean()),
                                   rtol=1e-5)
    same = keras.ops.convert_to_numpy(MinibatchStddev()(np.repeat(x[:1], 4, axis=0)))
    assert np.abs(same[..., 2]).max() < 1e-3  # a collapsed batch shows (almost) no spread


@pytest.mark.parametrize("num_classes", [None, 3])
def test_a_minibatch_std_discriminator_judges_an_image_by_its_batch(num_classes, tmp_path):
    images = np.random.default_rng(1).random((6, 8, 8, 1)).astype(np.float32)
    labels = None if num_classes is None else np.arange(6) % 3
    logits = {}
    for flag in (False, True):
        keras.utils.set_random_seed(0)
        gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, num_classes=num_classes,
                              minibatch_std=flag)
        varied = gan((images, labels) if num_classes else images)
        collapsed = gan((np.repeat(images[:1], 6, axis=0), labels) if num_classes else np.repeat(images[:1], 6, 0))
        logits[flag] = abs(float(keras.ops.convert_to_numpy(varied)[0, 0] - keras.ops.convert_to_numpy(collapsed)[0, 0]))
    assert logits[False] < 1e-6 and logits[True] > 1e-6  # the same first image, judged beside others or its copies
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    assert loaded.minibatch_std is True and loaded.get_config() == gan.get_config()
    np.testing.assert_array_equal(loaded.sample(2, seed=1, **({"labels": 1} if num_classes else {})),
                                  gan.sample(2, seed=1, **({"labels": 1} if num_classes else {})))


def test_the_r1_penalty_is_the_discriminators_input_gradient_and_trains_it(tmp_path):
    from helpers import dcgan_r1_check, tiny_r1_gan

    check = dcgan_r1_check()
    assert check["penalty"] > 1e-6 and check["penalty"] == pytest.approx(check["estimate"], rel=2e-2), check
    assert check["step_difference"] > 1e-6, check  # its gradient reaches the discriminator's weights
    gan = tiny_r1_gan(2.5)
    gan.save(tmp_path / "r1.keras")
    assert keras.saving.load_model(tmp_path / "r1.keras", safe_mode=True).r1_penalty == 2.5
    with pytest.raises(ValueError, match="r1_penalty"):
        kg.models.DCGAN(image_shape=(8, 8, 1), r1_penalty=-1.0)


def test_the_hinge_loss_and_a_wider_discriminator_train_and_reload(tmp_path):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(5, 1)).astype(np.float32), rng.normal(size=(5, 1)).astype(np.float32)
    hinge = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, adversarial_loss="hinge",
                            discriminator_filters=6)
    assert hinge.label_smoothing == 0.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hinge.discriminator_loss(real, fake)),
                               np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean(), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hinge.generator_loss(fake)), -fake.mean(), rtol=1e-6)
    plain = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    assert plain.label_smoothing == 0.1  # the non-saturating loss's default, with smoothed real targets
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731  binary cross-entropy of logits: -log sigmoid(x) = softplus(-x)
    expected = (0.9 * softplus(-real) + 0.1 * softplus(real)).mean() + softplus(fake).mean()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain.discriminator_loss(real, fake)), expected, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain.generator_loss(fake)), softplus(-fake).mean(),
                               rtol=1e-5)
    widths = [layer.filters for layer in hinge.discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    generator = [layer.filters for layer in hinge.generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert widths == [6, 12] and generator == [4, 1]  # the critic widens, the generator does not

    hinge.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    before = [w.copy() for w in hinge.get_weights()]
    history = hinge.fit(rng.random((16, 8, 8, 1)).astype(np.float32), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all() and np.isfinite(history.history["g_loss"]).all()
    assert all(np.abs(b - a).max() > 0 for b, a in zip(before, hinge.get_weights()) if b.ndim > 1)
    hinge.save(tmp_path / "hinge.keras")
    loaded = keras.saving.load_model(tmp_path / "hinge.keras", safe_mode=True)
    assert loaded.get_config() == hinge.get_config() and loaded.adversarial_loss == "hinge"
    np.testing.assert_array_equal(loaded.sample(2, seed=3), hinge.sample(2, seed=3))
    with pytest.raises(ValueError, match="adversarial_loss must be one of nonsaturating, hinge; got 'wasserstein'"):
        kg.models.DCGAN(image_shape=(8, 8, 1), adversarial_loss="wasserstein")
    with pytest.raises(ValueError, match="the hinge loss has a margin instead"):
        kg.models.DCGAN(image_shape=(8, 8, 1), adversarial_loss="hinge", label_smoothing=0.1)


def test_cli_writes_a_uint8_data_set_and_a_grid(tmp_path, capsys):
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    gan.build()
    path = tmp_path / "gan.keras"
    gan.save(path)
    assert cli.main(["sample", str(path), "-n", "300", "--out", str(tmp_path / "set.npz"), "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert "sampled 300/300" in captured.err
    images = np.load(tmp_path / "set.npz")["images"]
    assert images.shape == (300, 8, 8, 1) and images.dtype == np.uint8
    expected = sample_in_chunks(gan, 300, seed=0)
    np.testing.assert_array_equal(images, np.round(expected * 255).astype(np.uint8))
    assert cli.main(["sample", str(path), "-n", "16", "--out", str(tmp_path / "grid.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size == (4 * 9 + 1, 4 * 9 + 1)


def test_cli_interpolation_strip_from_test_images(tmp_path, data_dir, capsys):
    vae = kg.models.VAE(image_shape=(28, 28, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    vae.build((None, 28, 28, 1))
    path = tmp_path / "vae.keras"
    vae.save(path)
    out = tmp_path / "strip.png"
    assert cli.main(["sample", str(path), "-n", "16", "--interpolate", "--out", str(out)]) == 2
    assert "--interpolate with a model file needs --data" in capsys.readouterr().err
    assert cli.main(["sample", str(path), "-n", "16", "--interpolate", "--data", "mnist", "--out", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size == (8 * 29 + 1, 2 * 29 + 1)  # two rows of eight
    gan = tmp_path / "gan.keras"
    g = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    g.build()
    g.save(gan)
    assert cli.main(["sample", str(gan), "-n", "8", "--interpolate", "--out", str(out)]) == 2
    assert "cannot interpolate" in capsys.readouterr().err
    small = tmp_path / "small_vae.keras"
    tiny = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    tiny.build((None, 8, 8, 1))
    tiny.save(small)
    assert cli.main(["sample", str(small), "-n", "8", "--interpolate", "--data", "fashion_mnist", "--out",
                     str(out)]) == 2
    assert "fashion_mnist holds images of shape (28, 28, 1)" in capsys.readouterr().err
    # A zoo entry walks between test images of its own data set.
    assert cli.main(["sample", "vae-mnist", "-n", "8", "--interpolate", "--out", str(out)]) == 0
    assert Image.open(out).size == (8 * 29 + 1, 29 + 1)


def test_scatter_image_puts_one_black_pixel_per_point_on_a_shared_scale():
    from kerasgen.images import scatter_image

    # x spans 2, y spans 1: one scale of 10 pixels per unit, y centred, rows counted from the top.
    image = scatter_image([[0.0, 0.0], [2.0, 1.0], [1.0, 0.5]], size=21, margin=0)
    assert image.shape == (21, 21, 1) and image.dtype == np.uint8
    assert sorted(zip(*np.nonzero(image[..., 0] == 0))) == [(5, 20), (10, 10), (15, 0)]
    assert np.count_nonzero(image == 255) == 21 * 21 - 3
    for bad in (np.zeros((3, 3)), np.zeros((0, 2)), [[0.0, np.nan]]):
        with pytest.raises(ValueError, match="points must be"):
            scatter_image(bad)


def test_sample_cache_reuses_seeded_chunks_and_only_those(tmp_path, monkeypatch, capsys):
    from kerasgen.models.chunks import sample_cache

    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, num_classes=3)
    gan.build()
    drawn = []
    real_sample = gan.sample
    monkeypatch.setattr(gan, "sample", lambda n, **kwargs: drawn.append(n) or real_sample(n, **kwargs))
    labels = np.arange(25) % 3
    expected = sample_in_chunks(gan, 25, seed=0, chunk=10, labels=labels, temperature=0.8)
    with sample_cache(tmp_path / "cache"):
        assert len(os.listdir(tmp_path / "cache")) == 0
        first = sample_in_chunks(gan, 25, seed=0, chunk=10, labels=labels, temperature=0.8)
        drawn.clear()
        again = sample_in_chunks(gan, 25, seed=0, chunk=10, labels=labels, temperature=0.8)
        assert drawn == [] and "reused 3 of 3 chunks" in capsys.readouterr().out
        sample_in_chunks(gan, 25, seed=0, chunk=10, labels=labels, temperature=0.5)  # another setting: drawn anew
        sample_in_chunks(gan, 25, seed=1, chunk=10, labels=labels, temperature=0.8)  # another seed
        sample_in_chunks(gan, 25, seed=0, chunk=10, labels=(labels + 1) % 3, temperature=0.8)  # other labels
        sample_in_chunks(gan, 25, chunk=10, labels=labels, temperature=0.8)  # unseeded: never cached
        assert drawn == [10, 10, 5] * 4
        drawn.clear()
        kernel = gan.generator.trainable_variables[0]
        kernel.assign(kernel + 1.0)  # other weights: drawn anew
        sample_in_chunks(gan, 25, seed=0, chunk=10, labels=labels, temperature=0.8)
        assert drawn == [10, 10, 5]
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected)
    assert len(os.listdir(tmp_path / "cache")) == 5 * 3  # the unseeded draw left nothing
