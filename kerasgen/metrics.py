"""Evaluation metrics, each a function of a model and a named data set.

``kerasgen.evaluation`` maps the metric keys zoo cards name to these functions.
"""

import inspect
import math

import numpy as np
from keras import ops

from kerasgen import backend, data
from kerasgen.checks import InvalidArgument, check_positive_int


def text_nll(model, text, seq_len=256, batch_size=32, carry_state=False):
    """Mean negative log-likelihood of ``text`` in nats per token under a text model.

    By default the text is cut into consecutive windows of ``seq_len``
    predictions, each starting from an empty state (no context across
    windows: what a transformer with a ``seq_len`` context sees). With
    ``carry_state`` (recurrent models) the text is read as ``batch_size``
    contiguous streams, ``seq_len`` tokens at a time, with the recurrent state
    carried from one chunk to the next: the usual protocol for word-level
    perplexity on Penn Treebank (Zaremba et al., 2014).
    """
    if carry_state:
        return _stream_nll(model, text, seq_len, batch_size)
    inputs, targets = data.window_arrays(text, model.tokenizer, seq_len)
    batch_size = check_positive_int(batch_size, "batch_size")
    window_nll = backend.compiled(lambda x, y: _token_nll(model(x, training=False), y))
    total = 0.0
    for start in range(0, len(inputs), batch_size):
        total += _sum64(window_nll(inputs[start : start + batch_size], targets[start : start + batch_size]))
    return total / targets.size


def ngram_baseline(model, dataset, split="validation", max_order=8, measure="nll", data_dir=None):
    """The n-gram baseline beside a text model's figure: an interpolated Kneser-Ney ``NGramModel`` on ``model``'s
    tokenizer, counted on ``dataset``'s train split with its order (1 to ``max_order``) chosen on the validation
    split, scored on ``split``: nats per token (``measure="nll"``) or ``"perplexity"``."""
    from kerasgen.models.ngram import NGramModel

    if measure not in ("nll", "perplexity"):
        raise InvalidArgument(f"measure must be 'nll' or 'perplexity', got {measure!r}")
    train, validation = data.load_text(dataset, "train", data_dir), data.load_text(dataset, "validation", data_dir)
    ngram = NGramModel.fit(model.tokenizer, train, validation=validation, max_order=max_order)
    nll = ngram.validation_nll[ngram.order] if split == "validation" else ngram.nll(data.load_text(dataset, split,
                                                                                                    data_dir))
    return math.exp(nll) if measure == "perplexity" else nll


def _token_nll(logits, targets):
    """Each token's cross-entropy in nats, float32."""
    return ops.sparse_categorical_crossentropy(targets, ops.cast(logits, "float32"), from_logits=True)


def _sum64(losses):
    """The sum of float32 losses, accumulated in float64 (millions of tokens)."""
    return float(np.sum(np.asarray(ops.convert_to_numpy(losses), np.float64)))


def _stream_nll(model, text, seq_len, batch_size):
    if "initial_state" not in inspect.signature(model.call).parameters:
        raise InvalidArgument(f"carry_state needs a recurrent model; {type(model).__name__} has no state to carry")
    seq_len = check_positive_int(seq_len, "seq_len")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = model.tokenizer.encode(text)
    inputs, targets = data.split_streams(ids, batch_size)
    length = inputs.shape[1]
    if length < 1:
        raise InvalidArgument(f"text is {len(ids)} tokens long, too short for {batch_size} streams")

    def chunk_nll(x, y, states):
        logits, states = model(x, training=False, initial_state=states, return_state=True)
        return _token_nll(logits, y), states

    chunk_nll = backend.compiled(chunk_nll)
    total, states = 0.0, None  # None: the first chunk starts from the model's zero state
    for start in range(0, length, seq_len):
        losses, states = chunk_nll(inputs[:, start : start + seq_len], targets[:, start : start + seq_len], states)
        total += _sum64(losses)
    return total / targets.size


def perplexity(model, text, seq_len=256, batch_size=32, carry_state=False):
    """exp of ``text_nll``: the usual word-level language-model figure."""
    return math.exp(text_nll(model, text, seq_len, batch_size, carry_state))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (n, d): the FID formula.

    ||mu_a - mu_b||^2 + tr(C_a) + tr(C_b) - 2 tr((C_a^1/2 C_b C_a^1/2)^1/2), computed with
    symmetric eigendecompositions (no general matrix square root needed).
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InvalidArgument(f"features must be two (n, d) arrays with the same d and n >= 2, got {a.shape} "
                              f"and {b.shape}")
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    sqrt_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a), 0, None)).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def class_histogram(classifier, images, num_classes=10):
    """Fraction of ``images`` the classifier assigns to each class."""
    counts = np.bincount(classifier.predict_classes(images), minlength=num_classes)
    return counts / counts.sum()


