"""Zoo machinery on a temporary zoo: publish, list, info, load, checksum, close names."""

import json

import numpy as np
import pytest
from helpers import tiny_lstm

import kerasgen as kg


@pytest.fixture
def zoo_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(tmp_path / "zoo"))
    return tmp_path / "zoo"


@pytest.fixture
def published(zoo_dir, text, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    model = tiny_lstm(text, fit_steps=2)
    metric = {"key": "text_nll", "name": "validation nats/char", "args": {"dataset": str(corpus), "split": "validation", "seq_len": 32}}
    value = kg.evaluation.evaluate(model, metric["key"], **metric["args"])
    card = kg.zoo.publish(
        model, "tiny-char-lstm", {"family": "lstm", "dataset": "test text", "metric": {**metric, "value": value},
                                  "command": "pytest", "training_time": "1 s", "hardware": "CPU"},
    )
    return model, card


def test_publish_writes_card_with_checksum_and_parameters(published, zoo_dir):
    model, card = published
    on_disk = json.loads((zoo_dir / "tiny-char-lstm.json").read_text())
    assert on_disk == card
    assert card["sha256"] == kg.zoo.sha256(zoo_dir / card["file"])
    assert card["parameters"] == model.count_params()
    assert sorted(p.name for p in zoo_dir.iterdir()) == ["tiny-char-lstm.json", "tiny-char-lstm.keras"]


def test_published_files_hold_weights_without_optimizer_state(published, zoo_dir, tmp_path):
    model, card = published
    assert model.optimizer is not None and model.optimizer.iterations > 0  # trained in float32: no copy needed
    model.save(tmp_path / "with_optimizer.keras")
    shipped = kg.zoo.load("tiny-char-lstm")
    assert getattr(shipped, "optimizer", None) is None
    assert (zoo_dir / card["file"]).stat().st_size < 0.6 * (tmp_path / "with_optimizer.keras").stat().st_size
    np.testing.assert_array_equal(shipped(np.arange(8)[None] % 5), model(np.arange(8)[None] % 5))


def test_list_info_and_load_round_trip(published):
    model, card = published
    [entry] = kg.zoo.list()
    assert entry["name"] == "tiny-char-lstm" and entry["size"] > 0
    assert kg.zoo.info("tiny-char-lstm") == card
    loaded = kg.zoo.load("tiny-char-lstm")
    x = model.tokenizer.encode("First Citizen")[None]
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)
    assert loaded.generate("All:", 20, seed=3) == model.generate("All:", 20, seed=3)


def test_evaluate_reproduces_card(published):
    expected, measured = kg.evaluation.evaluate_entry("tiny-char-lstm")
    assert measured == pytest.approx(expected, rel=1e-6)


def test_changed_byte_is_a_checksum_error_naming_the_file(published, zoo_dir):
    path = zoo_dir / "tiny-char-lstm.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(kg.zoo.ChecksumError, match="tiny-char-lstm.keras"):
        kg.zoo.load("tiny-char-lstm")


def test_unknown_name_lists_closest(published):
    with pytest.raises(KeyError, match="did you mean tiny-char-lstm"):
        kg.zoo.info("tiny-char-lstn")
    with pytest.raises(KeyError, match="unknown zoo model"):
        kg.zoo.load("completely-different")


def test_missing_file_is_named(published, zoo_dir):
    (zoo_dir / "tiny-char-lstm.keras").unlink()
    with pytest.raises(FileNotFoundError, match="tiny-char-lstm.keras"):
        kg.zoo.load("tiny-char-lstm")


def test_publish_stores_float32_layers_after_mixed_precision_training(zoo_dir, text):
    kg.precision.set_policy("mixed_bfloat16")
    model = tiny_lstm(text, fit_steps=1)
    kg.precision.set_policy("float32")
    kg.zoo.publish(model, "bf16-trained", {"family": "lstm", "dataset": "t", "metric": {"key": "text_nll", "name": "n", "value": 0}, "command": "", "training_time": "", "hardware": ""})
    loaded = kg.zoo.load("bf16-trained")
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {"float32"}


