"""The kerasgen command: usage errors are one line with exit status 2; commands do their job."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_usage_error, tiny_lstm

from kerasgen import cli

REPO = Path(__file__).resolve().parents[1]
TF_NOISE = ("oneDNN", "cuda", "cuInit", "absl::InitializeLog", "cpu_feature_guard")


def run(*args, env=None, cwd=None):
    """The real command in a new process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "kerasgen", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from conftest import TEXT

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_lstm(TEXT, fit_steps=3).save(path)
    return path


@pytest.fixture
def text_file(tmp_path, text):
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    return path


def test_bad_text_file_and_wrong_model_kind(capsys, tmp_path, model_file):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_usage_error(capsys, ["train", "lstm", "--text", str(empty)], "is empty")
    binary = tmp_path / "latin1.txt"
    binary.write_bytes(b"caf\xe9 au lait\n")
    assert_usage_error(capsys, ["train", "lstm", "--text", str(binary)], "is not UTF-8")
    assert_usage_error(capsys, ["sample", str(model_file), "-n", "4", "--out", str(tmp_path / "g.png")], "not an image model")


def test_generate_prints_prompt_and_continuation_reproducibly(model_file):
    first = run("generate", str(model_file), "--prompt", "All:", "--max-new-tokens", "40", "--seed", "1")
    again = run("generate", str(model_file), "--prompt", "All:", "--max-new-tokens", "40", "--seed", "1")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("All:") and len(first.stdout.rstrip("\n")) == len("All:") + 40
    assert first.stdout == again.stdout
    assert not any(noise in first.stderr for noise in TF_NOISE), first.stderr


def test_process_level_usage_error_has_no_traceback_or_tensorflow_noise():
    result = run("generate", "missing.keras", "--prompt", "x")
    assert result.returncode == 2
    assert result.stderr == "kerasgen: error: model file missing.keras does not exist\n"


def test_installed_command_lists_the_shipped_zoo_outside_the_repository(tmp_path):
    """After a non-editable ``pip install .`` the console script finds the zoo in site-packages."""
    script = Path(sys.executable).parent / "kerasgen"
    if not script.exists():
        pytest.skip("kerasgen is not installed in this environment (run the README's test command)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERASGEN_ZOO_DIR")}
    result = subprocess.run([str(script), "zoo", "list"], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    shipped = sorted(json.loads(p.read_text())["name"] for p in (REPO / "zoo").glob("*.json"))
    if shipped:
        listed = sorted(line.split()[0] for line in result.stdout.splitlines()[1:])
        assert listed == shipped, result.stdout
    else:
        assert "the zoo is empty" in result.stdout and "site-packages" in result.stdout, result.stdout


def test_train_then_generate_from_the_saved_model(text_file, tmp_path, capsys):
    out = tmp_path / "trained.keras"
    argv = ["train", "lstm", "--text", str(text_file), "--epochs", "1", "--steps-per-epoch", "2", "--seq-len", "16",
            "--batch-size", "4", "--units", "8", "--embedding-dim", "4", "--num-layers", "1", "--policy", "float32",
            "--logdir", str(tmp_path / "logs"), "--out", str(out)]
    assert cli.main(argv) == 0
    assert out.exists() and f"saved {out}" in capsys.readouterr().out
    assert cli.main(["generate", str(out), "--prompt", "All:", "--max-new-tokens", "10", "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("All:")


def test_an_internal_error_shows_its_traceback_and_exits_1(tmp_path):
    """A user's mistake is told by its type (``KerasgenError``, an OS error); anything else, even a ValueError raised
    on purpose deep inside, is a bug and is not dressed up as a usage error."""
    code = ("import sys, kerasgen.cli as cli\n"
            "from kerasgen.checks import InvalidArgument\n"
            "def broken(args):\n    return {}['missing']\n"
            "def internal(args):\n    raise ValueError('shapes (3,) and (4,) do not match')\n"
            "def refused(args):\n    raise InvalidArgument('that file is not a model')\n"
            "cli.COMMANDS['eval'], cli.COMMANDS['generate'], cli.COMMANDS['neighbors'] = broken, internal, refused\n"
            "sys.exit(cli.main(sys.argv[1:]))")
    script = tmp_path / "patched_cli.py"  # a file, so tracebacks show source lines
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).resolve().parents[1])}  # this checkout's kerasgen
    for argv, message in ((["eval", "x"], "KeyError: 'missing'"),
                          (["generate", "x"], "ValueError: shapes (3,) and (4,) do not match")):
        bug = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120,
                             env=env)
        assert bug.returncode == 1 and "Traceback" in bug.stderr and message in bug.stderr, bug.stderr
        assert "kerasgen: error" not in bug.stderr
    refused = subprocess.run([sys.executable, str(script), "neighbors", "x", "--word", "a"], capture_output=True,
                             text=True, timeout=120, env=env)
    assert refused.returncode == 2 and refused.stderr == "kerasgen: error: that file is not a model\n"


def test_eval_of_a_trained_model_file_gives_its_familys_figure_on_the_data_it_names(text_file, tmp_path, capsys):
    import math

    from kerasgen import data, metrics, zoo

    text_file.write_text(text_file.read_text() * 4)  # a validation split longer than one window of 256
    out = tmp_path / "mine.keras"
    assert cli.main(["train", "lstm", "--text", str(text_file), "--epochs", "1", "--steps-per-epoch", "2",
                     "--seq-len", "8", "--batch-size", "4", "--embedding-dim", "4", "--units", "8",
                     "--num-layers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    expected = metrics.text_nll(zoo.load_model(out), data.load_text(str(text_file), "validation"))
    assert cli.main(["eval", str(out), "--data", str(text_file), "--figure", "all"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        f"{out}: validation loss (nats/token) = {expected:.4f} (lstm on {text_file})",
        f"{out}: validation perplexity = {math.exp(expected):.4f} (lstm on {text_file})",
    ]
    assert_usage_error(capsys, ["eval", str(out), "--data", str(text_file), "--figure", "bits_per_dim"],
                       "a lstm model has no figure 'bits_per_dim' (its figures: text_nll, perplexity)")
    assert_usage_error(capsys, ["eval", "mnist-classifier", "--data", "fashion_mnist"], "--data applies to a .keras")
