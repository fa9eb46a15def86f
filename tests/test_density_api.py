"""One density API: ``log_prob(x)`` per example in nats, RealNVP's ``image_shape`` (old name ``input_shape``),
and the point-generator protocol of 2-D flows."""

import json
import math
import zipfile

import keras
import numpy as np
import pytest

import kerasgen as kg
from kerasgen import metrics, toy_data
from kerasgen.models.base import DensityModel, ImageGenerator, PointGenerator
from kerasgen.models.realnvp import RealNVP


def tiny_vae(latent_dim=1, seed=0):
    """A 4x4 VAE with random weights, so its likelihood is no special case."""
    vae = kg.models.VAE(image_shape=(4, 4, 1), latent_dim=latent_dim, filters=(2, 2), hidden_dim=8)
    vae.build()
    rng = np.random.default_rng(seed)
    for weight in vae.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype(np.float32))
    return vae


def binary_images(n, seed=1):
    return (np.random.default_rng(seed).random((n, 4, 4, 1)) > 0.5).astype(np.float32)


def exact_log_likelihood(vae, images):
    """log p(x) = log of the integral of p(x|z) p(z) over a one-dimensional latent, by a fine grid."""
    z = np.linspace(-8.0, 8.0, 4001)
    logits = np.asarray(vae.decoder(z[:, None].astype(np.float32)), np.float64).reshape(len(z), -1)
    pixels = images.reshape(len(images), 1, -1)
    log_px_z = np.sum(pixels * -np.logaddexp(0, -logits) + (1 - pixels) * -np.logaddexp(0, logits), axis=-1)
    log_prior = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    return np.logaddexp.reduce(log_px_z + log_prior, axis=1) + math.log(z[1] - z[0])


def test_vae_log_prob_is_the_log_likelihood_of_each_image():
    vae = tiny_vae()
    encoder_output = vae.encoder.layers[-1]  # q(z|x) = p(z): importance sampling from the prior, easy to check
    for weight in encoder_output.weights:
        weight.assign(np.zeros(weight.shape, np.float32))
    images = binary_images(6)
    exact = exact_log_likelihood(vae, images)
    assert np.ptp(exact) > 1, "the images differ in likelihood, so a mix-up between them shows"
    log_prob = vae.log_prob(images, num_samples=2000)
    assert log_prob.shape == (6,) and log_prob.dtype == np.float32
    np.testing.assert_allclose(log_prob, exact, atol=0.05)


def test_vae_nll_is_the_mean_negative_log_prob_with_the_same_draws():
    vae, images = tiny_vae(latent_dim=3), binary_images(13)
    for batch_size in (20, 5):
        log_prob = vae.log_prob(images, num_samples=17, batch_size=batch_size)
        np.testing.assert_array_equal(log_prob, vae.log_prob(images, num_samples=17, batch_size=batch_size))
        nll = vae.nll(images, num_samples=17, batch_size=batch_size)
        assert nll == pytest.approx(-np.mean(log_prob, dtype=np.float64), rel=1e-6)
    assert isinstance(nll, float)


@pytest.mark.parametrize(
    "images, error, match",
    [
        (np.full((2, 4, 4, 1), 0.5, np.float32), ValueError, "only 0 and 1"),
        (np.zeros((0, 4, 4, 1), np.float32), ValueError, "at least one image"),
        (np.zeros((2, 8, 8, 1), np.float32), ValueError, "shape"),
    ],
)
def test_vae_log_prob_refuses_what_has_no_likelihood(images, error, match):
    with pytest.raises(error, match=match):
        tiny_vae().log_prob(images, num_samples=2)


