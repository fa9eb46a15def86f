"""Class-conditional generation: labels checked, conditioning saved, guidance, label dropout, a conditional copy."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgen.checks import balanced_labels, check_labels
from kerasgen.models import DiffusionModel


def labelled_squares(count=16, seed=0):
    """8x8 images of a bright 4x4 square: top-left for class 0, bottom-right for class 1 (with a little noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = np.zeros((count, 8, 8, 1), np.float32)
    for image, label in zip(images, labels):
        row, col = (0, 0) if label == 0 else (4, 4)
        image[row : row + 4, col : col + 4] = 1.0
    images = np.clip(images + 0.05 * rng.standard_normal(images.shape), 0, 1).astype(np.float32)
    return images, labels.astype(np.int32)


def tiny(num_classes=None, **kwargs):
    return DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1, num_classes=num_classes, **kwargs)


@pytest.fixture(scope="module")
def conditional():
    """A tiny two-class model after a few steps on a dataset of (images, labels), with a validation set."""
    keras.utils.set_random_seed(0)
    model = tiny(num_classes=2, ema_decay=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    dataset = tf.data.Dataset.from_tensor_slices(labelled_squares()).batch(8)
    model.history_logs = model.fit(dataset, epochs=3, verbose=0, validation_data=dataset, shuffle=False).history
    return model


# --- the labels a user passes ----------------------------------------------------------------------------------


def test_check_labels_accepts_one_int_or_one_int_per_sample():
    np.testing.assert_array_equal(check_labels(3, 4, 10), [3, 3, 3, 3])
    np.testing.assert_array_equal(check_labels([0, 9, 2], 3, 10), [0, 9, 2])
    np.testing.assert_array_equal(check_labels(np.array([1, 1], np.int64), 2, 2), [1, 1])
    assert check_labels(None, 5, 10) is None and check_labels(None, 5, None) is None
    assert check_labels([0, 1], 2, 10).dtype == np.int32


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (10, ValueError, r"labels must be in \[0, 9\] \(the model's 10 classes\), got 10"),
        ([0, -1, 2], ValueError, r"labels must be in \[0, 9\].*got -1"),
        ([1, 2], ValueError, "labels must hold one label per sample: 3 samples but 2 labels"),
        ([1.0, 2.0, 3.0], TypeError, "labels must be ints, got float64 values"),
        (2.5, TypeError, "labels must be an int or a sequence of ints, got float"),
        ("7", TypeError, "labels must be an int or a sequence of ints, got str"),
        (True, TypeError, "got bool"),
        ([[1, 2, 3]], ValueError, r"labels must be one int or a sequence of 3 ints, got an array of shape \(1, 3\)"),
    ],
)
def test_bad_labels_get_one_clear_error(labels, error, message):
    with pytest.raises(error, match=message):
        check_labels(labels, 3, 10)


