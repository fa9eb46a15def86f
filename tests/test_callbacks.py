"""TemperatureSampler for text and images, MixedPrecisionMonitor counting overflow steps."""

import keras
import numpy as np
import pytest
from helpers import tfevents_records, tiny_lstm

import kerasgen as kg
from kerasgen.models.base import ImageGenerator


class GradientImages(ImageGenerator, keras.Model):
    """A stand-in image model: temperature-scaled noise around a gradient, in [0, 1]."""

    image_shape = (8, 6, 1)

    def sample(self, n, temperature=1.0, seed=None):
        rng = np.random.default_rng(seed)
        base = np.linspace(0, 1, 8 * 6, dtype=np.float32).reshape(1, 8, 6, 1)
        return np.clip(base + temperature * 0.1 * rng.standard_normal((n, 8, 6, 1)), 0, 1).astype(np.float32)


def test_text_samples_per_temperature_reach_tensorboard_and_stdout(text, tmp_path, capsys):
    model = tiny_lstm(text)
    sampler = kg.callbacks.TemperatureSampler(
        temperatures=(0.5, 1.0), log_dir=str(tmp_path), prompt="All:", max_new_tokens=30, every=2
    )
    sampler.set_model(model)
    for epoch in range(4):
        sampler.on_epoch_end(epoch)
    records = [r for r in tfevents_records(tmp_path) if r[2] == "text"]
    # Epochs 2 and 4 at steps 1 and 3: keras's TensorBoard logs epoch scalars at the 0-based epoch too.
    assert sorted((tag, step) for tag, step, _, _ in records) == [
        ("temperature_0.5", 1), ("temperature_0.5", 3), ("temperature_1.0", 1), ("temperature_1.0", 3),
    ]
    expected = model.generate("All:", max_new_tokens=30, temperature=0.5, seed=0)
    logged = [value for tag, step, _, value in records if tag == "temperature_0.5" and step == 1][0]
    assert logged.item().decode() == "    " + expected.replace("\n", "\n    ")
    out = capsys.readouterr().out
    assert f"--- epoch 2, temperature 0.5 ---\n{expected}\n" in out  # printed for people: epochs count from 1


def test_image_grids_per_temperature_reach_tensorboard_and_png(tmp_path):
    model = GradientImages()
    sampler = kg.callbacks.TemperatureSampler(temperatures=(0.0, 1.0), log_dir=str(tmp_path), num_images=6)
    sampler.set_model(model)
    sampler.on_epoch_end(0)
    images = [r for r in tfevents_records(tmp_path) if r[2] == "images"]
    assert sorted((tag, step) for tag, step, *_ in images) == [("temperature_0.0", 0), ("temperature_1.0", 0)]
    pngs = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert pngs == ["epoch0001_t0.0.png", "epoch0001_t1.0.png"]
    from PIL import Image

    grid = np.asarray(Image.open(tmp_path / "samples" / "epoch0001_t0.0.png"))
    expected = kg.images.image_grid(model.sample(6, temperature=0.0, seed=0))[..., 0]
    np.testing.assert_array_equal(grid, expected)


def test_temperature_sampler_rejects_models_without_a_protocol():
    sampler = kg.callbacks.TemperatureSampler()
    sampler.set_model(keras.Sequential([keras.layers.Dense(1)]))
    with pytest.raises(TypeError, match="text or image model"):
        sampler.on_epoch_end(0)


@pytest.mark.parametrize("temperatures, expected", [(0, (0.0,)), (0.7, (0.7,)), (np.float32(1), (1.0,)),
                                                    ([0.5, 1], (0.5, 1.0))])
def test_temperature_sampler_takes_one_number_or_several(temperatures, expected):
    assert kg.callbacks.TemperatureSampler(temperatures=temperatures).temperatures == expected


@pytest.mark.parametrize("temperatures, error", [
    ((), ValueError), ((-1.0,), ValueError), ((float("nan"),), ValueError), (-1, ValueError),
    (float("inf"), ValueError), ("0.5", TypeError), (True, TypeError), ((0.5, None), TypeError), (None, TypeError),
])
def test_temperature_sampler_rejects_bad_temperatures(temperatures, error):
    with pytest.raises(error, match="^temperatures must be [^\n]*$"):
        kg.callbacks.TemperatureSampler(temperatures=temperatures)


def test_mixed_precision_monitor_counts_overflow_steps(tmp_path):
    kg.precision.set_policy("mixed_float16")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1), keras.layers.Activation("linear", dtype="float32")]
    )
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # Two batches whose float16-scaled gradients overflow, then two ordinary ones.
    x = np.concatenate([np.full((2, 4), 3e4), np.ones((2, 4))]).astype(np.float32)
    y = np.concatenate([np.full((2, 1), -3e4), np.ones((2, 1))]).astype(np.float32)
    monitor = kg.callbacks.MixedPrecisionMonitor(log_dir=str(tmp_path))
    history = model.fit(x, y, batch_size=1, epochs=1, shuffle=False, callbacks=[monitor], verbose=0)
    skipped = history.history["skipped_steps"][-1]
    assert 1 <= skipped <= 4
    assert int(model.optimizer.iterations) == 4 - skipped
    assert history.history["loss_scale"][-1] == 32768.0 / 2**skipped
    steps = {tag: step for tag, step, _, _ in tfevents_records(tmp_path)}
    assert steps == {"loss_scale": 0, "skipped_steps": 0}  # the first epoch, at keras's epoch-scalar step
