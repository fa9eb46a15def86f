"""Evaluation: a model's figure for the metric key a zoo card names, and the recomputation of a card's figure.

The zoo stores cards and files only; this module owns which function computes which key::

    from kerasgen import evaluation
    evaluation.evaluate(model, "text_nll", dataset="tiny_shakespeare", split="validation")
    card_value, measured = evaluation.evaluate_entry("char-lstm-shakespeare")     # what `kerasgen eval` prints

A card's ``metric`` is its headline figure; its optional ``figures`` list holds further specs of the same form
({key, name, args, value}: a Frechet distance beside a label accuracy, say), each recomputed by
``evaluate_entry(name, figure=ID)``. A figure's ID is its ``figure`` field where a card holds several figures of one
metric key (Frechet distances for several samplers, say), else its key. A figure's value is a number, or a list of
numbers for ``class_histogram``.
"""

from kerasgen import metrics, zoo
from kerasgen.checks import InvalidArgument


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
    # The classification accuracy score's baseline: the same classifier recipe on real images (no model involved).
    "real_data_accuracy": lambda model, classifier, **args: metrics.real_data_accuracy(classifier, **args),
    # A text card's classic baseline: an n-gram model on the card model's tokenizer (the model is not run).
    "ngram_baseline": metrics.ngram_baseline,
    # The Frechet distance's floor: real training images against real test images (no model involved).
    "real_data_frechet_distance": lambda model, classifier, **args: metrics.real_data_frechet_distance(classifier,
                                                                                                      **args),
    "class_histogram": metrics.sample_class_histogram,
    "confident_share": metrics.confident_share,
}
# Metrics that draw samples and can report their progress.
SAMPLING = {"frechet_distance", "label_accuracy", "classification_accuracy_score", "class_histogram",
            "confident_share"}
# Metrics where a larger value is better (the others are losses and distances: smaller is better).
HIGHER_IS_BETTER = {"accuracy", "label_accuracy", "classification_accuracy_score", "real_data_accuracy",
                    "confident_share"}


def improves(key, value, previous):
    """Whether ``value`` of metric ``key`` is better than ``previous`` (strictly)."""
    return value > previous if key in HIGHER_IS_BETTER else value < previous


def register(key, evaluator, samples=False):
    """Make ``evaluator(model, data_dir=None, **args)`` the metric ``key`` (``samples``: it takes ``progress``)."""
    EVALUATORS[key] = evaluator
    if samples:
        SAMPLING.add(key)


def evaluate(model, key, data_dir=None, **args):
    """The metric ``key`` (one of ``EVALUATORS``) of ``model``; ``args`` name the data set and options. A float, or
    a list of floats for a metric of several numbers (``class_histogram``)."""
    if key not in EVALUATORS:
        raise InvalidArgument(f"unknown metric {key!r}: use one of {', '.join(EVALUATORS)}")
    value = EVALUATORS[key](model, data_dir=data_dir, **args)
    return [float(v) for v in value] if isinstance(value, (list, tuple)) else float(value)


def figure_id(spec):
    """What ``kerasgen eval NAME --figure ID`` calls a card's figure: its ``figure`` field, else its metric key."""
    return spec.get("figure", spec["key"])


def rounded(value, digits=4):
    """A measured figure as a card keeps it: a number, or each number of a list, rounded to ``digits``."""
    return [round(v, digits) for v in value] if isinstance(value, list) else round(value, digits)


def difference(measured, expected):
    """How far ``measured`` is from a card's ``expected`` value, relative to it: the largest over a list's numbers
    (each relative to the largest expected number, so near-zero entries do not dominate)."""
    if isinstance(expected, list):
        scale = max(abs(v) for v in expected) or 1.0
        return max(abs(m - e) for m, e in zip(measured, expected)) / scale
    return (measured - expected) / expected if expected else measured - expected


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


def entry_figure(name, figure=None):
    """Zoo entry ``name``'s headline metric spec (``figure`` None) or the one of its ``figures`` with key ``figure``."""
    card = zoo.info(name)
    if figure is None:
        return card["metric"]
    specs = {figure_id(spec): spec for spec in card.get("figures", [])}
    if figure not in specs:
        listed = ", ".join(specs) if specs else "none besides its metric"
        raise InvalidArgument(f"{name}'s card has no figure {figure!r} (its figures: {listed})")
    return specs[figure]


def evaluate_entry(name, data_dir=None, progress=None, figure=None):
    """Recompute zoo entry ``name``'s card figure (the headline metric, or the ``figures`` entry with key
    ``figure``); returns (card value, measured value)."""
    spec = entry_figure(name, figure)
    return spec["value"], measure(zoo.load(name), spec, data_dir, progress)


def file_figures(model, data=None, keys=None):
    """The figures that judge ``model`` (a model loaded from a file) as a zoo entry of its family would be judged:
    ``(family name, data set, [metric spec, ...])``. ``data`` defaults to the family's data set; ``keys`` (metric
    keys, or ``all``) choose among the family's figures (default: its headline)."""
    from kerasgen import families

    family = families.of_model(model)
    if family.figures is None:
        raise InvalidArgument(f"the {family.name} family names no figure to judge its models by")
    data = family.default_data if data is None else data
    specs = family.figures(data, model)
    if not keys:
        return family.name, data, specs[:1]
    if "all" in keys:
        return family.name, data, specs
    offered = {spec["key"]: spec for spec in specs}
    unknown = [key for key in keys if key not in offered]
    if unknown:
        raise InvalidArgument(f"a {family.name} model has no figure {unknown[0]!r} (its figures: {', '.join(offered)})")
    return family.name, data, [offered[key] for key in keys]
