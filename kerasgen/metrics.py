"""Evaluation metrics, each a function of a model and a named data set.

``evaluate(model, key, **args)`` dispatches on the metric key a zoo card names.
"""

import math

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


def _text_metric(fn):
    def evaluate_on(model, dataset, split, data_dir=None, **kwargs):
        return fn(model, data.load_text(dataset, split, data_dir), **kwargs)

    return evaluate_on


EVALUATORS = {
    "text_nll": _text_metric(text_nll),
    "perplexity": _text_metric(perplexity),
}


def evaluate(model, key, data_dir=None, **args):
    """The metric ``key`` (one of ``EVALUATORS``) of ``model``; ``args`` name the data set and options."""
    if key not in EVALUATORS:
        raise ValueError(f"unknown metric {key!r}: use one of {', '.join(EVALUATORS)}")
    return float(EVALUATORS[key](model, data_dir=data_dir, **args))


__all__ = ["EVALUATORS", "evaluate", "perplexity", "text_nll"]