def test_an_unconditional_model_refuses_labels_and_guidance_needs_labels(conditional):
    with pytest.raises(ValueError, match="this model is unconditional"):
        tiny().sample(2, labels=1, seed=0)
    with pytest.raises(ValueError, match="guidance needs labels"):
        conditional.sample(2, guidance=2.0, seed=0)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0, got -1"):
        conditional.sample(2, labels=1, guidance=-1, seed=0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        conditional.sample(2, labels=2, seed=0)


def test_balanced_labels_go_class_by_class_with_counts_within_one():
    np.testing.assert_array_equal(balanced_labels(6, 3), [0, 0, 1, 1, 2, 2])
    counts = np.bincount(balanced_labels(60_001, 10), minlength=10)
    assert counts.sum() == 60_001 and counts.max() - counts.min() <= 1
    assert np.all(np.diff(balanced_labels(25, 10)) >= 0)


# --- the conditional model -------------------------------------------------------------------------------------


def test_conditioning_is_saved_and_loaded(conditional, tmp_path):
    path = tmp_path / "conditional.keras"
    conditional.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.num_classes == 2 and loaded.label_dropout == conditional.label_dropout
    for labels in (None, 1, [0, 1, 1]):
        np.testing.assert_allclose(
            loaded.sample(3, labels=labels, steps=4, seed=5), conditional.sample(3, labels=labels, steps=4, seed=5),
            atol=1e-6,
        )
    np.testing.assert_allclose(
        loaded.sample(3, labels=0, guidance=3.0, steps=4, seed=5),
        conditional.sample(3, labels=0, guidance=3.0, steps=4, seed=5), atol=1e-6,
    )


def test_labels_change_the_draw_and_guidance_zero_is_the_unconditional_draw(conditional):
    unconditional = conditional.sample(4, steps=5, seed=3)
    zero = conditional.sample(4, labels=[0, 1, 0, 1], guidance=0.0, steps=5, seed=3)
    np.testing.assert_allclose(zero, unconditional, atol=1e-5)
    as_zero, as_one = conditional.sample(4, labels=0, steps=5, seed=3), conditional.sample(4, labels=1, steps=5, seed=3)
    assert np.abs(as_zero - as_one).max() > 1e-3, "the label does not reach the network"
    guided = conditional.sample(4, labels=0, guidance=4.0, steps=5, seed=3)
    assert np.abs(guided - as_zero).max() > 1e-3


def test_fit_reads_a_dataset_of_images_and_labels_and_learns_a_label_embedding(conditional):
    logs = conditional.history_logs
    assert np.all(np.isfinite(logs["loss"])) and np.all(np.isfinite(logs["val_loss"]))
    embedding = conditional.network.label_embedding.embeddings.numpy()
    assert np.abs(embedding[:2]).max() > 0  # it starts at zero


def test_label_dropout_hides_the_label_of_about_that_share_of_a_training_batch():
    model = tiny(num_classes=2, label_dropout=0.3)
    model.build((None, 8, 8, 1))
    rng = np.random.default_rng(0)
    for weights in (model.network.label_embedding.embeddings, model.network.output_conv.kernel):  # both start at 0
        weights.assign(rng.normal(size=weights.shape).astype(np.float32))
    images = np.full((2000, 8, 8, 1), 0.5, np.float32)
    labels = np.ones(2000, np.int32)

    def predictions(labels, training):
        return model((images, labels), training=training)[1].numpy().reshape(len(images), -1)

    no_class = predictions(np.full(2000, 2, np.int32), training=False)
    as_trained = predictions(labels, training=True)
    hidden = np.all(np.isclose(as_trained, no_class, atol=1e-6), axis=1)
    assert 0.25 < hidden.mean() < 0.35, hidden.mean()
    assert not np.any(np.all(np.isclose(predictions(labels, training=False), no_class, atol=1e-6), axis=1))


def test_with_classes_keeps_the_weights_and_draws_what_the_unconditional_model_drew():
    plain = tiny()
    plain.build((None, 8, 8, 1))
    rng = np.random.default_rng(2)
    plain.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32) for w in plain.get_weights()])
    conditional = plain.with_classes(2)
    assert conditional.num_classes == 2 and plain.num_classes is None
    before = plain.sample(3, steps=2, seed=9)
    assert before.std() > 0.01  # the weights draw something: the comparison means something
    np.testing.assert_allclose(conditional.sample(3, steps=2, seed=9), before, atol=1e-6)
    np.testing.assert_allclose(conditional.sample(3, labels=[0, 1, 1], steps=2, seed=9), before, atol=1e-6)
    np.testing.assert_allclose(conditional.sample(3, labels=1, use_ema=False, steps=2, seed=9),
                               plain.sample(3, use_ema=False, steps=2, seed=9), atol=1e-6)
    with pytest.raises(ValueError, match="already has 2 classes"):
        conditional.with_classes(3)


# --- the command line, the sample callback ---------------------------------------------------------------------


@pytest.fixture
def saved(conditional, tmp_path):
    path = tmp_path / "conditional.keras"
    conditional.save(path)
    return path


def test_the_command_line_samples_one_class_or_every_class_in_turn(conditional, saved, tmp_path, capsys):
    from PIL import Image

    from kerasgen import cli

    ones = tmp_path / "ones.npz"
    assert cli.main(["sample", str(saved), "--label", "1", "-n", "4", "--steps", "3", "--seed", "0",
                     "--out", str(ones)]) == 0
    written = np.load(ones)
    assert written["x"].dtype == np.uint8 and written["x"].shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(written["y"], [1, 1, 1, 1])
    expected = np.round(conditional.sample(4, labels=1, steps=3, seed=0) * 255).astype(np.uint8)
    assert np.abs(written["x"].astype(int) - expected).max() <= 1

    synthetic = tmp_path / "synth.npz"
    assert cli.main(["sample", str(saved), "--labels", "balanced", "-n", "6", "--steps", "2", "--guidance", "2",
                     "--out", str(synthetic)]) == 0
    written = np.load(synthetic)
    np.testing.assert_array_equal(written["y"], [0, 1, 0, 1, 0, 1])  # interleaved: any first rows hold every class
    assert len(written["x"]) == 6

    grid = tmp_path / "grid.png"
    assert cli.main(["sample", str(saved), "--labels", "balanced", "--steps", "2", "--out", str(grid)]) == 0
    assert "wrote 16 images" in capsys.readouterr().out  # 8 per class by default
    assert Image.open(grid).size == (8 * 9 + 1, 2 * 9 + 1)  # one row per class, a white line between images

    listed = tmp_path / "listed.npz"
    assert cli.main(["sample", str(saved), "--labels", "1,0,1", "--steps", "2", "--out", str(listed)]) == 0
    np.testing.assert_array_equal(np.load(listed)["y"], [1, 0, 1])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--guidance", "2"], "--guidance weighs the classes: give --label or --labels too"),
        (["--label", "5"], r"labels must be in [0, 1] (the model's 2 classes), got 5"),
        (["--labels", "balanced", "-n", "5"], "a grid with one row per class needs -n to be a multiple of the 2 "
                                              "classes (got 5; 16 gives 8 per class)"),
        (["--labels", "one,two"], "--labels takes 'balanced' or comma-separated class numbers, got 'one,two'"),
        (["--labels", "0,1", "-n", "3"], "labels must hold one label per sample: 3 samples but 2 labels"),
        (["--label", "0", "--guidance", "-1"], "guidance must be a finite number >= 0, got -1.0"),
    ],
)
def test_bad_class_arguments_exit_2_with_one_line(saved, tmp_path, capsys, args, message):
    from kerasgen import cli

    assert cli.main(["sample", str(saved), "--steps", "2", "--out", str(tmp_path / "x.png"), *args]) == 2
    assert capsys.readouterr().err == f"kerasgen: error: {message}\n"


