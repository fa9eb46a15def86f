"""RealNVP: exact inverses and log-determinants, a normalised density, bits/dim, sampling, errors, the contract."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract import two_device_strategy

import kerasgen.models
from kerasgen.layers.coupling import ActNorm, AffineCoupling, Squeeze
from kerasgen.models.realnvp import RealNVP, dequantize
from kerasgen.toy_data import make_moons


def tiny_images(n=8, shape=(4, 4, 1), seed=0):
    """uint8 images with structure: a bright diagonal on a dark background, plus noise."""
    rng = np.random.default_rng(seed)
    base = 200 * np.eye(shape[0], shape[1])[None, :, :, None] + 20
    return np.clip(base + rng.integers(-20, 30, (n, *shape)), 0, 255).astype(np.uint8)


def tiny_image_flow(num_scales=2):
    return RealNVP(input_shape=(4, 4, 1), num_scales=num_scales, hidden_units=8, num_blocks=1)


def tiny_vector_flow(num_couplings=4):
    return RealNVP(input_shape=(2,), num_couplings=num_couplings, hidden_units=16, num_blocks=2)


def randomize(model_or_layer, seed=0, scale=0.1):
    """Random weights everywhere, so no coupling or normalisation is the identity."""
    if isinstance(model_or_layer, RealNVP):
        model_or_layer.build()
    rng = np.random.default_rng(seed)
    for weight in model_or_layer.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype(np.float32))
    return model_or_layer


def jacobian_log_det(function, x):
    """log|det J| per example of ``function`` at ``x``, from the full Jacobian in float64.

    ``function`` treats examples independently, so one backward pass over D
    copies of an example gives the D rows of its Jacobian: row k is the
    gradient of output k of copy k.
    """
    dims = int(np.prod(x.shape[1:]))
    log_dets = []
    for example in np.asarray(x, np.float32):
        copies = tf.constant(np.repeat(example[None], dims, axis=0))
        with tf.GradientTape() as tape:
            tape.watch(copies)
            outputs = tf.reshape(function(copies), [dims, dims])
            diagonal = tf.reduce_sum(tf.linalg.diag_part(outputs))
        jacobian = np.asarray(tape.gradient(diagonal, copies), np.float64).reshape(dims, dims)
        sign, log_det = np.linalg.slogdet(jacobian)
        assert sign != 0
        log_dets.append(log_det)
    return np.array(log_dets)


# Mathematics


def test_inverse_of_forward_is_identity_for_vectors_and_images():
    vectors = randomize(tiny_vector_flow())
    points = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    z, _ = vectors.to_latent(points)
    np.testing.assert_allclose(vectors.inverse(z), points, atol=1e-4)

    images = randomize(tiny_image_flow())
    y, _ = images.preprocess(tiny_images() / 255.0)
    z, _ = images.to_latent(y)
    assert z.shape == y.shape
    np.testing.assert_allclose(images.inverse(z), y, atol=1e-4)
    np.testing.assert_allclose(images.postprocess(y), tiny_images() / 255.0, atol=1e-4)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (AffineCoupling("checkerboard", 0, hidden_units=8, num_blocks=2), (2,)),
        (AffineCoupling("checkerboard", 1, hidden_units=8, num_blocks=2), (3,)),
        (AffineCoupling("channel", 0, hidden_units=8, num_blocks=2), (4,)),
        (AffineCoupling("checkerboard", 0, hidden_units=4, num_blocks=1), (4, 4, 1)),
        (AffineCoupling("checkerboard", 1, hidden_units=4, num_blocks=1), (2, 2, 3)),
        (AffineCoupling("channel", 1, hidden_units=4, num_blocks=1), (2, 2, 4)),
        (ActNorm(), (3,)),
        (ActNorm(), (4, 4, 2)),
        (Squeeze(), (4, 4, 1)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, keras.layers.Layer) else str(value),
)
def test_layer_log_det_equals_numerical_jacobian(layer, shape):
    x = np.random.default_rng(2).normal(size=(3, *shape)).astype(np.float32)
    layer(x, training=True)  # builds; ActNorm initialises from the batch
    randomize(layer, scale=0.3)
    y, log_det = layer(x)
    np.testing.assert_allclose(log_det, jacobian_log_det(lambda t: layer(t)[0], x), atol=1e-4)
    x_again, inverse_log_det = layer(y, inverse=True)
    np.testing.assert_allclose(x_again, x, atol=1e-4)
    np.testing.assert_allclose(inverse_log_det, -np.asarray(log_det), atol=1e-5)


def test_image_log_prob_counts_every_jacobian_term():
    """log p(x) on [0, 1]^D = log N(z) + log|det dz/dx| for the whole map: logit transform, squeeze, factor-out."""
    model = randomize(tiny_image_flow())
    x = tiny_images(3) / 255.0

    def to_latent(images):
        return model.to_latent(model.preprocess(images)[0])[0]

    z = np.asarray(to_latent(x), np.float64).reshape(3, -1)
    expected = np.sum(-0.5 * z**2 - 0.5 * math.log(2 * math.pi), axis=1) + jacobian_log_det(to_latent, x)
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5, atol=1e-3)


def test_density_integrates_to_one_on_2d_data():
    """A random (untrained) flow, far from the identity: its density still integrates to 1 over the plane."""
    model = randomize(RealNVP(input_shape=(2,), num_couplings=6, hidden_units=32, num_blocks=2), seed=1, scale=0.3)
    for step in model.steps:  # log-scales up to +-1 per coupling: a strong warp whose mass stays inside the grid
        if isinstance(step, AffineCoupling):
            step.scale.assign(np.ones(2, np.float32))
    axis = np.linspace(-6, 6, 400, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    log_density = np.asarray(model.log_prob(grid), np.float64)
    cell = (axis[1] - axis[0]) ** 2
    assert abs(np.exp(log_density).sum() * cell - 1.0) < 0.02
    standard_normal = np.sum(-0.5 * grid.astype(np.float64) ** 2 - 0.5 * math.log(2 * math.pi), axis=1)
    assert np.max(np.abs(log_density - standard_normal)[np.abs(grid).max(axis=1) < 3]) > 1


def test_actnorm_initialisation_is_the_same_under_mirrored_strategy():
    """Data-dependent initialisation uses the global batch's statistics, whatever the number of replicas."""
    x = make_moons(8, seed=3) * np.array([3.0, 0.5], np.float32) + 1.0
    keras.utils.set_random_seed(0)
    single = tiny_vector_flow()
    single.build()
    start = single.get_weights()
    with two_device_strategy().scope():
        mirrored = tiny_vector_flow()
        mirrored.build()
    for model in (single, mirrored):
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.0))
        model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    actnorm = single.steps[0]
    np.testing.assert_allclose(actnorm.bias, -x.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(np.exp(-np.asarray(actnorm.log_scale)), x.std(axis=0), rtol=1e-4)
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)


