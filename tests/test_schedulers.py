"""Schedulers: objects apart from the network, the same images as their names, settings, configs, bad settings."""

import numpy as np
import pytest
import tensorflow as tf

from kerasgen import schedulers
from kerasgen.models.diffusion import DiffusionModel, make_sampling_step, run_sampler
from kerasgen.schedulers import DDIMScheduler, DDPMScheduler, from_name


@pytest.fixture(scope="module")
def model():
    """A tiny diffusion model with random weights (a fresh one predicts zero noise everywhere)."""
    model = DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1)
    model.build((None, 8, 8, 1))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.mark.parametrize(
    "by_name, scheduler",
    [
        ({}, DDIMScheduler()),
        ({"sampler": "ddim", "eta": 0.5}, DDIMScheduler(eta=0.5)),
        ({"sampler": "ddpm"}, DDPMScheduler()),
    ],
)
def test_a_scheduler_object_samples_the_same_images_as_its_name(model, by_name, scheduler):
    expected = model.sample(3, steps=4, seed=7, **by_name)
    np.testing.assert_array_equal(model.sample(3, steps=4, seed=7, sampler=scheduler), expected)


def test_eta_is_a_setting_of_the_object(model):
    deterministic = model.sample(3, steps=4, seed=7, sampler=DDIMScheduler())
    noisy = model.sample(3, steps=4, seed=7, sampler=DDIMScheduler(eta=1.0))
    assert np.abs(noisy - deterministic).max() > 1e-3
    # At the loop level too: the object's eta is the one a name's step is given.
    network = lambda x, t: 0.5 * x  # noqa: E731
    x, seed = tf.random.stateless_normal((2, 4, 4, 1), [1, 0]), tf.constant([2, 0])
    alpha_bars = np.linspace(0.999, 1e-4, 100)
    by_object = run_sampler(make_sampling_step(network, DDIMScheduler(eta=0.3)), x, alpha_bars, 5, seed=seed)
    by_name = run_sampler(make_sampling_step(network, "ddim"), x, alpha_bars, 5, eta=0.3, seed=seed)
    np.testing.assert_array_equal(by_object, by_name)
    assert np.abs(by_object - run_sampler(make_sampling_step(network, "ddim"), x, alpha_bars, 5, seed=seed)).max() > 1e-3


def test_spacing_is_a_setting_of_the_object_that_picks_the_timesteps():
    scheduler = DDIMScheduler(spacing="trailing")
    assert scheduler.spacing == "trailing" and scheduler.get_config()["spacing"] == "trailing"
    timesteps = scheduler.timesteps(50, 1000)
    assert timesteps.dtype == np.int32 and timesteps[0] == 999 and timesteps[-1] == 19
    np.testing.assert_array_equal(np.diff(timesteps), -20)
    np.testing.assert_array_equal(DDPMScheduler().timesteps(1000, 1000), np.arange(999, -1, -1))


@pytest.mark.parametrize("scheduler", [DDIMScheduler(), DDIMScheduler(eta=0.25), DDPMScheduler()])
def test_config_round_trip(scheduler):
    config = scheduler.get_config()
    rebuilt = type(scheduler).from_config(config)
    assert rebuilt == scheduler and hash(rebuilt) == hash(scheduler) and rebuilt.get_config() == config
    assert from_name(scheduler.name, **config) == scheduler
    assert schedulers.get(scheduler) is scheduler
    assert DDIMScheduler(eta=0.25) != DDIMScheduler() and DDIMScheduler(eta=1.0) != DDPMScheduler()
    assert repr(DDIMScheduler(eta=0.25)) == "DDIMScheduler(eta=0.25, spacing='trailing')"


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: DDIMScheduler(eta=-0.1), ValueError, "eta must be a number in [0, 1], got -0.1"),
        (lambda: DDIMScheduler(eta="0"), TypeError, "eta must be a number, got str"),
        (lambda: DDIMScheduler(spacing="leading"), ValueError, "spacing must be one of trailing; got 'leading'"),
        (lambda: from_name("euler"), ValueError, "sampler must be one of ddim, ddpm or a scheduler; got 'euler'"),
        (lambda: from_name(3), TypeError, "sampler must be a name (ddim, ddpm) or a scheduler, got int"),
        (lambda: from_name("ddpm", eta=0.5), ValueError, "eta applies to sampler 'ddim' only, not 'ddpm'"),
        (lambda: DDIMScheduler.from_config({"steps": 5}), ValueError, "steps applies to no sampler, not 'ddim'"),
    ],
)
def test_bad_settings_give_one_line_errors(make, error, message):
    with pytest.raises(error) as raised:
        make()
    assert str(raised.value) == message


def test_sample_refuses_eta_beside_a_scheduler_object(model):
    with pytest.raises(ValueError) as raised:
        model.sample(1, steps=2, sampler=DDIMScheduler(), eta=0.5)
    assert str(raised.value) == (
        "eta is a setting of the scheduler object: give DDIMScheduler(eta=...) as the sampler, not eta= beside it"
    )
    with pytest.raises(TypeError, match="sampler must be a name"):
        model.sample(1, steps=2, sampler=None)


def test_the_command_line_samples_a_zoo_entry_with_its_cards_best_settings(model, tmp_path, monkeypatch, capsys):
    import json

    from kerasgen import cli, zoo

    shipped = {figure.get("figure"): figure["value"] for figure in zoo.info("diffusion-mnist")["figures"]}
    best_eta = min((0.0, 1.0), key=lambda eta: shipped["ddim_50_steps_1000_samples" if eta == 0 else
                                                       "ddim_50_steps_eta_1_1000_samples"])
    assert zoo.info("diffusion-mnist")["sample_defaults"] == {"sampler": "ddim", "steps": 50, "eta": best_eta}

    card = zoo.publish(model, "tiny-diffusion", {"family": "diffusion", "dataset": "none", "metric": {}},
                       directory=tmp_path)
    card["sample_defaults"] = {"steps": 3, "eta": 1.0}
    zoo.write_card(card, tmp_path)
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(tmp_path))
    loaded = zoo.load("tiny-diffusion")
    # The card's eta is DDIM's: it does not follow the user to --sampler ddpm (which takes none).
    for argv, expected in (([], {"steps": 3, "eta": 1.0}), (["--eta", "0"], {"steps": 3, "eta": 0.0}),
                           (["--sampler", "ddpm"], {"steps": 3, "sampler": "ddpm"})):
        out = tmp_path / "grid.npz"
        assert cli.main(["sample", "tiny-diffusion", "-n", "2", "--seed", "0", "--out", str(out), *argv]) == 0
        np.testing.assert_array_equal(np.load(out)["images"],
                                      np.round(loaded.sample(2, seed=0, **expected) * 255).astype(np.uint8))
    assert json.loads((tmp_path / "tiny-diffusion.json").read_text())["sample_defaults"]["steps"] == 3