def test_an_unconditional_model_refuses_label_flags(tmp_path, capsys):
    from kerasgen import cli

    plain = tiny()
    plain.build((None, 8, 8, 1))
    path = tmp_path / "plain.keras"
    plain.save(path)
    assert cli.main(["sample", str(path), "--label", "1", "--out", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err == (f"kerasgen: error: {path} is unconditional (trained without labels): drop "
                                       "--label\n")


def test_the_sample_callback_draws_one_row_per_class(conditional, tmp_path):
    from PIL import Image

    from kerasgen.callbacks import TemperatureSampler

    sampler = TemperatureSampler(temperatures=(1.0,), log_dir=str(tmp_path), per_class=3, verbose=0)
    sampler.set_model(conditional)
    sampler.on_epoch_end(0)
    grid = np.asarray(Image.open(tmp_path / "samples" / "epoch0001_t1.0.png"))
    assert grid.shape[:2] == (2 * 9 + 1, 3 * 9 + 1)


# --- training on labelled folders ------------------------------------------------------------------------------


@pytest.fixture
def class_folders(tmp_path):
    """Two classes of 8x8 squares as PNG files in class sub-folders, and a flat folder of the same images."""
    from PIL import Image

    images, labels = labelled_squares(12)
    root, flat = tmp_path / "squares", tmp_path / "flat"
    flat.mkdir()
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / ("a_top_left", "b_bottom_right")[label]  # classes in alphabetical order
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.uint8(np.round(image[..., 0] * 255))
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
        Image.fromarray(pixels).save(flat / f"{i:02d}.png")
    return root, flat


def test_conditional_training_learns_the_folders_classes_and_can_start_from_an_unconditional_model(
    class_folders, tmp_path
):
    from kerasgen import training

    root, flat = class_folders
    small = {"widths": (8, 16), "block_depth": 1}
    run = dict(epochs=1, batch_size=4, policy="float32", verbose=0, temperatures=(1.0,))
    plain_path = tmp_path / "plain.keras"
    plain, _ = training.train_images("diffusion", str(root), model_kwargs=small, out=plain_path, **run)
    assert plain.num_classes is None
    model, history = training.train_images("diffusion", str(root), conditional=True, init=str(plain_path),
                                           logdir=tmp_path / "logs", **run)
    assert model.num_classes == 2 and np.isfinite(history.history["val_loss"][0])
    from PIL import Image

    grid = np.asarray(Image.open(next((tmp_path / "logs" / "samples").glob("*.png"))))
    assert grid.shape[0] == 2 * 9 + 1  # the epoch's samples: one row per class

    gan, _ = training.train_images("dcgan", str(root), conditional=True, model_kwargs={"latent_dim": 4, "filters": 4},
                                   logdir=tmp_path / "gan_logs", **run)
    assert gan.num_classes == 2
    grid = np.asarray(Image.open(next((tmp_path / "gan_logs" / "samples").glob("*.png"))))
    assert grid.shape[0] == 2 * 9 + 1

    with pytest.raises(ValueError, match="realnvp on images has no class-conditional form .*vae, dcgan, diffusion"):
        training.train_images("realnvp", str(root), conditional=True, **run)
    with pytest.raises(ValueError, match="plain.keras is unconditional and cannot gain classes: train a conditional "
                                         "VAE from scratch"):
        vae_path = tmp_path / "plain_vae.keras"
        training.train_images("vae", str(root), model_kwargs={"latent_dim": 2}, out=vae_path, **run)
        vae_path.rename(tmp_path / "plain.keras")
        training.train_images("vae", str(root), conditional=True, init=str(tmp_path / "plain.keras"), **run)
    with pytest.raises(ValueError, match="learns labels when conditional: .* has none"):
        training.train_images("diffusion", str(flat), conditional=True, model_kwargs=small, **run)


# --- label accuracy and the classification accuracy score ------------------------------------------------------


class SquareOracle:
    """A stand-in conditional generator that draws the data itself: squares of the class asked for (or of the
    other class, ``wrong=True``)."""

    num_classes = 2

    def __init__(self, wrong=False):
        self.wrong = wrong

    def sample(self, n, temperature=1.0, seed=None, labels=None):
        images, _ = labelled_squares(2 * n, seed=seed or 0)  # even rows are class 0, odd rows class 1
        labels = np.asarray(labels) if labels is not None else np.zeros(n, np.int32)
        return images[2 * np.arange(n) + (1 - labels if self.wrong else labels)]


@pytest.fixture(scope="module")
def square_classifier():
    from kerasgen import metrics
    from kerasgen.models import ImageClassifier

    images, labels = labelled_squares(32, seed=7)
    architecture = ImageClassifier(image_shape=(8, 8, 1), num_classes=2, feature_dim=8, dropout=0.0)
    return metrics.train_like(architecture, images, labels, epochs=8, batch_size=8)


def test_label_accuracy_is_the_share_the_classifier_puts_in_the_asked_class(square_classifier):
    from kerasgen import evaluation

    right = evaluation.evaluate(SquareOracle(), "label_accuracy", classifier=square_classifier, num_samples=40)
    wrong = evaluation.evaluate(SquareOracle(wrong=True), "label_accuracy", classifier=square_classifier,
                                num_samples=40)
    assert right == 1.0 and wrong == 0.0
    with pytest.raises(ValueError, match="needs a class-conditional model"):
        evaluation.evaluate(tiny(), "label_accuracy", classifier=square_classifier)


def test_classification_accuracy_score_trains_on_samples_and_tests_on_real_images(square_classifier, class_folders):
    from kerasgen import evaluation

    root, _ = class_folders
    args = dict(classifier=square_classifier, dataset=str(root), split="test", num_samples=32, epochs=8,
                batch_size=8, learning_rate=3e-3)
    assert evaluation.evaluate(SquareOracle(), "classification_accuracy_score", **args) == 1.0
    assert evaluation.evaluate(SquareOracle(wrong=True), "classification_accuracy_score", **args) == 0.0
    baseline = evaluation.evaluate(None, "real_data_accuracy", classifier=square_classifier, dataset=str(root),
                                   split="test", num_samples=32, epochs=8, batch_size=8, learning_rate=3e-3)
    assert baseline == 1.0  # the card's baseline figure: the same recipe on real images, no model involved


def test_the_train_command_offers_conditional_only_where_a_family_has_it(capsys):
    from kerasgen import cli

    assert cli.main(["train", "realnvp", "--conditional", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == ("kerasgen: error: realnvp on images has no class-conditional form (conditional "
                                       "families: vae, dcgan, diffusion)\n")
    assert cli.main(["train", "gpt", "--conditional", "--text", "x.txt"]) == 2
    assert "gpt on text has no class-conditional form" in capsys.readouterr().err


# --- the conditional VAE ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cvae():
    from kerasgen.models import VAE

    keras.utils.set_random_seed(0)
    model = VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(4, 8), hidden_dim=16, num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images, labels = labelled_squares(16)
    binary = (images > 0.5).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((binary, labels)).batch(8)
    model.history_logs = model.fit(dataset, epochs=40, verbose=0, validation_data=dataset, shuffle=False).history
    model.binary, model.labels = binary, labels
    return model


def test_a_conditional_vae_learns_the_classes_and_round_trips(cvae, tmp_path):
    logs = cvae.history_logs
    assert logs["loss"][-1] < logs["loss"][0] and np.isfinite(logs["val_loss"][-1])
    right = cvae.log_prob(cvae.binary, num_samples=20, labels=cvae.labels)
    wrong = cvae.log_prob(cvae.binary, num_samples=20, labels=1 - cvae.labels)
    assert right.mean() > wrong.mean() + 5, (right.mean(), wrong.mean())  # the label says where the square is
    zeros, ones = cvae.sample(32, labels=0, seed=1), cvae.sample(32, labels=1, seed=1)
    assert zeros[:, :4, :4].mean() > zeros[:, 4:, 4:].mean() and ones[:, 4:, 4:].mean() > ones[:, :4, :4].mean()

    path = tmp_path / "cvae.keras"
    cvae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.num_classes == 2
    for labels in (None, 1, [0, 1, 0]):
        np.testing.assert_allclose(loaded.sample(3, labels=labels, seed=4), cvae.sample(3, labels=labels, seed=4),
                                   atol=1e-6)
    np.testing.assert_allclose(loaded.log_prob(cvae.binary[:4], num_samples=5, labels=cvae.labels[:4]),
                               cvae.log_prob(cvae.binary[:4], num_samples=5, labels=cvae.labels[:4]), rtol=1e-5)


def test_a_conditional_vae_draws_random_classes_without_labels_and_asks_for_labels_elsewhere(cvae):
    unlabelled = cvae.sample(64, seed=3)
    np.testing.assert_array_equal(unlabelled, cvae.sample(64, seed=3))
    top_left = unlabelled[:, :4, :4].mean(axis=(1, 2, 3)) > unlabelled[:, 4:, 4:].mean(axis=(1, 2, 3))
    assert 0.2 < top_left.mean() < 0.8  # both classes drawn
    with pytest.raises(ValueError, match=r"this VAE is conditional \(2 classes\): give the images' labels"):
        cvae.log_prob(cvae.binary, num_samples=2)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        cvae.sample(2, labels=3)
    with pytest.raises(ValueError, match="this model is unconditional"):
        kg_vae = __import__("kerasgen.models", fromlist=["VAE"]).VAE
        kg_vae(image_shape=(8, 8, 1), latent_dim=2, filters=(4, 8), hidden_dim=16).sample(2, labels=1)


# --- the conditional DCGAN -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cgan():
    from kerasgen.models import DCGAN

    keras.utils.set_random_seed(0)
    model = DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=8, num_classes=2)
    model.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    images, labels = labelled_squares(32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    model.history_logs = model.fit(dataset, epochs=150, verbose=0, shuffle=False).history
    return model


def corner_share(images):
    """The share of images brighter in the top-left quarter than in the bottom-right one (class 0's square)."""
    return float((images[:, :4, :4].mean(axis=(1, 2, 3)) > images[:, 4:, 4:].mean(axis=(1, 2, 3))).mean())


def test_a_conditional_dcgan_learns_to_draw_the_class_asked_for_and_round_trips(cgan, tmp_path):
    assert np.isfinite(cgan.history_logs["g_loss"]).all()
    zeros, ones = cgan.sample(64, labels=0, seed=1), cgan.sample(64, labels=1, seed=1)
    assert corner_share(zeros) > 0.9 and corner_share(ones) < 0.1, (corner_share(zeros), corner_share(ones))
    assert 0.2 < corner_share(cgan.sample(64, seed=2)) < 0.8  # no labels: a class at random for each image

    path = tmp_path / "cgan.keras"
    cgan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.num_classes == 2
    for labels in (None, 1, [0, 1, 0]):
        np.testing.assert_allclose(loaded.sample(3, labels=labels, seed=4), cgan.sample(3, labels=labels, seed=4),
                                   atol=1e-6)
    assert loaded.d_optimizer.iterations.numpy() == cgan.d_optimizer.iterations.numpy() > 0
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        cgan.sample(2, labels=2)
    with pytest.raises(ValueError, match=r"this DCGAN is conditional \(2 classes\): train it on \(images, labels\)"):
        cgan.fit(np.zeros((4, 8, 8, 1), np.float32), epochs=1, verbose=0)


def test_an_unconditional_dcgan_keeps_its_layout_and_draw(tmp_path):
    from kerasgen import zoo

    gan = zoo.load("dcgan-mnist")
    assert gan.num_classes is None and gan.class_projection is None
    from kerasgen import sampling

    z = tf.random.stateless_normal((4, gan.latent_dim), seed=sampling.seed_pair(0))  # the draw the card measured
    np.testing.assert_allclose(gan.sample(4, seed=0), gan.generator(z, training=False), atol=1e-6)
    with pytest.raises(ValueError, match="this model is unconditional"):
        gan.sample(2, labels=1)


class GuidedOracle(SquareOracle):
    """Draws the wrong class below guidance 2 and the right one from 2 on, noisier at 4: what a sweep must see."""

    def sample(self, n, temperature=1.0, seed=None, labels=None, guidance=1.0, steps=50):
        self.wrong = guidance < 2
        images = super().sample(n, temperature, seed, labels)
        noise = 0.1 * np.random.default_rng(0).standard_normal(images.shape) if guidance >= 4 else 0.0
        return np.clip(images + noise, 0, 1).astype(np.float32)


def test_the_guidance_sweep_picks_the_closest_setting_among_the_accurate_ones(square_classifier, class_folders,
                                                                             tmp_path, monkeypatch):
    from kerasgen import zoo
    from kerasgen.recipes import guidance_sweep

    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(tmp_path / "zoo"))
    zoo.publish(square_classifier, "square-classifier", {"family": "classifier", "dataset": "squares",
                                                         "metric": {"key": "accuracy", "name": "a", "value": 1.0},
                                                         "command": "", "training_time": "", "hardware": ""})
    from kerasgen import evaluation, metrics, recipes

    measured, measure = [], evaluation.measure
    monkeypatch.setattr(recipes.evaluation, "measure",
                        lambda model, spec, *a, **k: measured.append(spec) or measure(model, spec, *a, **k))
    choose = guidance_sweep("square-classifier", str(class_folders[0]), {"steps": 5}, guidances=(0.0, 1.0, 2.0, 4.0),
                            num_samples=20, within=0.1, note=", test")
    metric, defaults, figures = choose(GuidedOracle())
    # Chosen on training images; the label-accuracy bar is relative to the classifier's own real test accuracy.
    distances = [spec["args"] for spec in measured if spec["key"] == "frechet_distance"]
    assert len(distances) == 4 and all(a["split"] == "train" and a["reference"] == "balanced" for a in distances)
    real = metrics.classifier_accuracy(square_classifier, str(class_folders[0]), "test")
    sweep = {figure["figure"]: figure["value"] for figure in figures}
    assert [sweep[f"guidance_{g}_label_accuracy"] for g in ("0", "1", "2")] == [0.0, 0.0, 1.0]
    assert sweep["guidance_4_label_accuracy"] >= 0.9
    assert sweep["guidance_2_frechet_distance"] < sweep["guidance_4_frechet_distance"]
    assert defaults == {"steps": 5, "guidance": 2.0}
    assert metric == {"key": "label_accuracy", "name": "label accuracy (square-classifier), test, guidance 2",
                      "args": {"classifier": "square-classifier", "num_samples": 10000,
                               "sample_args": {"steps": 5, "guidance": 2.0}},
                      "chosen": f"guidance 2: the lowest Frechet distance of the sweep among the guidances whose "
                                f"label accuracy is at least {real - 0.1:.4f} (square-classifier's test accuracy "
                                "less 0.1)"}
    # every figure of the sweep is a spec that measures again to its value
    for figure in figures:
        assert evaluation.measure(GuidedOracle(), figure) == pytest.approx(figure["value"], abs=1e-4)
    _, defaults, _ = guidance_sweep("square-classifier", str(class_folders[0]), {"steps": 5}, num_samples=20,
                                    guidances=(0.0, 1.0))(GuidedOracle())
    assert defaults["guidance"] == 0.0  # none accurate: the most accurate (the first of a tie)


def test_guidance_other_than_1_needs_a_model_that_learned_the_unconditional_prediction():
    from kerasgen.models import DiffusionModel

    model = DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1, num_classes=2, label_dropout=0.0)
    with pytest.raises(ValueError, match="guidance 2 mixes in the unconditional prediction, which a model trained "
                                         "with label_dropout=0 never learned"):
        model.sample(1, labels=0, guidance=2.0, steps=2, seed=0)
    assert model.sample(1, labels=0, guidance=1.0, steps=2, seed=0).shape == (1, 8, 8, 1)


def test_sampling_progress_off_a_terminal_is_one_line_per_report(capsys):
    from kerasgen import cli

    for done in (1, 2, 3):
        cli._progress(done, 3)
    assert capsys.readouterr().err == "sampled 1/3\nsampled 2/3\nsampled 3/3\n"


def test_a_conditional_vae_interpolates_from_the_command_line_between_labelled_images(tmp_path, capsys):
    from PIL import Image

    from kerasgen import cli
    from kerasgen.models import VAE

    images, labels = labelled_squares(40)
    root, flat = tmp_path / "squares", tmp_path / "flat"
    flat.mkdir()
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / ("a_top_left", "b_bottom_right")[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.uint8(np.round(image[..., 0] * 255))
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
        Image.fromarray(pixels).save(flat / f"{i:02d}.png")
    vae = VAE(image_shape=(8, 8, 1), latent_dim=2, filters=(4, 8), hidden_dim=16, num_classes=2)
    vae.build((None, 8, 8, 1))
    saved = tmp_path / "cvae.keras"
    vae.save(saved)
    strip = tmp_path / "strip.png"
    assert cli.main(["sample", str(saved), "-n", "8", "--interpolate", "--data", str(root), "--out", str(strip)]) == 0
    assert "wrote 8 images" in capsys.readouterr().out and Image.open(strip).size == (8 * 9 + 1, 9 + 1)
    assert cli.main(["sample", str(saved), "-n", "8", "--interpolate", "--data", str(flat), "--out", str(strip)]) == 2
    assert "is class-conditional: it walks between labelled images" in capsys.readouterr().err


def test_balanced_samples_are_compared_with_a_class_balanced_reference_and_the_score_with_as_many_real_images():
    from kerasgen import metrics
    from kerasgen.recipes import conditional_figures

    images = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 1))
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])  # a test set where class 0 is four times class 1
    reference = metrics.balanced_reference(images, labels, 4)
    np.testing.assert_array_equal(reference[:, 0, 0, 0], [0, 1, 8, 9])  # two of each class
    np.testing.assert_array_equal(metrics.balanced_reference(images, labels, 6)[:, 0, 0, 0], [0, 1, 2, 8, 9])
    frechet, baseline, score = conditional_figures("mnist", "mnist-classifier", {"steps": 50})
    assert frechet["args"]["balanced"] and frechet["args"]["reference"] == "balanced"
    assert "against class-balanced test images" in frechet["name"]
    assert baseline["args"]["num_samples"] == score["args"]["num_samples"] == 10000  # the card's setting
    with pytest.raises(ValueError, match="reference must be 'first' or 'balanced'"):
        metrics.image_frechet_distance(None, None, reference="sorted")