# bits/dim, sampling, configuration


def test_bits_per_dim_is_the_documented_conversion_of_log_prob():
    model = randomize(tiny_image_flow())
    images = tiny_images(5)
    bits = model.bits_per_dim(images, seed=4, batch_size=2)
    assert np.isfinite(bits)
    log_prob = np.asarray(model.log_prob(dequantize(images, seed=4)), np.float64)
    expected = np.mean(-log_prob) / (16 * math.log(2)) + 8
    assert bits == pytest.approx(expected, rel=1e-5)
    assert model.bits_per_dim(images, seed=4) == pytest.approx(bits, rel=1e-6)  # batching does not matter


def test_loss_is_nats_per_dim_and_the_metric_bits_per_dim():
    model = randomize(tiny_image_flow())
    x = tiny_images(8) / np.float32(255)
    log_likelihood = model(x)  # dequantised like a training batch
    loss = model.compute_loss(x, None, log_likelihood)
    assert float(loss) == pytest.approx(-np.mean(log_likelihood) / 16, rel=1e-5)
    assert float(model.metric_tracker.result()) == pytest.approx(float(loss) / math.log(2) + 8, rel=1e-5)


def test_dequantize_stays_in_each_pixel_bin():
    images = tiny_images(4)
    x = dequantize(images, seed=0)
    assert x.dtype == np.float32
    assert np.all(np.floor(x * 256) == images)
    np.testing.assert_array_equal(dequantize(images, seed=0), x)