def image_frechet_distance(model, classifier, dataset="mnist", split="test", num_samples=10000, seed=0,
                           data_dir=None, sample_args=None, progress=None, balanced=False, reference="first",
                           reference_samples=None):
    """Classifier-feature Frechet distance between ``num_samples`` samples and real images of ``split``
    (``reference_samples`` of them, default as many as the samples).

    ``progress(done, num_samples)`` is called as the samples are drawn (see ``sample_in_chunks``). ``balanced``:
    a class-conditional model draws every class in turn (``checks.balanced_labels``) rather than unconditionally.
    ``reference``: the real images compared with, ``"first"`` (the split's first ``num_samples``, as they come)
    or ``"balanced"`` (``balanced_reference``: as many of each class, the reference for balanced samples; an
    unconditional model measured against it compares with a conditional one).
    """
    if reference not in ("first", "balanced"):
        raise InvalidArgument(f"reference must be 'first' or 'balanced', got {reference!r}")
    reference_samples = num_samples if reference_samples is None else reference_samples
    images, labels = data.load_image_arrays(dataset, split, data_dir)
    if reference == "balanced":
        images = balanced_reference(images, labels, reference_samples)
    real = images[:reference_samples].astype(np.float32) / 255.0
    if balanced:
        fake, _ = _samples_by_class(model, num_samples, seed, sample_args, progress, "balanced sampling")
    else:
        from kerasgen.models.chunks import sample_in_chunks

        fake = sample_in_chunks(model, num_samples, seed, chunk=500, progress=progress, **(sample_args or {}))
    return frechet_distance(classifier.features(fake), classifier.features(real))


