"""kerasgen without TensorFlow: on JAX and on PyTorch the zoo loads, agrees with TensorFlow and generates, small
models train, and every family passes the contract (tests/contract.py).

Each backend runs in a Python without TensorFlow, named by ``KERASGEN_JAX_PYTHON`` (keras, jax, numpy, pillow,
pytest) and ``KERASGEN_TORCH_PYTHON`` (the same with torch); ``.ci/run`` makes both. kerasgen itself comes from
this checkout.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasgen import families, zoo

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # float32 outputs, relative to max(1, |value|)
BACKENDS = ["jax", "torch"]
# The contract's data-parallel step on JAX runs over two XLA host devices.
BACKEND_ENV = {"jax": {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, "torch": {}}


@pytest.fixture(autouse=True)
def checkout_zoo(monkeypatch):
    monkeypatch.setenv(zoo.ZOO_DIR_ENV, str(ROOT / "zoo"))


def backend_python(backend):
    variable = f"KERASGEN_{backend.upper()}_PYTHON"
    python = os.environ.get(variable)
    if not python:
        pytest.skip(f"{variable} names no Python with keras and {backend} (.ci/run makes one)")
    return python


def run_on(backend, args, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           **BACKEND_ENV[backend]}
    result = subprocess.run([backend_python(backend), *args], env=env, capture_output=True, text=True,
                            timeout=1500, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_zoo_runs_without_tensorflow_and_agrees_with_it(backend, tmp_path):
    backend_python(backend)
    reference = {}
    for name in zoo.names():
        outputs = families.forward_outputs(zoo.info(name)["family"], zoo.load(name))
        reference.update({f"{name}/{key}": value for key, value in outputs.items()})
    np.savez(tmp_path / "reference.npz", **reference)
    run_on(backend, [str(ROOT / "tests" / "backend_check.py"), str(tmp_path / "reference.npz"),
                     str(tmp_path / "report.json")], tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    print(json.dumps(report, indent=1))
    assert report["backend"] == backend and not report["tensorflow_imported"]
    assert set(report["entries"]) == set(zoo.names())
    for name, entry in report["entries"].items():
        assert entry["relative_difference"] < TOLERANCE, (name, entry)
        assert entry["generated"], name
    trained = report["training"]["classifier"]
    assert trained["last_loss"] < 0.6 * trained["first_loss"] and trained["accuracy"] > 0.9, trained
    gan = report["training"]["dcgan"]
    assert gan["last_loss"] < gan["first_loss"] and gan["steps"] == [48, 48] == gan["reloaded_steps"], gan
    assert gan["reloaded_sample_equal"], gan


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_family_passes_the_contract(backend, tmp_path):
    result = run_on(backend, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
                              str(ROOT / "tests" / "test_contract.py")], tmp_path)
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary


def test_the_tensorflow_backend_loads_neither_jax_nor_torch():
    import keras

    assert keras.backend.backend() == "tensorflow"
    code = "import kerasgen.backend as b, sys; print(b.name(), 'jax' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    assert out == ["tensorflow", "False", "False"]