def _brighter_corner(images):
    """1 where the bottom-right quadrant is brighter than the top-left (``labelled_squares``' class 1), else 0."""
    return (images[:, 4:, 4:, 0].mean((1, 2)) > images[:, :4, :4, 0].mean((1, 2))).astype(int)


def test_a_tiny_diffusion_model_trained_on_two_classes_draws_the_class_asked_for():
    from kerasgen.models import DiffusionModel

    keras.utils.set_random_seed(0)
    images, labels = labelled_squares(64)
    model = DiffusionModel(image_shape=(8, 8, 1), widths=(16, 32), block_depth=1, num_classes=2, label_dropout=0.1,
                           ema_decay=0.9)  # a short run: an EMA that follows within a few dozen steps
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(images, labels, batch_size=16, epochs=75, verbose=0)  # 300 steps
    for guidance in (1.0, 3.0):
        for label in (0, 1):
            drawn = model.sample(32, labels=label, guidance=guidance, steps=20, seed=1)
            assert np.mean(_brighter_corner(drawn) == label) >= 0.9, (guidance, label)
    ancestral = model.sample(32, labels=[0, 1] * 16, steps=20, sampler="ddpm", seed=2)  # DDPM with labels
    assert np.mean(_brighter_corner(ancestral) == [0, 1] * 16) >= 0.9
    np.testing.assert_array_equal(ancestral, model.sample(32, labels=[0, 1] * 16, steps=20, sampler="ddpm", seed=2))


