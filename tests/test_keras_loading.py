"""After ``import kerasgen``: plain Keras loads kerasgen's files, TensorFlow starts quietly, every module is reachable.

Each case runs in a fresh process, as a user's program does: what matters is what is (or is not) imported yet.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_lstm

import kerasgen as kg

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
TF_NOISE = ("oneDNN", "cuInit", "cuda", "absl::InitializeLog", "cpu_feature_guard")
PACKAGE_DIR = Path(kg.__file__).resolve().parent


def fresh_python(code, *args, log_level=None, python_args=("-c",)):
    """Run ``code`` in a new process; TF_CPP_MIN_LOG_LEVEL (conftest sets it) is removed, or set to ``log_level``."""
    env = {name: value for name, value in os.environ.items() if name != LOG_LEVEL_ENV}
    if log_level is not None:
        env[LOG_LEVEL_ENV] = log_level
    return subprocess.run([sys.executable, *python_args, code, *args], capture_output=True, text=True, timeout=300,
                          env=env)


def noise_in(stderr):
    return [fragment for fragment in TF_NOISE if fragment in stderr]


def file_config(path):
    return json.loads(zipfile.ZipFile(path).read("config.json"))


def registered_names(config):
    """Every kerasgen class a ``.keras`` config names: those keras must find registered to load the file."""
    if isinstance(config, dict):
        own = config.get("registered_name")
        found = {own} if isinstance(own, str) and own.startswith("kerasgen>") else set()
        return found.union(*map(registered_names, config.values()))
    if isinstance(config, list):
        return set().union(*map(registered_names, config))
    return set()


def public_modules_on_disk():
    """Modules and subpackages in the package directory, found without asking kerasgen."""
    names = [path.stem for path in PACKAGE_DIR.glob("*.py")]
    names += [path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py")]
    return sorted(name for name in names if not name.startswith("_"))


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A tiny VAE and a tiny LSTMGenerator saved with ``model.save``: path -> class name."""
    from conftest import TEXT

    folder = tmp_path_factory.mktemp("saved")
    vae = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=2)
    vae(np.zeros((1, 8, 8, 1), "float32"))
    vae.save(folder / "vae.keras")
    tiny_lstm(TEXT).save(folder / "lstm.keras")
    return {str(folder / "vae.keras"): "VAE", str(folder / "lstm.keras"): "LSTMGenerator"}


LOAD_EACH_FILE = """
import json, sys
classes = {}
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)
    classes[path] = [type(model).__module__, type(model).__name__]
print(json.dumps(classes))
"""


def check_loaded(result, expected):
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert {path: name for path, (_, name) in loaded.items()} == expected
    assert all(module.startswith("kerasgen.models") for module, _ in loaded.values()), loaded


def test_every_zoo_file_and_saved_model_loads_with_keras_imported_after_kerasgen(saved_models):
    zoo_files = sorted(str(path) for path in kg.zoo.zoo_dir().glob("*.keras"))
    assert len(zoo_files) >= 9
    expected = {path: file_config(path)["class_name"] for path in zoo_files} | saved_models

    result = fresh_python("import kerasgen, keras\n" + LOAD_EACH_FILE, *expected)

    check_loaded(result, expected)
    assert not noise_in(result.stderr), result.stderr[-3000:]  # keras brought TensorFlow in, after kerasgen


def test_keras_imported_before_kerasgen_and_tensorflow_prints_its_lines_without_kerasgen(saved_models):
    needed = sorted(set().union(*(registered_names(file_config(path)) for path in kg.zoo.zoo_dir().glob("*.keras"))))
    assert "kerasgen>VAE" in needed and "kerasgen>CharTokenizer" in needed
    script = textwrap.dedent(
        f"""
        import sys
        import tensorflow
        print("--- tensorflow imported", file=sys.stderr, flush=True)
        import keras, kerasgen
        missing = [name for name in {needed!r} if keras.saving.get_registered_object(name) is None]
        assert not missing, f"not registered: {{missing}}"
        """
    )

    result = fresh_python(script + LOAD_EACH_FILE, *saved_models)

    check_loaded(result, saved_models)
    plain_start = result.stderr.partition("--- tensorflow imported")[0]
    assert noise_in(plain_start), f"plain `import tensorflow` printed no start-up lines here: {plain_start!r}"


def test_what_the_program_writes_to_stderr_while_tensorflow_starts_is_kept():
    script = textwrap.dedent(
        """
        import os, sys, threading, time, warnings
        import kerasgen
        written, done = [], threading.Event()

        def write():  # the program's own output on file descriptor 2 all along TensorFlow's start
            while not done.is_set():
                os.write(2, f"program line {len(written)}\\n".encode())
                written.append(1)
                time.sleep(0.002)

        thread = threading.Thread(target=write)
        thread.start()
        import tensorflow
        done.set()
        thread.join()
        print("program says", file=sys.stderr, flush=True)
        print(len(written))
        """
    )

    result = fresh_python(script)

    assert result.returncode == 0, result.stderr[-3000:]
    count = int(result.stdout.split()[-1])
    lines = result.stderr.splitlines()
    assert count > 20  # the thread wrote all through the import
    assert [line for line in lines if line.startswith("program line")] == [f"program line {i}" for i in range(count)]
    assert lines[-1] == "program says"
    assert not noise_in(result.stderr), result.stderr[-3000:]


def test_a_log_level_set_by_the_user_leaves_tensorflow_as_it_is():
    code = f"import os, kerasgen\nimport kerasgen.models\nprint(os.environ[{LOG_LEVEL_ENV!r}])"

    result = fresh_python(code, log_level="0")

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["0"]
    assert noise_in(result.stderr), result.stderr[-3000:]


def test_every_module_imports_first_in_a_fresh_process_quietly_and_registers_kerasgen():
    # ``import kerasgen.models.vae`` runs kerasgen/models/__init__.py first, which imports every model module: the
    # import order of a subpackage's modules is that of the subpackage, so the subpackages stand for them.
    template = textwrap.dedent(
        """
        import sys
        import kerasgen.{name}
        keras = sys.modules.get("keras")
        assert keras is None or keras.saving.get_registered_object("kerasgen>VAE") is not None, "VAE not registered"
        """
    )
    names = public_modules_on_disk()
    assert {"images", "models", "layers", "startup", "saving", "training", "toy_data", "cli"} <= set(names)

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        results = dict(zip(names, pool.map(lambda name: fresh_python(template.format(name=name)), names)))

    failed = {name: result.stderr[-1500:] for name, result in results.items() if result.returncode != 0}
    assert not failed, failed
    noisy = {name: noise_in(result.stderr) for name, result in results.items() if noise_in(result.stderr)}
    assert not noisy, noisy


def test_import_kerasgen_alone_stays_light():
    result = fresh_python("import sys, kerasgen\nprint(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

    for args in (["zoo", "list"], ["--help"]):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run = fresh_python("kerasgen", *args, python_args=("-m",))
            times.append(time.perf_counter() - start)
            assert run.returncode == 0, run.stderr
        assert min(times) < 1.0, (args, times)


def test_every_module_is_an_attribute_listed_by_dir():
    names = public_modules_on_disk()
    assert "images" in names
    for name in names:
        assert getattr(kg, name).__name__ == f"kerasgen.{name}"
        assert name in dir(kg)
    with pytest.raises(AttributeError, match="no_such_module"):
        kg.no_such_module
