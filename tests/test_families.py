"""A new model family declared in this file alone runs through training, sampling, evaluation and the command line.

The family is a diagonal Gaussian density of 2-D points: the smallest model with a likelihood and a sampler.
Nothing in kerasgen names it; everything it gets, it gets from its ``families.Family`` description.
"""

import math
import re

import keras
import numpy as np
import pytest

import kerasgen as kg
from kerasgen import cli, evaluation, families
from kerasgen.models.base import DensityModel, PointGenerator


@keras.saving.register_keras_serializable(package="kerasgen_tests")
class DiagonalGaussian(PointGenerator, DensityModel, keras.Model):
    """A Gaussian with a learned mean and per-dimension scale; trained by maximum likelihood."""

    def __init__(self, input_shape=(2,), scale_floor=1e-3, initial_log_scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.point_shape = tuple(int(d) for d in input_shape)
        self.scale_floor = float(scale_floor)
        self.initial_log_scale = float(initial_log_scale)  # far from the data's, so training has work to do

    def build(self, input_shape=None):
        self.mean = self.add_weight(shape=self.point_shape, initializer="zeros", name="mean")
        self.log_scale = self.add_weight(shape=self.point_shape, name="log_scale",
                                         initializer=keras.initializers.Constant(self.initial_log_scale))

    def scale(self):
        return keras.ops.exp(self.log_scale) + self.scale_floor

    def log_prob(self, points):
        z = (keras.ops.convert_to_tensor(points, "float32") - self.mean) / self.scale()
        terms = -0.5 * z**2 - keras.ops.log(self.scale()) - 0.5 * math.log(2 * math.pi)
        return keras.ops.sum(terms, axis=-1)

    def call(self, points):
        return self.log_prob(points)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return -keras.ops.mean(self.log_prob(x))

    def sample(self, n, temperature=1.0, seed=None):
        noise = np.random.default_rng(seed).standard_normal((n, *self.point_shape)).astype(np.float32)
        mean, scale = (keras.ops.convert_to_numpy(v) for v in (self.mean, self.scale()))
        return (mean + temperature * scale * noise).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "input_shape": self.point_shape, "scale_floor": self.scale_floor,
                "initial_log_scale": self.initial_log_scale}


GAUSSIAN = families.Family(
    "gaussian", families.POINTS, lambda shape, **options: DiagonalGaussian(input_shape=shape, **options), "moons",
    options=(families.Option("scale_floor", float, "smallest standard deviation"),),
    description="diagonal Gaussian density (a test family)",
)


@pytest.fixture
def gaussian_family():
    families.register(GAUSSIAN)
    yield GAUSSIAN
    families.unregister(GAUSSIAN.name)


def test_a_family_declared_here_trains_samples_and_evaluates(gaussian_family, tmp_path):
    from kerasgen.toy_data import moons

    model, history = kg.training.train("gaussian", epochs=4, steps_per_epoch=40, learning_rate=0.05,
                                       policy="float32", verbose=0, logdir=str(tmp_path / "run"))
    assert isinstance(model, DiagonalGaussian)
    train = moons("train")
    best = float(np.sum(0.5 * np.log(2 * np.pi * np.e * train.var(0))))  # the NLL of the fitted Gaussian
    losses = history.history["loss"]
    assert losses[0] > best + 1 and abs(history.history["val_loss"][-1] - best) < 0.05, (losses, best)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.mean), train.mean(0), atol=0.1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.scale()), train.std(0), rtol=0.1)

    points = model.sample(4000, seed=0)
    assert points.shape == (4000, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points.mean(0), keras.ops.convert_to_numpy(model.mean), atol=0.1)

    validation = moons("validation")
    nll = evaluation.evaluate(model, "point_nll", dataset="moons", split="validation")
    assert nll == pytest.approx(-float(np.mean(keras.ops.convert_to_numpy(model.log_prob(validation)))), rel=1e-6)
    assert "val_loss" in history.history and history.history["val_loss"][-1] == pytest.approx(nll, rel=1e-3)


def test_the_command_line_trains_samples_and_evaluates_the_new_family(gaussian_family, tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "gaussian.keras"
    argv = ["train", "gaussian", "--epochs", "2", "--steps-per-epoch", "20", "--learning-rate", "0.05",
            "--scale-floor", "0.01", "--policy", "float32", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "training on moons, the default data set" in printed and f"saved {out}" in printed
    model = kg.zoo.load_model(out)
    assert isinstance(model, DiagonalGaussian) and model.scale_floor == 0.01

    assert cli.main(["sample", str(out), "-n", "200", "--seed", "1", "--out", str(tmp_path / "points.npz")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "points.npz")["points"], model.sample(200, seed=1))

    zoo_dir = tmp_path / "zoo"
    metric = {"key": "point_nll", "name": "validation NLL (nats per point)",
              "args": {"dataset": "moons", "split": "validation"}}
    card = kg.zoo.publish(model, "gaussian-moons", {"family": "gaussian", "dataset": "moons", "metric": metric},
                          directory=zoo_dir)
    card["metric"]["value"] = round(evaluation.measure(model, metric), 4)
    kg.zoo.write_card(card, zoo_dir)
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(zoo_dir))
    capsys.readouterr()
    assert cli.main(["eval", "gaussian-moons"]) == 0
    assert re.search(rf"card: {card['metric']['value']}; difference [+-]0.00%", capsys.readouterr().out)

    assert cli.main(["train", "gaussian", "--latent-dim", "3"]) == 2
    assert "--latent-dim applies to vae, dcgan, not to gaussian" in capsys.readouterr().err
    assert cli.main(["train", "vae", "--scale-floor", "0.1"]) == 2
    assert "--scale-floor applies to gaussian, not to vae" in capsys.readouterr().err
    assert cli.main(["train", "gaussian", "--data", "mnist"]) == 2
    assert "the gaussian family does not model" in capsys.readouterr().err


def test_family_descriptions_are_the_only_place_that_names_families():
    import re
    from pathlib import Path

    package = Path(kg.__file__).parent
    offenders = [f"{path.relative_to(package)}:{number}" for path in sorted(package.rglob("*.py"))
                 if path.name != "families.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"family (==|!=|in \()", line)]
    assert offenders == []
    with pytest.raises(ValueError, match="unknown model family 'gan': use one of lstm, gpt"):
        families.get("gan")