def test_recipe_runner_publishes_a_card_that_eval_reproduces(zoo_dir, text, tmp_path, monkeypatch):
    from kerasgen.recipes import run_zoo_recipe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--epochs", "1", "--logdir", str(tmp_path / "run")])
    metric = {"key": "text_nll", "name": "validation nats/char", "args": {"dataset": str(corpus), "split": "validation", "seq_len": 32}}
    card = run_zoo_recipe(
        "tiny-recipe", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1,
        text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4, policy="mixed_bfloat16",
        model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1},
    )
    assert card["command"] == "python zoo/recipes/tiny_recipe.py --epochs 1"
    assert json.loads((zoo_dir / "tiny-recipe.json").read_text()) == card
    expected, measured = kg.evaluation.evaluate_entry("tiny-recipe")
    assert expected == card["metric"]["value"] and measured == pytest.approx(expected, abs=1e-4)
    # Published anew from the finished checkpoint (the entry removed meanwhile): no epoch trained in this run, so its
    # card does not claim the run took no time.
    (zoo_dir / "tiny-recipe.json").unlink()
    again = run_zoo_recipe(
        "tiny-recipe", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1,
        text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4, policy="mixed_bfloat16",
        model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1},
    )
    assert again["metric"]["value"] == card["metric"]["value"]
    assert again["training_time"].startswith("trained by earlier sessions of the run (1 of 1 epochs")


def test_recipe_runner_fine_tunes_from_its_first_run(zoo_dir, text, tmp_path, monkeypatch):
    from kerasgen.recipes import run_zoo_recipe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    run = tmp_path / "run"
    monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--epochs", "1", "--logdir", str(run), "--finetune-epochs", "2"])
    metric = {"key": "text_nll", "name": "validation nats/char", "args": {"dataset": str(corpus), "split": "validation", "seq_len": 32}}
    card = run_zoo_recipe(
        "tiny-finetuned", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1,
        finetune={"epochs": 5, "learning_rate": 3e-3}, text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4,
        model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1},
    )
    assert card["command"] == "python zoo/recipes/tiny_recipe.py --epochs 1 --finetune-epochs 2"
    assert "(3 epochs in one run)" in card["training_time"]
    first, final = kg.zoo.load_model(str(run / "first_run.keras")), kg.zoo.load("tiny-finetuned")
    assert json.loads((run / "finetune" / "backup" / "training_metadata.json").read_text())["epoch"] == 2  # epochs done
    assert not any(np.array_equal(a, b) for a, b in zip(first.get_weights(), final.get_weights()))


@pytest.mark.parametrize("family", ["lstm", "vae"])
def test_float16_storage_halves_the_file_and_loads_as_float32(zoo_dir, text, family):
    if family == "lstm":
        model = kg.models.LSTMGenerator(kg.text.CharTokenizer.from_text(text), embedding_dim=32, units=64, num_layers=2)
        model(np.zeros((1, 4), np.int32))
    else:
        model = kg.models.VAE(image_shape=(16, 16, 1), latent_dim=4, filters=(8, 16), hidden_dim=256)
        model.build((None, 16, 16, 1))
    card = {"family": family, "dataset": "t", "metric": {"key": "text_nll", "name": "n", "value": 0}, "command": "",
            "training_time": "", "hardware": ""}
    kg.zoo.publish(model, "full", card)
    half = kg.zoo.publish(model, "half", card, storage="float16")
    assert half["storage"] == "float16" and half["parameters"] == model.count_params()
    full_size, half_size = (zoo_dir / "full.keras").stat().st_size, (zoo_dir / "half.keras").stat().st_size
    assert half_size < 0.6 * full_size
    loaded = kg.zoo.load("half")
    assert all(layer.dtype_policy.name == "float32" for layer in loaded._flatten_layers())
    assert {w.dtype for w in loaded.weights} == {"float32"}
    stored = kg.saving.policy_copy(model, "float16").weights  # float16 but for layers that pin float32 (heads)
    assert sum(w.dtype == "float16" for w in stored) > len(stored) // 2
    for original, kept, restored in zip(model.get_weights(), stored, loaded.get_weights()):
        np.testing.assert_array_equal(restored, original.astype(kept.dtype).astype(np.float32))
    with pytest.raises(ValueError, match="storage"):
        kg.zoo.publish(model, "bad", card, storage="int8")


