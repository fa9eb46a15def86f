"""Class-conditional generation: labels checked, conditioning saved, guidance, label dropout, a conditional copy."""

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
    keras.utils.set_random_seed(0)
    model = tiny(num_classes=2, ema_decay=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images, labels = labelled_squares()
    history = model.fit(images, labels, batch_size=8, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
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


def test_fit_reads_labelled_datasets_and_an_unconditional_model_ignores_labels():
    images, labels = labelled_squares(8)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    keras.utils.set_random_seed(1)
    model = tiny(num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.fit(dataset, epochs=1, verbose=0, validation_data=dataset).history
    assert np.isfinite(logs["loss"][0]) and np.isfinite(logs["val_loss"][0])
    # The label embedding learnt something (it starts at zero).
    embedding = model.network.label_embedding.embeddings.numpy()
    assert np.abs(embedding[:2]).max() > 0

    plain = tiny()
    plain.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert np.isfinite(plain.fit(dataset, epochs=1, verbose=0).history["loss"][0])


def test_label_dropout_hides_the_label_of_about_that_share_of_a_training_batch():
    model = tiny(num_classes=2, label_dropout=0.3)
    model.build((None, 8, 8, 1))
    embedding = model.network.label_embedding
    embedding.embeddings.assign(np.random.default_rng(0).normal(size=embedding.embeddings.shape).astype(np.float32))
    images = np.full((2000, 8, 8, 1), 0.5, np.float32)
    labels = np.ones(2000, np.int32)

    def predictions(labels, training):
        return model((images, labels), training=training)[1].numpy().reshape(len(images), -1)

    no_class = predictions(np.full(2000, 2, np.int32), training=False)
    as_trained = predictions(labels, training=True)
    hidden = np.all(np.isclose(as_trained, no_class, atol=1e-6), axis=1)
    assert 0.25 < hidden.mean() < 0.35, hidden.mean()
    assert not np.any(np.all(np.isclose(predictions(labels, training=False), no_class, atol=1e-6), axis=1))


def test_with_classes_keeps_the_weights_and_draws_what_the_unconditional_model_drew(tmp_path):
    keras.utils.set_random_seed(2)
    plain = tiny()
    plain.compile(optimizer=keras.optimizers.Adam(1e-2))
    plain.fit(labelled_squares(8)[0], batch_size=8, epochs=2, verbose=0)
    conditional = plain.with_classes(2)
    assert conditional.num_classes == 2 and plain.num_classes is None
    before = plain.sample(3, steps=4, seed=9)
    np.testing.assert_allclose(conditional.sample(3, steps=4, seed=9), before, atol=1e-6)
    np.testing.assert_allclose(conditional.sample(3, labels=[0, 1, 1], steps=4, seed=9), before, atol=1e-6)
    np.testing.assert_allclose(conditional.sample(3, labels=1, use_ema=False, steps=4, seed=9),
                               plain.sample(3, use_ema=False, steps=4, seed=9), atol=1e-6)
    with pytest.raises(ValueError, match="already has 2 classes"):
        conditional.with_classes(3)
