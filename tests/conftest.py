"""Shared test set-up: two logical CPUs for MirroredStrategy, the local data directory, float32 by default."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "KERASGEN_DATA_DIR" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["KERASGEN_DATA_DIR"] = str(_SHARED_DATA)

import keras  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "tensorflow":  # the contract tests also run on JAX (tests/test_backends.py)
    import tensorflow as tf

    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )


@pytest.fixture(autouse=True)
def float32_policy():
    keras.mixed_precision.set_dtype_policy("float32")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture
def data_dir():
    """The real data directory (KERASGEN_DATA_DIR); tests that need real data sets are skipped without it."""
    path = os.environ.get("KERASGEN_DATA_DIR")
    if not path or not Path(path).is_dir():
        pytest.skip("needs KERASGEN_DATA_DIR with the shared data sets")
    return Path(path)


TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n"
) * 8


@pytest.fixture
def text():
    return TEXT