def test_measure_passes_progress_to_metrics_that_sample(monkeypatch):
    from kerasgen import evaluation

    seen = {}
    monkeypatch.setitem(evaluation.EVALUATORS, "frechet_distance", lambda model, data_dir=None, **args: seen.update(args) or 1.0)
    monkeypatch.setitem(evaluation.EVALUATORS, "text_nll", lambda model, data_dir=None, **args: seen.update(text=args) or 2.0)
    progress = print
    assert kg.evaluation.measure(None, {"key": "frechet_distance", "args": {"num_samples": 3}}, progress=progress) == 1.0
    assert seen == {"num_samples": 3, "progress": progress}
    assert kg.evaluation.measure(None, {"key": "text_nll", "args": {"split": "test"}}, progress=progress) == 2.0
    assert seen["text"] == {"split": "test"}  # metrics that do not sample take no progress argument


def test_a_cards_further_figures_are_measured_by_the_recipe_and_recomputed_by_eval(zoo_dir, text, tmp_path,
                                                                                   monkeypatch, capsys):
    from kerasgen import cli
    from kerasgen.recipes import run_zoo_recipe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--epochs", "1", "--logdir", str(tmp_path / "run")])
    args = {"dataset": str(corpus), "split": "validation", "seq_len": 32}
    metric = {"key": "text_nll", "name": "validation nats/char", "args": args}
    chosen = []

    def figures(sample_defaults):  # a function of the chosen sample defaults
        chosen.append(sample_defaults)
        return [{"key": "perplexity", "name": "validation perplexity", "args": args}]

    card = run_zoo_recipe(
        "tiny-figures", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1, figures=figures,
        sample_defaults={"temperature": 0.8}, text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4,
        model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1},
    )
    assert chosen == [{"temperature": 0.8}]
    [figure] = card["figures"]
    assert figure["value"] == pytest.approx(np.exp(card["metric"]["value"]), rel=1e-3)  # perplexity = e^nats
    assert json.loads((zoo_dir / "tiny-figures.json").read_text()) == card
    expected, measured = kg.evaluation.evaluate_entry("tiny-figures", figure="perplexity")
    assert expected == figure["value"] and measured == pytest.approx(expected, abs=1e-3)

    capsys.readouterr()
    assert cli.main(["eval", "tiny-figures"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tiny-figures: validation nats/char = ")
    assert lines[-1] == "the card's other figures: perplexity (recompute with --figure ID or --figure all)"
    assert cli.main(["eval", "tiny-figures", "--figure", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["tiny-figures: validation nats/char",
                                                        "tiny-figures: validation perplexity"]
    assert "difference +0.00%" in lines[1] or "difference -0.00%" in lines[1]
    assert cli.main(["eval", "tiny-figures", "--figure", "fid"]) == 2
    assert capsys.readouterr().err == ("kerasgen: error: tiny-figures's card has no figure 'fid' (its figures: "
                                       "perplexity)\n")
    # A republish (no new epochs) keeps the figures the earlier card measured with the same spec.
    card["figures"][0]["value"] = 123.0
    kg.zoo.write_card(card)
    again = run_zoo_recipe(
        "tiny-figures", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1, figures=figures,
        sample_defaults={"temperature": 0.8}, text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4,
        model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1},
    )
    assert again["figures"][0]["value"] == 123.0
    assert "validation perplexity: 123.0, kept from the card of these same weights" in capsys.readouterr().out


def test_recipe_continue_republishes_only_when_the_figure_improves_and_the_card_keeps_each_run(
    zoo_dir, text, tmp_path, monkeypatch, capsys
):
    from kerasgen.recipes import run_zoo_recipe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    metric = {"key": "text_nll", "name": "validation nats/char",
              "args": {"dataset": str(corpus), "split": "validation", "seq_len": 32}}

    def recipe(*argv, learning_rate, continued=None):
        monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--logdir", str(tmp_path / "run"), *argv])
        return run_zoo_recipe("tiny-chain", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1,
                              text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4,
                              learning_rate=learning_rate, continued=continued,
                              model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1})

    first = recipe("--epochs", "1", learning_rate=1e-3)
    assert "runs" not in first
    better = recipe("--continue", "--epochs", "4", learning_rate=1e-2)
    assert better["metric"]["value"] < first["metric"]["value"] and better["sha256"] != first["sha256"]
    assert better["command"] == ("python zoo/recipes/tiny_recipe.py --epochs 1 && "
                                 "python zoo/recipes/tiny_recipe.py --continue --epochs 4")
    runs = better["runs"]
    assert [run["figure_after"] for run in runs] == [first["metric"]["value"], better["metric"]["value"]]
    assert runs[1]["figure_before"] == first["metric"]["value"] and runs[1]["epochs"] == 4
    assert runs[1]["policy"] and runs[1]["hardware"] and runs[1]["data"] == "test text"
    expected, measured = kg.evaluation.evaluate_entry("tiny-chain")
    assert measured == pytest.approx(expected, abs=1e-4)
    capsys.readouterr()
    kept = recipe("--continue", "--epochs", "1", learning_rate=1e-9)  # changes nothing the figure shows
    assert kept == better == kg.zoo.info("tiny-chain")
    assert "tiny-chain is kept as it was: the figure did not improve" in capsys.readouterr().out
    # A recipe's settings for continued runs replace its own there (and only there), and the run's record lists them.
    assert recipe("--continue", "--epochs", "1", learning_rate=1e-2, continued={"learning_rate": 1e-9}) == better
    step = {"learning_rate": 1e-2, "schedule": "step"}
    third = recipe("--continue", "--epochs", "4", learning_rate=1e-9, continued=step)
    assert third["metric"]["value"] < better["metric"]["value"] and len(third["runs"]) == 3
    assert third["runs"][2]["settings"] == step and "settings" not in third["runs"][1]
    better = third
    with pytest.raises(SystemExit, match="was continued since this run"):
        recipe("--epochs", "1", learning_rate=1e-3)  # the first run's finished checkpoint would drop the second's
    assert kg.zoo.info("tiny-chain") == better


def test_recipe_max_time_stops_resumable_with_status_75_and_publishes_once_finished(zoo_dir, text, tmp_path,
                                                                                   monkeypatch):
    from kerasgen.recipes import STOPPED, run_zoo_recipe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    metric = {"key": "text_nll", "name": "validation nats/char",
              "args": {"dataset": str(corpus), "split": "validation", "seq_len": 32}}
    monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--epochs", "1", "--logdir", str(tmp_path / "run"),
                                     "--max-time", "0.001"])

    def recipe():
        return run_zoo_recipe("tiny-timed", "lstm", "test text", metric, "tiny", "zoo/recipes/tiny_recipe.py", 1,
                              text=str(corpus), steps_per_epoch=2, seq_len=16, batch_size=4,
                              model_kwargs={"embedding_dim": 4, "units": 8, "num_layers": 1})

    with pytest.raises(SystemExit) as stopped:
        recipe()  # one step of two
    assert stopped.value.code == STOPPED == 75 and "tiny-timed" not in kg.zoo.names()
    card = recipe()  # the second step ends the run: published
    assert kg.zoo.info("tiny-timed") == card and card["metric"]["value"] > 0