class TwoPredictions:
    """A stand-in network: one prediction for a class, another for "no class" (label 2), both easy to write down."""

    num_classes = 2

    def __call__(self, x, timesteps, labels):
        label = keras.ops.cast(keras.ops.reshape(labels, (-1, 1, 1, 1)), "float32")
        return keras.ops.where(label == 2, -0.2 * x + 0.05, 0.3 * x + 0.1 * (label + 1))


def test_a_guided_step_is_the_unconditional_prediction_plus_w_times_the_conditional_minus_it():
    from kerasgen import backend
    from kerasgen.models.diffusion import make_sampling_step

    x = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32))
    labels, w = np.array([0, 1, 1, 0], np.int32), 2.5
    label = labels.reshape(-1, 1, 1, 1).astype(np.float32)

    def by_hand(images, timesteps):  # uncond + w * (cond - uncond), written out from the two predictions
        unconditional, conditional = -0.2 * images + 0.05, 0.3 * images + 0.1 * (label + 1)
        return unconditional + w * (conditional - unconditional)

    args = (x, keras.ops.convert_to_tensor(500), keras.ops.convert_to_tensor(0.5, "float32"),
            keras.ops.convert_to_tensor(0.6, "float32"), keras.ops.convert_to_tensor(0.0, "float32"),
            keras.ops.convert_to_tensor(1.0, "float32"), backend.seed_pair(0))
    guided = make_sampling_step(TwoPredictions(), "ddim", conditioning="guidance")(
        *args, keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(w, "float32"))
    expected = make_sampling_step(by_hand, "ddim")(*args)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(guided), keras.ops.convert_to_numpy(expected), atol=1e-6)
    conditional = make_sampling_step(TwoPredictions(), "ddim", conditioning="labels")(
        *args, keras.ops.convert_to_tensor(labels))
    assert not np.allclose(keras.ops.convert_to_numpy(guided), keras.ops.convert_to_numpy(conditional), atol=1e-3)