def test_samples_shape_dtype_range_and_seed():
    images = randomize(tiny_image_flow())
    samples = images.sample(5, temperature=0.7, seed=3)
    assert samples.shape == (5, 4, 4, 1) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(images.sample(5, temperature=0.7, seed=3), samples)
    assert not np.array_equal(images.sample(5, temperature=0.7, seed=4), samples)

    vectors = randomize(tiny_vector_flow())
    points = vectors.sample(200, seed=0)
    assert points.shape == (200, 2) and points.dtype == np.float32
    assert np.abs(points).max() > 1  # raw points, not clipped to [0, 1]
    # Temperature scales the base Gaussian: at 0 every sample is the image of z = 0.
    mode_image = np.tile(vectors.inverse(np.zeros((1, 2))), (3, 1))
    np.testing.assert_allclose(vectors.sample(3, temperature=0.0, seed=1), mode_image)


def test_config_round_trip():
    model = RealNVP(input_shape=(8, 8, 3), num_scales=3, num_couplings=2, hidden_units=4, num_blocks=2, alpha=0.01)
    config = model.get_config()
    assert RealNVP.from_config(config).get_config() == config
    assert config["image_shape"] == (8, 8, 3) and config["num_scales"] == 3 and config["alpha"] == 0.01


def test_hidden_units_per_scale_sets_each_scale_width_and_survives_saving(tmp_path):
    model = RealNVP(input_shape=(4, 4, 1), num_scales=2, hidden_units=[4, 8], num_blocks=1)
    model.build()
    widths = {step.name: step.hidden[0].filters for step in model.steps if hasattr(step, "hidden")}
    assert {w for name, w in widths.items() if name.startswith("scale0")} == {4}
    assert {w for name, w in widths.items() if name.startswith("scale1")} == {8}
    x = np.random.default_rng(0).random((3, 4, 4, 1)).astype(np.float32)
    model.save(tmp_path / "flow.keras")
    loaded = keras.saving.load_model(tmp_path / "flow.keras", safe_mode=True)
    assert loaded.hidden_units == [4, 8]
    np.testing.assert_allclose(loaded.log_prob(x), model.log_prob(x), rtol=1e-5)


