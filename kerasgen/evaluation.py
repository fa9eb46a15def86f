"""Evaluation: a model's figure for the metric key a zoo card names, and the recomputation of a card's figure.

The zoo stores cards and files only; this module owns which function computes which key::

    from kerasgen import evaluation
    evaluation.evaluate(model, "text_nll", dataset="tiny_shakespeare", split="validation")
    card_value, measured = evaluation.evaluate_entry("char-lstm-shakespeare")     # what `kerasgen eval` prints
"""

from kerasgen import metrics, zoo


def _text_metric(fn):
    def evaluate_on(model, dataset, split, data_dir=None, **kwargs):
        from kerasgen import data

        return fn(model, data.load_text(dataset, split, data_dir), **kwargs)

    return evaluate_on


EVALUATORS = {
    "text_nll": _text_metric(metrics.text_nll),
    "perplexity": _text_metric(metrics.perplexity),
    "frechet_distance": metrics.image_frechet_distance,
    "accuracy": metrics.classifier_accuracy,
    "vae_nll": metrics.vae_nll,
    "point_nll": metrics.point_nll,
    "bits_per_dim": metrics.bits_per_dim,
    "label_accuracy": metrics.label_accuracy,
    "classification_accuracy_score": metrics.classification_accuracy_score,
}
# Metrics that draw samples and can report their progress.
SAMPLING = {"frechet_distance", "label_accuracy", "classification_accuracy_score"}


def register(key, evaluator, samples=False):
    """Make ``evaluator(model, data_dir=None, **args)`` the metric ``key`` (``samples``: it takes ``progress``)."""
    EVALUATORS[key] = evaluator
    if samples:
        SAMPLING.add(key)


def evaluate(model, key, data_dir=None, **args):
    """The metric ``key`` (one of ``EVALUATORS``) of ``model``; ``args`` name the data set and options."""
    if key not in EVALUATORS:
        raise ValueError(f"unknown metric {key!r}: use one of {', '.join(EVALUATORS)}")
    return float(EVALUATORS[key](model, data_dir=data_dir, **args))


def measure(model, metric, data_dir=None, progress=None):
    """The value of a card's ``metric`` spec ({key, args}) for ``model``; a named classifier is loaded from the zoo.

    ``progress(done, total)`` follows the sampling of metrics that draw samples (Frechet distances).
    """
    args = dict(metric.get("args", {}))
    if progress is not None and metric["key"] in SAMPLING:
        args["progress"] = progress
    if "classifier" in args:
        args["classifier"] = zoo.load(args["classifier"])
    return evaluate(model, metric["key"], data_dir=data_dir, **args)


def evaluate_entry(name, data_dir=None, progress=None):
    """Recompute zoo entry ``name``'s card figure; returns (card value, measured value)."""
    card = zoo.info(name)
    return card["metric"]["value"], measure(zoo.load(name), card["metric"], data_dir, progress)
