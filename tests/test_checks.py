"""kerasgen.checks, the data transforms' new home, ``held_optimizers`` and models' untracked state."""

import ast
import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasgen as kg
from kerasgen.checks import check_image_shape, check_images, check_positive_int, check_real
from kerasgen.models.optimizers import held_optimizers

PACKAGE = Path(kg.__file__).parent
TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 6


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        ((0.5, "p", 0, 1), {}, 0.5),
        ((0, "p", 0, 1), {}, 0.0),
        ((1, "p", 0, 1), {}, 1.0),
        ((np.float32(0.25), "p", 0, 1), {}, 0.25),
        ((3, "x"), {}, 3.0),
        ((-7.5, "x", None, 0), {}, -7.5),
    ],
)
def test_check_real_returns_a_float_within_its_bounds(args, kwargs, expected):
    value = check_real(*args, **kwargs)
    assert value == expected and type(value) is float


@pytest.mark.parametrize(
    "value, bounds, message",
    [
        (0, dict(minimum=0, maximum=1, open_below=True), "p must be a number in (0, 1], got 0"),
        (1, dict(minimum=0, maximum=1, open_above=True), "p must be a number in [0, 1), got 1"),
        (0.5, dict(minimum=0, maximum=0.5, open_below=True, open_above=True),
         "p must be a number in (0, 0.5), got 0.5"),
        (-1, dict(minimum=0), "p must be a finite number >= 0, got -1"),
        (0.0, dict(minimum=0, open_below=True), "p must be a finite number > 0, got 0.0"),
        (2, dict(maximum=1), "p must be a finite number <= 1, got 2"),
        (math.inf, dict(minimum=0), "p must be a finite number >= 0, got inf"),
        (math.nan, dict(minimum=0, maximum=1), "p must be a number in [0, 1], got nan"),
        (-math.inf, {}, "p must be a finite number, got -inf"),
        (5, dict(minimum=0, maximum=1, note=" (0 means off)"), "p must be a number in [0, 1] (0 means off), got 5"),
    ],
)
def test_check_real_refuses_values_out_of_range_in_one_line(value, bounds, message):
    with pytest.raises(ValueError) as error:
        check_real(value, "p", **bounds)
    assert str(error.value) == message


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5], np.array([0.5]), 1j])
def test_check_real_refuses_what_is_not_a_real_number(value):
    with pytest.raises(TypeError, match=f"^p must be a number, got {type(value).__name__}$"):
        check_real(value, "p", 0, 1)


def test_check_positive_int_keeps_its_old_import_path_and_behaviour():
    from kerasgen.models.base import check_positive_int as old_home

    assert old_home is check_positive_int
    assert check_positive_int(np.int64(3), "n") == 3 and check_positive_int(0, "n", 0) == 0
    with pytest.raises(TypeError, match="^n must be an int, got bool$"):
        check_positive_int(True, "n")
    with pytest.raises(ValueError, match=r"^n must be in \[1, 4\], got 5$"):
        check_positive_int(5, "n", 1, 4)


def test_check_image_shape():
    assert check_image_shape([28, 28, 1], multiple=4) == (28, 28, 1)
    with pytest.raises(ValueError, match=r"divisible by 4, got \(30, 28, 1\)"):
        check_image_shape((30, 28, 1), multiple=4)
    with pytest.raises(ValueError, match=r"^image_shape must be \(H, W, C\), got \(28, 28\)$"):
        check_image_shape((28, 28))
    with pytest.raises(TypeError, match="image_shape must be an int, got float"):  # 28.5 is never rounded silently
        check_image_shape((28.5, 28, 1))
    with pytest.raises(ValueError, match="image_shape must be >= 1, got 0"):
        check_image_shape((28, 28, 0))


def test_check_images():
    images = check_images(np.full((2, 4, 4, 1), 0.5, np.float64), (4, 4, 1))
    assert images.dtype == np.float32 and images.shape == (2, 4, 4, 1)
    with pytest.raises(TypeError, match="got uint8 \\(divide by 255\\)"):
        check_images(np.zeros((2, 4, 4, 1), np.uint8), (4, 4, 1))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4, 4, 1\), got \(2, 4, 4, 3\)"):
        check_images(np.zeros((2, 4, 4, 3)), (4, 4, 1), "x")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        check_images(np.full((1, 4, 4, 1), np.nan), (4, 4, 1))