class Shades:
    """A stand-in generator whose i-th sample (seeded chunks or not) is an image of one grey level, in turn."""

    LEVELS = (0.02, 0.5, 0.93, 0.6, 0.97)

    def sample(self, n, temperature=1.0, seed=None):
        return np.stack([np.full((8, 8, 1), self.LEVELS[i % 5], np.float32) for i in range(n)])


class GreyJudge:
    """A stand-in classifier: class 0 with the image's mean grey level as probability, class 1 with the rest."""

    num_classes = 2

    def probabilities(self, images):
        level = np.asarray(images, np.float64).mean(axis=(1, 2, 3))
        return np.stack([level, 1 - level], axis=-1)


def test_the_confident_share_counts_the_samples_whose_top_class_reaches_the_threshold():
    from kerasgen import evaluation

    # By hand: top probabilities 0.98, 0.5, 0.93, 0.6, 0.97: three of five reach 0.9, two reach 0.95.
    assert evaluation.evaluate(Shades(), "confident_share", classifier=GreyJudge(), num_samples=5) == 0.6
    assert evaluation.evaluate(Shades(), "confident_share", classifier=GreyJudge(), num_samples=5,
                               threshold=0.95) == 0.4
    assert evaluation.evaluate(Shades(), "confident_share", classifier=GreyJudge(), num_samples=2) == 0.5
    assert evaluation.improves("confident_share", 0.7, 0.6)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\], got 1.5"):
        evaluation.evaluate(Shades(), "confident_share", classifier=GreyJudge(), num_samples=5, threshold=1.5)