def balanced_reference(images, labels, num_samples):
    """The first ``num_samples // classes`` images of each class of ``images`` (fewer where a class has fewer), in
    class order: a real reference with the class balance of ``checks.balanced_labels`` samples."""
    if labels is None:
        raise InvalidArgument("a class-balanced reference needs labelled images")
    classes = np.unique(labels)
    per_class = -(-int(num_samples) // len(classes))
    return np.concatenate([images[labels == label][:per_class] for label in classes])


def classifier_accuracy(model, dataset="mnist", split="test", data_dir=None):
    images, labels = data.load_image_arrays(dataset, split, data_dir)
    return float(np.mean(model.predict_classes(images.astype(np.float32) / 255.0) == labels))


def vae_nll(model, dataset="mnist", split="test", num_samples=1000, binarize_seed=0, data_dir=None):
    """The VAE's importance-sampled NLL (nats) on the stochastically binarised split (fixed seed)."""
    images = data.load_image_arrays(dataset, split, data_dir)[0].astype(np.float32) / 255.0
    return model.nll(data.binarize(images, binarize_seed), num_samples=num_samples)


def point_nll(model, dataset="moons", split="validation", data_dir=None):
    """Mean negative log-likelihood in nats per point of a density model on a 2-D toy split (``toy_data.moons``)."""
    from kerasgen import toy_data

    if dataset != "moons":
        raise InvalidArgument(f"dataset must be 'moons' (the only toy data set), got {dataset!r}")
    return -float(np.mean(np.asarray(model.log_prob(toy_data.moons(split)), np.float64)))


def bits_per_dim(model, dataset="mnist", split="test", seed=0, data_dir=None):
    """A flow's test bits per dimension on the 8-bit images of ``dataset`` (uniform dequantisation from ``seed``)."""
    return model.bits_per_dim(data.load_image_arrays(dataset, split, data_dir)[0], seed=seed)


__all__ = ["bits_per_dim", "classifier_accuracy", "frechet_distance", "image_frechet_distance", "perplexity",
           "point_nll", "text_nll", "vae_nll"]


def _samples_by_class(model, num_samples, seed, sample_args, progress, needed_by):
    """``num_samples`` samples of a class-conditional model, every class in turn (``checks.balanced_labels``),
    seeded by chunks of 500; returns (samples, labels)."""
    from kerasgen.checks import balanced_labels
    from kerasgen.models.chunks import sample_in_chunks

    if getattr(model, "num_classes", None) is None:
        raise InvalidArgument(f"{needed_by} needs a class-conditional model (one with num_classes)")
    labels = balanced_labels(num_samples, model.num_classes)
    fake = sample_in_chunks(model, num_samples, seed, chunk=500, progress=progress, labels=labels,
                            **(sample_args or {}))
    return fake, labels


def real_data_frechet_distance(classifier, dataset="mnist", split="test", num_samples=10000, data_dir=None):
    """The Frechet distance a perfect generator would score: the first ``num_samples`` real training images against
    the images of ``split`` (all of them), in ``classifier``'s features."""
    train = data.load_image_arrays(dataset, "train", data_dir)[0][:num_samples].astype(np.float32) / 255.0
    real = data.load_image_arrays(dataset, split, data_dir)[0].astype(np.float32) / 255.0
    return frechet_distance(classifier.features(train), classifier.features(real))


def sample_class_histogram(model, classifier, num_samples=10000, seed=0, sample_args=None, progress=None,
                           data_dir=None):
    """The share of ``num_samples`` unconditional samples (seeded by chunks of 500) ``classifier`` assigns to each
    class: a list of floats."""
    from kerasgen.models.chunks import sample_in_chunks

    fake = sample_in_chunks(model, num_samples, seed, chunk=500, progress=progress, **(sample_args or {}))
    return [float(share) for share in class_histogram(classifier, fake, classifier.num_classes)]


def confident_share(model, classifier, num_samples=10000, threshold=0.9, seed=0, sample_args=None, progress=None,
                    data_dir=None):
    """The share of ``num_samples`` unconditional samples (seeded by chunks of 500) that ``classifier`` gives one
    class with probability at least ``threshold``: how many samples look like some class at all, which a Frechet
    distance and a class histogram do not tell."""
    from kerasgen.models.chunks import sample_in_chunks

    if not 0 < threshold <= 1:
        raise InvalidArgument(f"threshold must be in (0, 1], got {threshold!r}")
    fake = sample_in_chunks(model, num_samples, seed, chunk=500, progress=progress, **(sample_args or {}))
    return float(np.mean(classifier.probabilities(fake).max(axis=-1) >= threshold))


def label_accuracy(model, classifier, num_samples=1000, seed=0, sample_args=None, progress=None, data_dir=None):
    """The share of a class-conditional model's samples that ``classifier`` assigns to the class they were drawn for.

    ``num_samples`` samples, every class in turn (``checks.balanced_labels``), seeded by chunks of 500.
    """
    fake, labels = _samples_by_class(model, num_samples, seed, sample_args, progress, "label accuracy")
    return float(np.mean(classifier.predict_classes(fake) == labels))


def train_like(classifier, images, labels, epochs=6, batch_size=128, learning_rate=1e-3, seed=0):
    """A fresh, untrained copy of ``classifier``'s architecture trained on ``images`` (floats in [0, 1]) and
    ``labels`` with its recipe (Adam, sparse cross-entropy, shuffled batches); returns it."""
    import keras

    keras.utils.set_random_seed(seed)
    config = {key: value for key, value in classifier.get_config().items() if key not in ("name", "trainable")}
    fresh = type(classifier).from_config(config)
    fresh.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    fresh.fit(np.asarray(images, np.float32), np.asarray(labels, np.int32), batch_size=batch_size, epochs=epochs,
              shuffle=True, verbose=0)
    return fresh


def classification_accuracy_score(model, classifier, dataset="mnist", split="test", num_samples=60000, epochs=6,
                                  batch_size=128, learning_rate=1e-3, seed=0, sample_args=None, progress=None,
                                  data_dir=None):
    """Classification accuracy score (Ravuri & Vinyals, 2019): the real ``split`` accuracy of a classifier of
    ``classifier``'s architecture and recipe trained only on ``num_samples`` labelled samples of ``model``
    (balanced classes). ``real_data_accuracy`` is the same classifier trained on real images."""
    fake, labels = _samples_by_class(model, num_samples, seed, sample_args, progress,
                                     "the classification accuracy score")
    trained = train_like(classifier, fake, labels, epochs, batch_size, learning_rate, seed)
    return classifier_accuracy(trained, dataset, split, data_dir)


def real_data_accuracy(classifier, dataset="mnist", split="test", num_samples=60000, epochs=6, batch_size=128,
                       learning_rate=1e-3, seed=0, data_dir=None):
    """The baseline of the classification accuracy score: the same recipe trained on the first ``num_samples``
    real training images of ``dataset``, tested on its ``split``."""
    images, labels = data.load_image_arrays(dataset, "train", data_dir)
    trained = train_like(classifier, images[:num_samples].astype(np.float32) / 255.0, labels[:num_samples], epochs,
                         batch_size, learning_rate, seed)
    return classifier_accuracy(trained, dataset, split, data_dir)
