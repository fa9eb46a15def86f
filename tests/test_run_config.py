"""RunConfig: one training run's settings, validated once, spelled as its caller spells them."""

import dataclasses

import pytest

from kerasgen import cli, families, training
from kerasgen.training import ConfigError, RunConfig


def test_defaults_come_from_the_kind_of_data_the_family_reads():
    text = RunConfig("lstm")
    assert (text.data, text.kind, text.batch_size, text.clipnorm, text.temperatures) == (
        "tiny_shakespeare", families.TEXT, 64, 5.0, (0.5, 1.0))
    images = RunConfig("vae")
    assert (images.data, images.kind, images.batch_size, images.clipnorm) == ("mnist", families.IMAGES, 128, None)
    points = RunConfig("realnvp", "moons", batch_size=32, clipnorm=1)
    assert (points.kind, points.batch_size, points.clipnorm) == (families.POINTS, 32, 1.0)
    assert points.family is families.get("realnvp")


def test_durations_and_folders_are_resolved_once(tmp_path):
    config = RunConfig("lstm", logdir=str(tmp_path), max_time="1h30m", checkpoint_every="auto")
    assert (config.max_time, config.checkpoint_every) == (5400.0, 600.0)
    assert config.backup_dir == str(tmp_path / "backup")
    assert RunConfig("lstm", checkpoint_every=None).checkpoint_every is None
    again = config.replace(epochs=3)  # a resolved config is valid input again
    assert (again.epochs, again.max_time, again.backup_dir) == (3, 5400.0, config.backup_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 4


@pytest.mark.parametrize(
    "settings, kind, message",
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs must be an int"),
        ({"batch_size": -2}, ValueError, "batch_size must be >= 1"),
        ({"learning_rate": 0}, ValueError, "learning_rate must be a finite number > 0"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be 'adam' or 'sgd'"),
        ({"schedule": "linear"}, ValueError, "schedule must be one of constant, cosine, step, halving"),
        ({"schedule": {-1: 1e-3}}, ValueError, "schedule dict keys must be epoch numbers"),
        ({"level": "byte"}, ValueError, "level must be one of char, word; got 'byte'"),
        ({"max_time": "2x"}, ValueError, "max_time must be a duration"),
        ({"max_time": "1h"}, ValueError, "max_time needs logdir"),
        ({"image_size": (8, 8)}, ValueError, "image_size applies to image models, not to lstm"),
        ({"extend_vocabulary": True}, ValueError, "extend_vocabulary grows the vocabulary of a text model given by init"),
        ({"out": "model.h5"}, ValueError, "out must be a path ending in .keras"),
    ],
)
def test_bad_settings_fail_at_construction_naming_the_setting(settings, kind, message):
    with pytest.raises(kind, match=message) as raised:
        RunConfig("lstm", **settings)
    assert isinstance(raised.value, ConfigError)


def test_image_and_family_settings_are_checked_against_the_data():
    with pytest.raises(ConfigError, match="image_size must be \\(height, width\\)"):
        RunConfig("vae", image_size=8)
    assert RunConfig("vae", image_size=[8, 12]).image_size == (8, 12)
    with pytest.raises(ConfigError, match="carry_state applies to text models"):
        RunConfig("vae", carry_state=True)
    with pytest.raises(ConfigError, match="random_offsets applies to text models"):
        RunConfig("vae", random_offsets=True)
    with pytest.raises(ConfigError, match="random_offsets cuts windows anew each epoch; carry_state reads"):
        RunConfig("lstm", random_offsets=True, carry_state=True)
    with pytest.raises(ConfigError, match="holds 2-D points, which the vae family does not model"):
        RunConfig("vae", "moons")
    with pytest.raises(ConfigError, match="schedule 'step' needs a single optimizer"):
        RunConfig("dcgan", schedule="step")
    with pytest.raises(ConfigError, match="has no class-conditional form"):
        RunConfig("realnvp", conditional=True)


def test_a_command_line_reads_the_same_errors_in_its_flags():
    with pytest.raises(ConfigError) as raised:
        RunConfig("lstm", max_time="1h")
    assert str(raised.value) == "max_time needs logdir: the stopped run's checkpoint goes there"
    spelled = raised.value.spelled(lambda name: "--" + name.replace("_", "-"))
    assert spelled == "--max-time needs --logdir: the stopped run's checkpoint goes there"
    # a literal brace that names no setting is kept
    with pytest.raises(ConfigError) as raised:
        RunConfig("lstm", schedule="linear")
    assert "{epoch: rate} dict" in raised.value.spelled(str.upper)


def test_the_command_line_builds_the_config_and_spells_its_errors(capsys):
    assert cli.main(["train", "lstm", "--seq-len", "0"]) == 2
    assert capsys.readouterr().err.strip() == "kerasgen: error: --seq-len must be >= 1, got 0"
    assert cli.main(["train", "vae", "--image-size", "8", "0"]) == 2
    assert capsys.readouterr().err.strip() == "kerasgen: error: --image-size must be >= 1, got 0"


def test_train_takes_a_config_and_runs_a_variant_of_it(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 40)
    config = RunConfig("lstm", str(corpus), epochs=5, steps_per_epoch=1, batch_size=4, seq_len=8, policy="float32",
                       verbose=0, model_kwargs={"units": 8, "embedding_dim": 4, "num_layers": 1})
    model, history = training.train(config, epochs=1)
    assert history.config == config.replace(epochs=1) and history.config.epochs == 1
    assert history.epoch == [0] and config.epochs == 5
    assert model.get_config()["units"] == 8