def test_make_moons_is_normalised_and_seeded():
    points = make_moons(1001, noise=0.1, seed=0)
    assert points.shape == (1001, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(points.std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(make_moons(1001, noise=0.1, seed=0), points)


# Errors


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_shape": (28, 28)}, ValueError, "input_shape"),
        ({"input_shape": (1,)}, ValueError, "input_shape"),
        ({"input_shape": (6, 6, 1), "num_scales": 3}, ValueError, "divisible"),
        ({"input_shape": "28x28"}, TypeError, "input_shape"),
        ({"input_shape": (4, 4, 1), "num_scales": 0}, ValueError, "num_scales"),
        ({"input_shape": (4, 4, 1), "hidden_units": 0}, ValueError, "hidden_units"),
        ({"input_shape": (4, 4, 1), "num_scales": 2, "hidden_units": [4]}, ValueError, "one entry per scale"),
        ({"input_shape": (2,), "hidden_units": [4]}, ValueError, "needs images"),
        ({"input_shape": (4, 4, 1), "num_scales": 1, "hidden_units": [0]}, ValueError, "hidden_units"),
        ({"input_shape": (4, 4, 1), "num_blocks": 2.5}, TypeError, "num_blocks"),
        ({"input_shape": (4, 4, 1), "alpha": 0.5}, ValueError, "alpha"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        RealNVP(**kwargs)


def test_bad_inputs_are_clear_errors():
    images = tiny_image_flow()
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4, 4, 1\)"):
        images.log_prob(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"x must be images in \[0, 1\]"):
        images.log_prob(np.full((2, 4, 4, 1), 2.0, np.float32))
    with pytest.raises(TypeError, match="x must be floating point.*bits_per_dim"):
        images.log_prob(tiny_images(2))
    with pytest.raises(TypeError, match="images must be uint8"):
        images.bits_per_dim(tiny_images(2) / 255.0)
    with pytest.raises(ValueError, match="images must have shape"):
        images.bits_per_dim(np.zeros((2, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="n must be"):
        images.sample(0)
    with pytest.raises(TypeError, match="n must be an int"):
        images.sample(2.0)
    with pytest.raises(ValueError, match="temperature"):
        images.sample(2, temperature=-1.0)
    vectors = tiny_vector_flow()
    with pytest.raises(ValueError, match=r"z must have shape \(n, 2\)"):
        vectors.inverse(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="bits_per_dim applies to image flows"):
        vectors.bits_per_dim(np.zeros((2, 2), np.uint8))


def test_moons_splits_are_fixed_and_distinct():
    from kerasgen.toy_data import moons

    train, validation = moons("train"), moons("validation")
    assert train.shape == (16384, 2) and validation.shape == (4096, 2)
    np.testing.assert_array_equal(moons("validation"), validation)
    assert not np.allclose(train[:4096], validation)
    with pytest.raises(ValueError, match="split"):
        moons("test")


def test_train_images_fits_a_vector_flow_on_moons_and_point_nll_scores_it(tmp_path):
    from kerasgen import evaluation, training

    model, history = training.train_images(
        "realnvp", "moons", epochs=2, steps_per_epoch=8, batch_size=128, policy="float32", verbose=0,
        model_kwargs={"num_couplings": 4, "hidden_units": 16, "num_blocks": 1}, out=tmp_path / "moons.keras",
    )
    assert history.history["val_nll"][-1] < history.history["val_nll"][0]
    nll = evaluation.evaluate(model, "point_nll", dataset="moons", split="validation")
    assert nll == pytest.approx(history.history["val_nll"][-1], rel=1e-4)
    loaded = keras.saving.load_model(tmp_path / "moons.keras", safe_mode=True)
    assert evaluation.evaluate(loaded, "point_nll") == pytest.approx(nll, rel=1e-5)
    with pytest.raises(ValueError, match="which the vae family does not model"):
        training.train_images("vae", "moons", epochs=1)


def test_fine_tuning_runs_under_the_run_policy_with_changed_settings(tmp_path):
    from kerasgen import training, zoo

    small = {"num_couplings": 2, "hidden_units": 8, "num_blocks": 1}
    base = tmp_path / "base.keras"
    training.train_images("realnvp", "moons", epochs=1, steps_per_epoch=1, policy="float32", verbose=0,
                          model_kwargs=small, out=base)
    start = zoo.load_model(base)
    model, history = training.train_images(
        "realnvp", "moons", epochs=1, steps_per_epoch=2, batch_size=64, learning_rate=1e-3, policy="mixed_float16",
        verbose=0, init=str(base), model_kwargs={"alpha": 0.01},
    )
    assert model.alpha == 0.01 and start.alpha == 0.05
    assert {layer.dtype_policy.name for layer in model._flatten_layers()} >= {"mixed_float16"}
    # Two Adam steps of 1e-3 move each weight by about 2e-3 at most: training went on from the initial weights.
    moved = [np.max(np.abs(a - b)) for a, b in zip(model.get_weights(), start.get_weights())]
    assert 0 < max(moved) < 1e-2
    with pytest.raises(ValueError, match="no setting colour"):
        training.train_images("realnvp", "moons", epochs=1, init=str(base), model_kwargs={"colour": 1})
    with pytest.raises(ValueError, match="changing hidden_units changes the weights"):
        training.train_images("realnvp", "moons", epochs=1, init=str(base), model_kwargs={"hidden_units": 16})


def test_train_images_step_schedule_divides_the_rate_at_half_and_three_quarters():
    from kerasgen import training

    _, history = training.train_images(
        "realnvp", "moons", epochs=4, steps_per_epoch=2, batch_size=64, learning_rate=1e-3, schedule="step",
        policy="float32", verbose=0, model_kwargs={"num_couplings": 2, "hidden_units": 8, "num_blocks": 1},
    )
    np.testing.assert_allclose(history.history["learning_rate"], [1e-3, 1e-3, 2.5e-4, 6.25e-5], rtol=1e-6)
    # Explicit {first epoch: rate} changes hold whatever the number of epochs (a run extended keeps its rates).
    _, history = training.train_images(
        "realnvp", "moons", epochs=5, steps_per_epoch=1, batch_size=64, learning_rate=1e-3, schedule={3: 1e-4, 1: 5e-4},
        policy="float32", verbose=0, model_kwargs={"num_couplings": 2, "hidden_units": 8, "num_blocks": 1},
    )
    np.testing.assert_allclose(history.history["learning_rate"], [1e-3, 5e-4, 5e-4, 1e-4, 1e-4], rtol=1e-6)
    for bad, message in (({}, "at least one"), ({-1: 1e-4}, "keys must be epoch numbers"),
                         ({2: 0.0}, "rates must be finite numbers > 0")):
        with pytest.raises(ValueError, match=message):
            training.train_images("realnvp", "moons", epochs=1, steps_per_epoch=1, schedule=bad, verbose=0)
    with pytest.raises(ValueError, match="schedule must be"):
        training.train_images("realnvp", "moons", epochs=1, schedule="linear")
    with pytest.raises(ValueError, match="needs a single optimizer; dcgan trains several"):
        training.train_images("dcgan", epochs=1, schedule="step")


def test_bits_per_dim_metric_scores_the_named_split(monkeypatch):
    from kerasgen import evaluation

    splits = {"train": tiny_images(6, seed=1), "test": tiny_images(5, seed=2)}
    requested = []

    def fake_load(name, split="train", data_dir=None):
        requested.append((name, split))
        return splits[split], np.zeros(len(splits[split]), np.uint8)

    monkeypatch.setattr(kerasgen.data, "load_image_arrays", fake_load)
    flow = tiny_image_flow()
    value = evaluation.evaluate(flow, "bits_per_dim", dataset="mnist", split="test")
    assert requested == [("mnist", "test")]
    assert value == pytest.approx(flow.bits_per_dim(splits["test"]), rel=1e-6)
    assert value != pytest.approx(flow.bits_per_dim(splits["train"]), rel=1e-3)


def test_sample_command_writes_points_of_a_vector_flow(tmp_path, capsys):
    from kerasgen import cli

    flow = tiny_vector_flow()
    flow.build()
    flow.save(tmp_path / "moons.keras")
    assert cli.main(["sample", str(tmp_path / "moons.keras"), "-n", "7", "--seed", "3", "--out",
                     str(tmp_path / "p.npz")]) == 0
    assert "wrote 7 points" in capsys.readouterr().out
    points = np.load(tmp_path / "p.npz")["points"]
    np.testing.assert_allclose(points, flow.sample(7, seed=3), atol=1e-5)
    assert cli.main(["sample", str(tmp_path / "moons.keras"), "-n", "7", "--out", str(tmp_path / "p.png")]) == 2
    assert "samples points, not images" in capsys.readouterr().err