@pytest.mark.parametrize("argv, message", [(["--max-time", "2x"], "--max-time must be a duration such as 2h"),
                                           (["--epochs", "0"], "--epochs must be >= 1, got 0")])
def test_a_recipes_bad_setting_is_a_usage_error_checked_by_the_run_config(zoo_dir, tmp_path, monkeypatch, capsys,
                                                                          argv, message):
    from kerasgen.recipes import run_zoo_recipe

    monkeypatch.setattr("sys.argv", ["tiny_recipe.py", "--logdir", str(tmp_path / "run"), *argv])
    with pytest.raises(SystemExit) as refused:
        run_zoo_recipe("tiny-refused", "lstm", "test text", {"key": "text_nll"}, "tiny", "zoo/recipes/tiny.py", 1,
                       text="tiny_shakespeare")
    assert refused.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_cards_name_the_cpus_matrix_features():
    from kerasgen.recipes import cpu_features, machine

    assert cpu_features({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}) == ["AMX", "AVX-512 BF16", "AVX2"]
    assert cpu_features({"avx2", "avx512f"}) == ["AVX-512", "AVX2"]
    assert cpu_features({"avx2"}) == ["AVX2"] and cpu_features({"sse4_2"}) == []
    assert f"cores; {', '.join(cpu_features()) or 'no AVX2'})" in machine()