def tiny_flow(**shape):
    flow = RealNVP(**shape, num_scales=2, num_couplings=2, hidden_units=4, num_blocks=1, name="flow")
    flow.build()
    rng = np.random.default_rng(0)
    for weight in flow.trainable_weights:
        weight.assign(rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
    return flow


def stored_config(path):
    """The model config a .keras file holds, as written when it was saved."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))["config"]


@pytest.mark.parametrize("shape", [(4, 4, 1), (2,)])
def test_realnvp_takes_image_shape_and_its_old_name_input_shape(shape):
    new, old = tiny_flow(image_shape=shape), tiny_flow(input_shape=shape)
    assert new.get_config() == old.get_config()
    assert new.get_config()["image_shape"] == shape and "input_shape" not in new.get_config()
    assert new.data_shape == shape
    old.set_weights(new.get_weights())
    x = np.random.default_rng(1).random((3, *shape)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(new.log_prob(x)), np.asarray(old.log_prob(x)))


def test_realnvp_refuses_both_shape_names_and_names_the_one_given():
    with pytest.raises(TypeError, match="not both"):
        RealNVP(image_shape=(2,), input_shape=(2,))
    with pytest.raises(ValueError, match="^image_shape must be"):
        RealNVP(image_shape=(1,))
    with pytest.raises(ValueError, match="^input_shape must be"):
        RealNVP(input_shape=(1,))


def test_saved_realnvp_writes_image_shape_and_an_old_config_still_loads(tmp_path):
    flow = tiny_flow(image_shape=(4, 4, 1))
    flow.save(tmp_path / "flow.keras")
    config = stored_config(tmp_path / "flow.keras")
    assert config["image_shape"] == [4, 4, 1] and "input_shape" not in config
    old_config = {("input_shape" if key == "image_shape" else key): value for key, value in flow.get_config().items()}
    old = RealNVP.from_config(old_config)
    old.build()
    old.set_weights(flow.get_weights())
    x = np.random.default_rng(2).random((2, 4, 4, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(old.log_prob(x)), np.asarray(flow.log_prob(x)))


@pytest.mark.parametrize("name", ["realnvp-moons"])  # realnvp-mnist was republished (image_shape) in issue 27
def test_zoo_flows_saved_with_input_shape_load_and_match_a_flow_built_from_image_shape(name):
    config = stored_config(kg.zoo.path(name))
    assert "input_shape" in config and "image_shape" not in config, "the shipped file keeps its old config"
    loaded = kg.zoo.load(name)  # float32, though the file may store float16 weights
    renamed = {("image_shape" if key == "input_shape" else key): value for key, value in config.items()}
    rebuilt = RealNVP.from_config({**renamed, "dtype": loaded.get_config()["dtype"]})
    rebuilt.build()
    rebuilt.set_weights(loaded.get_weights())
    assert rebuilt.get_config() == loaded.get_config()
    x = np.random.default_rng(3).uniform(0.1, 0.9, (4, *loaded.data_shape)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded.log_prob(x)), np.asarray(rebuilt.log_prob(x)))
    np.testing.assert_array_equal(loaded.sample(3, seed=4), rebuilt.sample(3, seed=4))


def test_zoo_point_flow_still_reproduces_its_card():
    card = kg.zoo.info("realnvp-moons")
    model = kg.zoo.load("realnvp-moons")
    assert round(metrics.point_nll(model, **card["metric"]["args"]), 4) == card["metric"]["value"]
    log_prob = np.asarray(model.log_prob(toy_data.moons("validation")))
    assert metrics.point_nll(model) == pytest.approx(-np.mean(log_prob, dtype=np.float64))


def test_a_2d_flow_is_a_point_generator_and_an_image_flow_an_image_generator(tmp_path):
    points = tiny_flow(image_shape=(2,))
    assert isinstance(points, PointGenerator) and not isinstance(points, ImageGenerator)
    assert isinstance(points, DensityModel)
    assert points.point_shape == (2,) and points.image_shape is None
    draws = points.sample(5, temperature=0.5, seed=0)
    assert draws.shape == (5, 2) and draws.dtype == np.float32
    np.testing.assert_array_equal(draws, points.sample(5, temperature=0.5, seed=0))

    images = tiny_flow(image_shape=(4, 4, 1))
    assert isinstance(images, ImageGenerator) and not isinstance(images, PointGenerator)
    assert images.image_shape == (4, 4, 1) and images.point_shape is None

    points.save(tmp_path / "points.keras")
    assert isinstance(keras.saving.load_model(tmp_path / "points.keras"), PointGenerator)
    moons = kg.zoo.load("realnvp-moons")
    assert isinstance(moons, PointGenerator) and not isinstance(moons, ImageGenerator)


def test_the_other_families_keep_their_protocols():
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(2, 2), hidden_dim=4)
    assert isinstance(vae, ImageGenerator) and isinstance(vae, DensityModel) and not isinstance(vae, PointGenerator)
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=2, filters=2)
    assert isinstance(gan, ImageGenerator) and not isinstance(gan, (DensityModel, PointGenerator))

    class Points(PointGenerator):  # a protocol class mixed in alone is checked by class, as always
        pass

    assert isinstance(Points(), PointGenerator) and not isinstance(Points(), ImageGenerator)
