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


def run_on(backend, args, tmp_path, returncode=0):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           **BACKEND_ENV[backend]}
    result = subprocess.run([backend_python(backend), *args], env=env, capture_output=True, text=True,
                            timeout=1500, cwd=tmp_path)
    assert result.returncode == returncode, result.stdout[-6000:] + result.stderr[-3000:]
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
    ema = report["training"]["dcgan_ema"]  # the EMA generator copies, then averages, on this backend's own step
    assert ema["copied"] == 0 and ema["averaged"] < 1e-6 and ema["lag"] > 1e-4, ema
    r1 = report["training"]["dcgan_r1"]  # the R1 penalty and its gradient, through this backend's differentiation
    assert r1["penalty"] > 1e-6 and r1["penalty"] == pytest.approx(r1["estimate"], rel=2e-2), r1
    assert r1["step_difference"] > 1e-6, r1


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


# One small model per data kind, trained by ``kerasgen train`` on JAX where TensorFlow is not installed.
SMALL_RUNS = {
    "text": ["lstm", "--text", "corpus.txt", "--units", "8", "--embedding-dim", "4", "--num-layers", "1",
             "--seq-len", "16", "--batch-size", "4"],
    "images": ["vae", "--data", "pictures", "--latent-dim", "2", "--batch-size", "8"],  # a folder of 8x8 PNGs
    "points": ["realnvp", "--data", "moons", "--batch-size", "16"],
}


@pytest.mark.parametrize("kind", list(SMALL_RUNS))
def test_kerasgen_train_without_tensorflow_resumes_after_a_stop_and_logs_for_tensorboard(kind, tmp_path):
    from conftest import TEXT
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    backend_python("jax")
    (tmp_path / "corpus.txt").write_text(TEXT * 4)
    (tmp_path / "pictures").mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "pictures" / f"{i}.png")
    command = ["-m", "kerasgen", "train", *SMALL_RUNS[kind], "--epochs", "2", "--steps-per-epoch", "3",
               "--policy", "float32", "--logdir", "run", "--out", "model.keras"]

    stopped = run_on("jax", [*command, "--max-time", "1s"], tmp_path, returncode=75)  # 75: stopped, resumable
    finished = run_on("jax", command, tmp_path)

    assert "stopped after" in stopped.stdout and "epoch 1, step 1 of 3" in stopped.stdout, stopped.stdout
    assert "resuming at epoch 1, step 1 of 3" in finished.stdout, finished.stdout
    assert (tmp_path / "model.keras").exists()
    for run in ("train", "validation"):
        reader = EventAccumulator(str(tmp_path / "run" / run))
        reader.Reload()
        losses = reader.Scalars("epoch_loss")
        assert [scalar.step for scalar in losses] == [0, 1] and all(np.isfinite(s.value) for s in losses), run
