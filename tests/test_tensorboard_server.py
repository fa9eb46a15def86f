"""The real TensorBoard server shows what `kerasgen train --logdir` wrote: losses, text samples, image grids,
the token embedding in the projector.

Two short trainings run as the command a user types; a ``tensorboard`` process on
127.0.0.1 then answers its HTTP data API, and the test reads everything back from there.
No browser takes part: the trainings and the servers run with no Chromium on PATH.
"""

import html
import importlib.util
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from conftest import TEXT
from helpers import tiny_lstm

import kerasgen as kg

pytest.importorskip("tensorboard")

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 2
PROMPT = "All:"
TEMPERATURES = {"lstm": ("0.5", "1.0"), "vae": ("0.7", "1.0")}  # training.py's defaults per kind of model
GRID_SIDE = 4 * (16 + 1) + 1  # 16 images of 16x16 in a 4x4 grid with 1-pixel lines


def _load_screenshot_script():
    path = REPO / "examples" / "tensorboard_screenshot.py"
    spec = importlib.util.spec_from_file_location("tensorboard_screenshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tb = _load_screenshot_script()  # serve(): start on a free port, wait until it answers, stop by PID
# PATH without the folders that hold a browser the screenshot script would use.
PATH_WITHOUT_BROWSERS = os.pathsep.join(
    folder for folder in os.environ.get("PATH", "").split(os.pathsep)
    if not any(os.path.exists(os.path.join(folder, name)) for name in tb.BROWSERS)
)


@pytest.fixture(autouse=True)
def no_browser(monkeypatch):
    """Every test here runs where the screenshot script finds no browser."""
    monkeypatch.setenv("PATH", PATH_WITHOUT_BROWSERS)
    monkeypatch.delenv(tb.BROWSER_VARIABLE, raising=False)
    with pytest.raises(SystemExit, match="Chromium not found"):
        tb.find_browser()


def _train_commands(tmp_path):
    """A char LSTM on a one-line text (so samples hold no line breaks) and a VAE on a folder of 16x16 images."""
    from PIL import Image

    text = tmp_path / "corpus.txt"
    text.write_text("First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. " * 20)
    folder = tmp_path / "images" / "gradients"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 16)
    for i in range(40):
        image = np.stack([np.outer(ramp, ramp), np.outer(ramp[::-1], ramp), np.full((16, 16), i / 40)], axis=-1)
        Image.fromarray(np.uint8(255 * np.clip(image * rng.uniform(0.5, 1), 0, 1))).save(folder / f"{i}.png")
    common = ["--epochs", str(EPOCHS), "--policy", "float32"]
    return {
        "lstm": ["lstm", "--text", str(text), "--level", "char", "--steps-per-epoch", "3", "--seq-len", "16",
                 "--batch-size", "4", "--units", "8", "--embedding-dim", "4", "--num-layers", "1", "--prompt", PROMPT,
                 *common],
        "vae": ["vae", "--data", str(tmp_path / "images"), "--batch-size", "8", "--latent-dim", "2", *common],
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both trainings in parallel, as real ``kerasgen train`` processes; returns (logdir, stdout per run)."""
    tmp_path = tmp_path_factory.mktemp("tensorboard")
    logdir = tmp_path / "logs"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": PATH_WITHOUT_BROWSERS}
    processes = {
        name: subprocess.Popen([sys.executable, "-m", "kerasgen", "train", *args, "--logdir", str(logdir / name)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for name, args in _train_commands(tmp_path).items()
    }
    outputs = {}
    try:
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, f"kerasgen train {name} failed:\n{stderr}"
            outputs[name] = stdout
    finally:
        for process in processes.values():
            process.kill()  # no-op once it has exited
            process.wait()
    return logdir, outputs


def _printed_losses(stdout, key):
    """Per-epoch ``key`` values from ProgressLog's end-of-epoch lines, ``epoch 2/2 done in 1 s: loss=3.43 ...``."""
    epochs = re.findall(r"^epoch \d+/\d+ done in \d+ s:(.*)$", stdout, flags=re.M)
    return [float(dict(pair.split("=") for pair in pairs.split())[key]) for pairs in epochs]


def _printed_samples(stdout):
    """{(epoch, temperature): text} from TemperatureSampler's stdout."""
    return {(int(e), t): s for e, t, s in re.findall(r"^--- epoch (\d+), temperature (\S+) ---\n(.*)$", stdout, re.M)}


def test_tensorboard_serves_losses_text_samples_and_image_grids(trained):
    logdir, stdout = trained
    with tb.serve(logdir) as url:
        def api(path, **query):
            return tb.get_json(f"{url}/data/{path}" + (f"?{urlencode(query)}" if query else ""))

        assert sorted(api("runs")) == ["lstm/projector"] + [f"{name}/{part}" for name in ("lstm", "vae")
                                                            for part in ("samples", "train", "validation")]

        # Loss scalars: one finite point per epoch (steps 0..EPOCHS-1), equal to what fit printed.
        for name in ("lstm", "vae"):
            for part, key in (("train", "loss"), ("validation", "val_loss")):
                assert "epoch_loss" in api("plugin/scalars/tags")[f"{name}/{part}"]
                points = api("plugin/scalars/scalars", run=f"{name}/{part}", tag="epoch_loss")
                assert [step for _, step, _ in points] == list(range(EPOCHS))
                values = [value for _, _, value in points]
                assert all(math.isfinite(v) for v in values), values
                printed = _printed_losses(stdout[name], key)
                assert len(printed) == EPOCHS, stdout[name]
                for value, shown in zip(values, printed):
                    assert abs(value - shown) <= 1e-4 * max(1.0, abs(shown)), (name, part, values, printed)

        # Text samples: every temperature, every epoch (at the steps of the epoch's scalars), the prompt's
        # continuation as printed during training (where epochs count from 1).
        assert api("plugin/text/tags") == {"lstm/samples": [f"temperature_{t}" for t in TEMPERATURES["lstm"]]}
        samples = _printed_samples(stdout["lstm"])
        for temperature in TEMPERATURES["lstm"]:
            entries = api("plugin/text/text", run="lstm/samples", tag=f"temperature_{temperature}")
            assert sorted(entry["step"] for entry in entries) == list(range(EPOCHS))
            for entry in entries:
                shown = html.unescape(re.sub(r"<[^>]+>", "", entry["text"])).strip("\n")
                assert shown.startswith(PROMPT) and len(shown) > len(PROMPT) + 20, entry
                assert shown == samples[(entry["step"] + 1, temperature)]

        # Image grids: PNGs of a 4x4 grid, pixel for pixel the ones saved under logdir/samples (named from epoch 1).
        from PIL import Image

        tags = api("plugin/images/tags")
        assert set(tags) == {"vae/samples"} and set(tags["vae/samples"]) == {
            f"temperature_{t}" for t in TEMPERATURES["vae"]}
        for temperature in TEMPERATURES["vae"]:
            entries = api("plugin/images/images", run="vae/samples", tag=f"temperature_{temperature}")
            assert sorted(entry["step"] for entry in entries) == list(range(EPOCHS))
            for entry in entries:
                png = tb.get(f"{url}/data/plugin/images/individualImage?{entry['query']}")
                assert png.startswith(b"\x89PNG\r\n\x1a\n")
                grid = Image.open(io.BytesIO(png))
                assert grid.size == (GRID_SIDE, GRID_SIDE) and grid.mode == "RGB"
                saved = Image.open(logdir / "vae" / "samples" / f"epoch{entry['step'] + 1:04d}_t{temperature}.png")
                np.testing.assert_array_equal(np.asarray(grid), np.asarray(saved))
    with pytest.raises(OSError):  # stopped: nothing answers on its port any more
        tb.get(f"{url}/data/runs", timeout=2)


def _projected_embeddings(url, run):
    info = tb.get_json(f"{url}/data/plugin/projector/info?{urlencode({'run': run})}")
    return {embedding["tensorName"]: embedding["tensorShape"] for embedding in info["embeddings"]}


def test_projector_shows_the_token_embedding_when_tensorboard_opens_the_logdir(tmp_path):
    model = tiny_lstm(TEXT)
    projector = kg.callbacks.EmbeddingProjector(str(tmp_path))
    projector.set_model(model)
    projector.on_train_end()
    with tb.serve(tmp_path) as url:
        assert tb.get_json(f"{url}/data/plugin/projector/runs") == ["projector"]
        assert _projected_embeddings(url, "projector") == {
            "embedding/.ATTRIBUTES/VARIABLE_VALUE": [model.tokenizer.vocab_size, 8]}
        tensor = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
        metadata = tb.get(f"{url}/data/plugin/projector/metadata?{urlencode({'run': 'projector', 'name': tensor})}")
        assert len(metadata.decode().splitlines()) == model.tokenizer.vocab_size


def test_projector_of_a_trained_run_shows_in_the_parent_logdir(trained):
    logdir, _ = trained
    with tb.serve(logdir) as url:
        assert tb.get_json(f"{url}/data/plugin/projector/runs") == ["lstm/projector"]
        [(_, (rows, width))] = _projected_embeddings(url, "lstm/projector").items()
        assert width == 4 and rows > 20  # --embedding-dim 4, one row per character of the corpus
