"""Evaluation metrics, each a function of a model and a named data set.

``evaluate(model, key, **args)`` dispatches on the metric key a zoo card names.
"""

import math

import numpy as np
import tensorflow as tf

from kerasgen import data


def text_nll(model, text, seq_len=256, batch_size=32):
    """Mean negative log-likelihood of ``text`` in nats per token under a text model.

    The text is cut into consecutive windows of ``seq_len`` predictions; each
    window starts from an empty state (no context carried across windows).
    """
    windows = data.text_windows(text, model.tokenizer, seq_len, batch_size, shuffle=False)
    total, count = 0.0, 0

    @tf.function(reduce_retracing=True)
    def window_nll(inputs, targets):
        logits = model(inputs, training=False)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, tf.cast(logits, tf.float32))
        return tf.reduce_sum(tf.cast(losses, tf.float64)), tf.size(targets)

    for inputs, targets in windows:
        nll, n = window_nll(inputs, targets)
        total += float(nll)
        count += int(n)
    return total / count


def perplexity(model, text, seq_len=256, batch_size=32):
    """exp of ``text_nll``: the usual word-level language-model figure."""
    return math.exp(text_nll(model, text, seq_len, batch_size))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (n, d): the FID formula.

    ||mu_a - mu_b||^2 + tr(C_a) + tr(C_b) - 2 tr((C_a^1/2 C_b C_a^1/2)^1/2), computed with
    symmetric eigendecompositions (no general matrix square root needed).
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"features must be two (n, d) arrays with the same d and n >= 2, got {a.shape} and {b.shape}")
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
                           data_dir=None, sample_args=None):
    """Classifier-feature Frechet distance between ``num_samples`` samples and the first ``num_samples`` real images."""
    real = data.load_image_arrays(dataset, split, data_dir)[0][:num_samples].astype(np.float32) / 255.0
    from kerasgen.models.base import sample_in_chunks

    fake = sample_in_chunks(model, num_samples, seed, chunk=500, **(sample_args or {}))
    return frechet_distance(classifier.features(fake), classifier.features(real))


def classifier_accuracy(model, dataset="mnist", split="test", data_dir=None):
    images, labels = data.load_image_arrays(dataset, split, data_dir)
    return float(np.mean(model.predict_classes(images.astype(np.float32) / 255.0) == labels))


def vae_nll(model, dataset="mnist", split="test", num_samples=1000, binarize_seed=0, data_dir=None):
    """The VAE's importance-sampled NLL (nats) on the stochastically binarised split (fixed seed)."""
    from kerasgen.models.vae import binarize

    images = data.load_image_arrays(dataset, split, data_dir)[0].astype(np.float32) / 255.0
    return model.nll(binarize(images, binarize_seed), num_samples=num_samples)


def _text_metric(fn):
    def evaluate_on(model, dataset, split, data_dir=None, **kwargs):
        return fn(model, data.load_text(dataset, split, data_dir), **kwargs)

    return evaluate_on


EVALUATORS = {
    "text_nll": _text_metric(text_nll),
    "perplexity": _text_metric(perplexity),
    "frechet_distance": image_frechet_distance,
    "accuracy": classifier_accuracy,
    "vae_nll": vae_nll,
}


def evaluate(model, key, data_dir=None, **args):
    """The metric ``key`` (one of ``EVALUATORS``) of ``model``; ``args`` name the data set and options.

    ``frechet_distance`` also takes ``classifier``: the feature model (zoo cards name it; ``kerasgen.zoo``
    loads it before calling here).
    """
    if key not in EVALUATORS:
        raise ValueError(f"unknown metric {key!r}: use one of {', '.join(EVALUATORS)}")
    return float(EVALUATORS[key](model, data_dir=data_dir, **args))


__all__ = ["EVALUATORS", "evaluate", "perplexity", "text_nll"]