def test_checks_imports_no_other_kerasgen_module_and_no_tensorflow():
    code = (
        "import sys, kerasgen.checks; "
        "print(sorted(m for m in sys.modules if m.startswith(('kerasgen', 'tensorflow', 'keras'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['kerasgen', 'kerasgen.checks', 'kerasgen.startup']"


@pytest.mark.parametrize("module", ["data.py", "toy_data.py", "checks.py"])
def test_lower_modules_import_nothing_from_the_models(module):
    """Imports anywhere in the file (inside functions too), read from the source: data never depends on models."""
    tree = ast.parse((PACKAGE / module).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name and name.startswith("kerasgen.models")]


def test_data_transforms_live_in_data_and_keep_their_old_import_paths():
    from kerasgen.models.realnvp import dequantize as realnvp_dequantize
    from kerasgen.models.vae import binarize as vae_binarize
    from kerasgen.models.vae import check_images as vae_check_images

    assert vae_binarize is kg.data.binarize and realnvp_dequantize is kg.data.dequantize
    assert vae_check_images is check_images
    images = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8, 1)
    binary = kg.data.binarize(images, seed=3)
    np.testing.assert_array_equal(binary, kg.data.binarize(images, seed=3))
    assert set(np.unique(binary)) <= {0.0, 1.0} and binary[0, 0, 0, 0] == 0 and binary[0, -1, -1, 0] == 1
    pixels = np.arange(64, dtype=np.uint8).reshape(1, 8, 8, 1)
    continuous = kg.data.dequantize(pixels, seed=0)
    assert np.all(np.floor(continuous * 256) == pixels)


def test_held_optimizers_of_a_gan_and_of_a_text_model():
    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
    d_optimizer, g_optimizer = keras.optimizers.Adam(), keras.optimizers.SGD()
    gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer)
    assert gan.optimizer is None
    held = held_optimizers(gan)
    assert list(held) == ["d_optimizer", "g_optimizer"] and [id(o) for o in held.values()] == [id(d_optimizer), id(g_optimizer)]

    lm = kg.models.LSTMGenerator(kg.text.CharTokenizer.from_text(TEXT), embedding_dim=4, units=8, num_layers=1)
    assert held_optimizers(lm) == {}
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    lm.compile(optimizer=scaled)
    lm.also_held = scaled  # the same optimizer under a second name is listed once
    lm.extra_optimizer = keras.optimizers.RMSprop()
    held = held_optimizers(lm)
    assert list(held) == ["optimizer", "extra_optimizer"] and held["optimizer"] is scaled
    assert held["extra_optimizer"] is lm.extra_optimizer


def test_carried_state_and_generation_loops_stay_out_of_the_weights(tmp_path):
    tokenizer = kg.text.CharTokenizer.from_text(TEXT)
    model = kg.models.LSTMGenerator(tokenizer, embedding_dim=4, units=8, num_layers=2)
    model.compile(optimizer="adam")
    streams = kg.data.text_streams(TEXT, tokenizer, seq_len=8, batch_size=4).take(3)
    model.fit(streams.take(1), verbose=0, shuffle=False)
    weights, variables = [v.path for v in model.weights], [v.path for v in model.variables]
    assert model.untracked.carried_state is None and model.untracked.generation_loops == {}

    model.carry_state(4)
    model.fit(streams, epochs=1, verbose=0, shuffle=False)
    model.generate("To", max_new_tokens=3, seed=0)
    state = model.untracked.carried_state
    assert len(state) == 2 and state[0][0].shape == (4, 8) and np.abs(state[-1][0].numpy()).max() > 0
    assert len(model.untracked.generation_loops) == 1
    assert [v.path for v in model.weights] == weights and [v.path for v in model.variables] == variables
    carried = {id(v) for pair in state for v in pair}
    assert not carried & {id(v) for v in model.variables}

    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.untracked.carried_state is None and [v.path for v in loaded.weights] == weights
    model.reset_carried_state()
    assert np.abs(state[-1][0].numpy()).max() == 0
    model.carry_state(None)
    assert model.untracked.carried_state is None
