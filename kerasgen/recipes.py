"""Zoo recipes: train a model for a zoo entry, measure its card's metric, publish weights and card.

Each ``zoo/recipes/<name>.py`` is one call to ``run_zoo_recipe``; the card records the exact command that reproduces
the entry and the machine that ran it.
"""

import json
import os
import platform
from pathlib import Path

from kerasgen import evaluation, precision, training, zoo
from kerasgen.models.base import sample_cache


def machine():
    """This machine in a few words, for a card: CPU model, core count, and the GPUs TensorFlow sees (or none)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return f"{cpu} ({os.cpu_count()} cores), " + (f"GPU: {', '.join(gpus)}" if gpus else "no GPU")


def run_zoo_recipe(name, family, dataset_description, metric, notes, recipe_file, default_epochs, report=None,
                   storage="float32", finetune=None, sample_defaults=None, choose=None, figures=(), **train_kwargs):
    """Train a model for zoo entry ``name``, measure ``metric`` and publish weights and card.

    The command line of the recipe script is ``[--epochs N] [--logdir DIR]``;
    the card records the exact command that reproduces the entry. ``report``
    (model -> dict) adds further figures to the card's metric. ``storage`` is
    the weights' dtype in the shipped file (``zoo.publish``). Run again after
    the last epoch, the recipe republishes from the final checkpoint.
    ``finetune`` (train keyword arguments with ``epochs``) adds a second run
    that starts from the first one's saved model with fresh optimizer state
    (``--finetune-epochs N``; its ``model_kwargs`` change settings that keep
    the weights, such as the EMA decay), itself resumable. ``sample_defaults``
    ({setting: value}, chosen by the card's figures) are what ``kerasgen sample``
    uses for the entry unless told otherwise. ``choose`` (shipped model -> (metric, sample_defaults, figures))
    picks them by measurement after training instead (a guidance sweep, say); its figures join the card's metric.
    ``figures``: further metric specs ({key, name, args}) measured after the headline one and kept on the card's
    ``figures`` list, each recomputable by ``kerasgen eval NAME --figure KEY``; or a function of the chosen
    ``sample_defaults`` returning them. The card is written after each figure (some take hours); a republish
    keeps the figures its earlier card measured with the same spec, so a run stopped while measuring resumes.
    """
    import argparse

    parser = argparse.ArgumentParser(description=f"Reproduce zoo entry {name} (resumable: rerun after a crash).")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--logdir", default=f"runs/{name}")
    if finetune:
        finetune = dict(finetune)
        parser.add_argument("--finetune-epochs", type=int, default=finetune.pop("epochs"))
    args = parser.parse_args()
    data_name = train_kwargs.pop("dataset", None) or train_kwargs.pop("text", None)
    command = f"python zoo/recipes/{Path(recipe_file).name} --epochs {args.epochs}"
    first = os.path.join(args.logdir, "first_run.keras") if finetune else None
    model, history = training.train(family, data_name, epochs=args.epochs, logdir=args.logdir, out=first,
                                    **train_kwargs)
    if finetune:
        model, second = training.train(family, data_name, epochs=args.finetune_epochs, init=first,
                                       logdir=os.path.join(args.logdir, "finetune"), **{**train_kwargs, **finetune})
        history.epoch, history.seconds = history.epoch + second.epoch, history.seconds + second.seconds
        args.epochs += args.finetune_epochs
        command += f" --finetune-epochs {args.finetune_epochs}"
    minutes = f"{history.seconds / 60:.0f} min"
    if len(history.epoch) == args.epochs:
        training_time = f"{minutes} ({args.epochs} epochs in one run), policy {history.policy}"
    else:
        training_time = (
            f"{minutes} for the final session of the run ({len(history.epoch)} of {args.epochs} epochs; "
            f"earlier sessions resumed from checkpoints), policy {history.policy}"
        )
    previous = None
    if not history.epoch and name in zoo.names():  # a republish: the training time is the earlier card's
        previous = zoo.info(name)
        training_time = previous.get("training_time", training_time)
    card = zoo.publish(
        model,
        name,
        {
            "family": family,
            "dataset": dataset_description,
            "metric": {**metric, "value": None},
            "command": command,
            "training_time": training_time,
            "hardware": machine(),
            "notes": notes,
            **({"sample_defaults": sample_defaults} if sample_defaults else {}),
        },
        storage=storage,
    )
    # The figure is measured on the shipped file, as `kerasgen eval` loads it: float32, from the zoo. Its samples are
    # kept under the logdir, so a run stopped while measuring draws only what it had not drawn yet.
    with sample_cache(os.path.join(args.logdir, "samples")):
        card, shipped = _measure_card(card, name, metric, choose, figures, previous)
    card["metric"].update(report(shipped) if report else {})
    zoo.write_card(card)
    print(card)
    return card


def _measure_card(card, name, metric, choose, figures, previous):
    """Measure the shipped entry ``name``'s headline metric (after ``choose``, if any) and its further figures,
    writing the card after each; figures on the ``previous`` card of the same weights are kept. Returns the card
    and the shipped model."""
    precision.set_policy("float32")
    shipped = zoo.load(name)
    chosen = {}
    if choose is not None:
        metric, sample_defaults, chosen = choose(shipped)
        card["sample_defaults"] = sample_defaults
    value = evaluation.measure(shipped, metric)
    card["metric"] = {**metric, "value": round(value, 4), **chosen}
    if callable(figures):
        figures = figures(card.get("sample_defaults") or {})
    zoo.write_card(card)  # each figure is kept as soon as it is measured: some take hours
    earlier = _earlier_figures(previous)
    for spec in figures:
        value = earlier.get(_spec_key(spec))
        if value is None:
            value = round(evaluation.measure(shipped, spec), 4)
        else:
            print(f"{spec['name']}: {value}, kept from the card of these same weights (a republish, no new epochs)")
        card.setdefault("figures", []).append({**spec, "value": value})
        zoo.write_card(card)
    return card, shipped


def _spec_key(spec):
    return json.dumps({"key": spec["key"], "args": spec.get("args", {})}, sort_keys=True)


def _earlier_figures(card):
    """{spec: value} of the further figures on ``card`` (the entry's card before a republish), if any."""
    return {_spec_key(spec): spec["value"] for spec in (card or {}).get("figures", []) if spec.get("value") is not None}


def conditional_figures(dataset, classifier, sample_args=None, num_samples=10000, score_samples=60000):
    """A class-conditional entry's further figures (``run_zoo_recipe(figures=...)``): the Frechet distance of
    ``num_samples`` balanced samples to the ``dataset`` test set, the classification accuracy score of
    ``score_samples`` samples, and its baseline, the same classifier recipe on as many real training images (the
    longest, the score, last)."""
    sample = {"sample_args": dict(sample_args)} if sample_args else {}
    return [
        {"key": "frechet_distance", "name": f"Frechet distance ({classifier} features), balanced classes",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": num_samples,
                  "balanced": True, **sample}},
        {"key": "real_data_accuracy", "name": f"real-data baseline ({score_samples:,} {dataset} training images)",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": score_samples}},
        {"key": "classification_accuracy_score",
         "name": f"classification accuracy score ({score_samples:,} samples, {dataset} test)",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": score_samples,
                  **sample}},
    ]


def label_accuracy_spec(classifier, sample_args=None, num_samples=10000, note=""):
    """The metric spec of a class-conditional entry's label accuracy under ``classifier`` (a zoo name)."""
    sample = {"sample_args": dict(sample_args)} if sample_args else {}
    return {"key": "label_accuracy", "name": f"label accuracy ({classifier}){note}",
            "args": {"classifier": classifier, "num_samples": num_samples, **sample}}


def guidance_sweep(classifier, dataset, sample_args, guidances=(0.0, 1.0, 2.0, 4.0), num_samples=1000,
                   accuracy_bar=0.99, note=""):
    """A ``choose`` for ``run_zoo_recipe`` that picks a guided diffusion entry's default guidance by measurement.

    Each guidance in ``guidances`` gets its label accuracy and balanced Frechet distance (``classifier``'s
    features, ``dataset``'s test set) on ``num_samples`` samples; the default is the lowest distance among those
    with label accuracy >= ``accuracy_bar``, else the most accurate. The card's headline is then the label
    accuracy at that guidance on 10,000 samples, and the sweep's figures join it.
    """
    def spec(guidance, key, samples):
        args = {**sample_args, "guidance": guidance}
        if key == "label_accuracy":
            return label_accuracy_spec(classifier, args, samples, f"{note}, guidance {guidance:g}")
        return {"key": "frechet_distance", "name": "Frechet distance",
                "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": samples,
                         "balanced": True, "sample_args": args}}

    def choose(model):
        sweep = {}
        for guidance in guidances:
            sweep[f"{guidance:g}"] = {key: round(evaluation.measure(model, spec(guidance, key, num_samples)), 4)
                                      for key in ("label_accuracy", "frechet_distance")}
        accurate = [g for g in guidances if sweep[f"{g:g}"]["label_accuracy"] >= accuracy_bar]
        if accurate:
            best = min(accurate, key=lambda g: sweep[f"{g:g}"]["frechet_distance"])
        else:
            best = max(guidances, key=lambda g: sweep[f"{g:g}"]["label_accuracy"])
        figures = {f"guidance_sweep_{num_samples}_samples": sweep, "guidance": best}
        return spec(best, "label_accuracy", 10000), {**sample_args, "guidance": best}, figures

    return choose