def test_every_figure_a_card_shows_is_recomputed_by_eval_by_its_id(square_classifier, class_folders, tmp_path,
                                                                   monkeypatch, capsys):
    """Several figures of one metric key (told apart by their ``figure`` ids), a list-valued class histogram and the
    real-data floor: ``kerasgen eval NAME --figure all`` measures each again and finds the card's value."""
    from kerasgen import cli, evaluation, zoo
    from kerasgen.models import VAE
    from kerasgen.recipes import class_histogram_spec, floor_spec, frechet_spec

    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(tmp_path / "zoo"))
    card = {"family": "classifier", "dataset": "squares", "command": "", "training_time": "", "hardware": ""}
    zoo.publish(square_classifier, "square-classifier", {**card, "metric": {"key": "accuracy", "name": "a",
                                                                            "value": 1.0}})
    assert evaluation.evaluate(SquareOracle(), "class_histogram", classifier=square_classifier,
                               num_samples=20) == [1.0, 0.0]  # unconditional oracle samples are all class 0
    folder = str(class_folders[0])
    specs = [
        frechet_spec("square-classifier", folder, 6, figure="six_samples"),
        frechet_spec("square-classifier", folder, 4, figure="four_samples", reference_samples=6,
                     sample_args={"temperature": 0.5}),
        floor_spec("square-classifier", folder, 6),
        class_histogram_spec("square-classifier", 6),  # the samples of "six_samples": eval draws them once
    ]
    vae = VAE(image_shape=(8, 8, 1), latent_dim=2)
    vae(np.zeros((1, 8, 8, 1), "float32"))
    path = tmp_path / "vae.keras"
    vae.save(path)
    model = zoo.load_model(str(path))
    figures = [{**spec, "value": evaluation.rounded(evaluation.measure(model, spec))} for spec in specs]
    assert isinstance(figures[3]["value"], list) and sum(figures[3]["value"]) == pytest.approx(1.0)
    assert figures[0]["value"] != figures[1]["value"]
    zoo.publish(model, "tiny-vae", {**card, "family": "vae", "figures": figures,
                                    "metric": {**figures[0], "figure": "headline"}})
    assert [evaluation.figure_id(spec) for spec in zoo.info("tiny-vae")["figures"]] == [
        "six_samples", "four_samples", "real_data_frechet_distance", "class_histogram"]

    assert cli.main(["eval", "tiny-vae", "--figure", "all"]) == 0
    out = capsys.readouterr().out
    assert out.count("reused 1 of 1 chunks of samples already drawn") == 2  # by the headline's twin and the histogram
    lines = [line for line in out.splitlines() if line.startswith("tiny-vae:")]
    assert len(lines) == 5 and all(re.search(r"difference [+-]0\.00%\)$", line) for line in lines), lines
    assert cli.main(["eval", "tiny-vae", "--figure", "seven_samples"]) == 2
    assert "no figure 'seven_samples' (its figures: six_samples, four_samples" in capsys.readouterr().err
    kept = tmp_path / "drawn"  # --samples-dir keeps them: a recompute stopped midway resumes
    assert cli.main(["eval", "tiny-vae", "--figure", "four_samples", "--samples-dir", str(kept)]) == 0
    first = capsys.readouterr().out
    assert "reused" not in first and len(list(kept.glob("*.npy"))) == 1
    assert cli.main(["eval", "tiny-vae", "--figure", "four_samples", "--samples-dir", str(kept)]) == 0
    again = capsys.readouterr().out
    assert "reused 1 of 1 chunks of samples already drawn" in again and len(list(kept.glob("*.npy"))) == 1
    assert again.splitlines()[-1] == first.splitlines()[-1] and re.search(r"difference [+-]0\.00%\)$", first)
