"""Zoo recipes: train a model for a zoo entry, measure its card's metric, publish weights and card.

Each ``zoo/recipes/<name>.py`` is one call to ``run_zoo_recipe``; the card records the exact command that reproduces
the entry and the machine that ran it.
"""

import json
import os
import platform
import sys
import time
from pathlib import Path

from kerasgen import evaluation, metrics, precision, training, zoo
from kerasgen.models.chunks import sample_cache
from kerasgen.saving import policy_copy

STOPPED = 75  # the exit status of a recipe stopped by --max-time (resumable), as for `kerasgen train`


# CPU flags (/proc/cpuinfo) that decide training speed here, and how a card names them.
MATRIX_FEATURES = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_features(flags=None):
    """The matrix features of this CPU a card names (AMX, AVX-512 BF16, AVX-512, AVX2), from ``flags`` (a set of
    /proc/cpuinfo flags; default this machine's). AVX-512 BF16 and AMX are what ``mixed_bfloat16`` runs fast on."""
    if flags is None:
        flags = set()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("flags"):
                        flags = set(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
    named = [name for flag, name in MATRIX_FEATURES if flag in flags]
    if "AVX-512 BF16" in named:
        named.remove("AVX-512")  # implied
    return named


def machine():
    """This machine in a few words, for a card: CPU model, core count, matrix features, and whether the backend
    sees a GPU."""
    from kerasgen import backend

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    features = ", ".join(cpu_features()) or "no AVX2"
    return f"{cpu} ({os.cpu_count()} cores; {features}), " + ("GPU" if backend.has_gpu() else "no GPU")


def run_zoo_recipe(name, family, dataset_description, metric, notes, recipe_file, default_epochs, procedure=None,
                   storage="float32", finetune=None, sample_defaults=None, choose=None, figures=(), continued=None,
                   **train_kwargs):
    """Train a model for zoo entry ``name``, measure ``metric`` and publish weights and card.

    The command line of the recipe script is ``[--epochs N] [--logdir DIR]``;
    the card records the exact command that reproduces the entry. ``procedure``
    (words) says how the figures were measured. ``storage`` is
    the weights' dtype in the shipped file (``zoo.publish``). Run again after
    the last epoch, the recipe republishes from the final checkpoint.
    ``finetune`` (train keyword arguments with ``epochs``) adds a second run
    that starts from the first one's saved model with fresh optimizer state
    (``--finetune-epochs N``; its ``model_kwargs`` change settings that keep
    the weights, such as the EMA decay), itself resumable. ``sample_defaults``
    ({setting: value}, chosen by the card's figures) are what ``kerasgen sample``
    uses for the entry unless told otherwise. ``choose`` (shipped model -> (metric, sample_defaults, figures))
    picks them by measurement after training instead (a guidance sweep, say); its figures (measured specs) join
    the card's ``figures``.
    ``figures``: further metric specs ({key, name, args}) measured after the headline one and kept on the card's
    ``figures`` list, each recomputable by ``kerasgen eval NAME --figure KEY``; or a function of the chosen
    ``sample_defaults`` returning them. The card is written after each figure (some take hours); a republish
    keeps the figures its earlier card measured with the same spec, so a run stopped while measuring resumes.
    ``continued`` (train keyword arguments): what a ``--continue`` run uses in place of the recipe's settings, such
    as a lower learning rate with the ``step`` schedule for weights already trained to a low rate; its run record on
    the card lists them.
    """
    import argparse

    parser = argparse.ArgumentParser(description=f"Reproduce zoo entry {name} (resumable: rerun after a crash).")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--logdir", default=f"runs/{name}")
    parser.add_argument("--max-time", metavar="DURATION",
                        help="stop cleanly once this much time is spent (2h, 90m, 1h30m or seconds): rerun the "
                             f"same command to continue (exit status {STOPPED} until the run finishes)")
    parser.add_argument("--continue", dest="continue_run", action="store_true",
                        help="start from the published entry's weights, train --epochs more, and republish only "
                             "if the card's figure improves (the card records each run)")
    if finetune:
        finetune = dict(finetune)
        parser.add_argument("--finetune-epochs", type=int, default=finetune.pop("epochs"))
    args = parser.parse_args()
    data_name = train_kwargs.pop("dataset", None) or train_kwargs.pop("text", None)
    started = time.monotonic()
    first = os.path.join(args.logdir, "first_run.keras") if finetune else None
    try:  # the run's settings, checked once (a bad --epochs or --max-time is a usage error)
        config = training.RunConfig(family, data_name, epochs=args.epochs, logdir=args.logdir, out=first,
                                    max_time=args.max_time, **train_kwargs)
    except training.ConfigError as error:
        parser.error(error.as_flags())
    if args.continue_run:
        try:
            config = config.replace(**(continued or {}))
        except training.ConfigError as error:
            parser.error(error.as_flags())
        return _continue_entry(name, config, args, recipe_file, storage, continued)
    command = f"python zoo/recipes/{Path(recipe_file).name} --epochs {args.epochs}"
    model, history = training.train(config)
    _exit_if_stopped(history)
    if finetune:
        model, second = training.train(config.replace(
            epochs=args.finetune_epochs, init=first, logdir=os.path.join(args.logdir, "finetune"), out=None,
            backup_dir=None, max_time=_left(config.max_time, started), **finetune))
        _exit_if_stopped(second)
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
    if not history.epoch:  # the checkpoint already held every epoch: this run only publishes
        training_time = (f"trained by earlier sessions of the run ({args.epochs} of {args.epochs} epochs, resumed "
                         f"from checkpoints; their time is in their logs, not in the checkpoint), policy {history.policy}")
    previous = None
    if not history.epoch and name in zoo.names():  # a republish: the training time is the earlier card's
        previous = zoo.info(name)
        training_time = previous.get("training_time", training_time)
        if len(previous.get("runs") or ()) > 1:
            raise SystemExit(f"{name} was continued since this run ({len(previous['runs'])} runs on its card): "
                             f"republishing this run's weights would drop the later runs' (use --continue, or "
                             f"another --logdir to train anew)")
    card = zoo.publish(
        model,
        name,
        {
            "family": family,
            "dataset": dataset_description,
            "metric": {**metric, "value": None},
            "command": command,
            "training_time": training_time,
            "hardware": f"{machine()}, policy {history.policy}",
            "notes": notes,
            **({"sample_defaults": sample_defaults} if sample_defaults else {}),
        },
        storage=storage,
    )
    # The figure is measured on the shipped file, as `kerasgen eval` loads it: float32, from the zoo. Its samples are
    # kept under the logdir, so a run stopped while measuring draws only what it had not drawn yet.
    with sample_cache(os.path.join(args.logdir, "samples")):
        card = _measure_card(card, name, metric, choose, figures, previous, procedure)
    print(card)
    return card


def _left(max_time, started):
    """What is left of ``max_time`` seconds since ``started`` (at least a moment: the next run still takes a step)."""
    return None if max_time is None else max(max_time - (time.monotonic() - started), 1e-3)


def _exit_if_stopped(history):
    if not history.finished:
        sys.exit(STOPPED)


def _as_shipped(model, storage):
    """``model`` as ``zoo.load`` would return it once published with ``storage``: float32, weights rounded."""
    return policy_copy(policy_copy(model, storage, fresh=True), "float32", fresh=True)


def _first_run(card):
    """The run record of an entry published before cards kept their runs: what its card says of it."""
    return {"command": card.get("command"), "data": card.get("dataset"), "training_time": card.get("training_time"),
            "hardware": card.get("hardware"), "figure_before": None, "figure_after": card["metric"]["value"]}


def _continue_entry(name, config, args, recipe_file, storage, settings=None):
    """``--continue``: train the published entry ``name`` for ``args.epochs`` more epochs (the recipe's run
    ``config`` started from the entry's weights, ``settings`` the recipe's changes for a continued run); republish it
    only when its card's figure improves, with this run added to the card's ``runs``. Returns the card (unchanged
    when the figure did not improve)."""
    if name not in zoo.names():
        raise SystemExit(f"{name} is not in the zoo ({zoo.zoo_dir()}): run the recipe without --continue first")
    before = zoo.info(name)
    runs = list(before.get("runs") or [_first_run(before)])
    logdir = os.path.join(args.logdir, f"continue-{len(runs)}")
    model, history = training.train(config.replace(init=name, logdir=logdir, backup_dir=None, out=None))
    _exit_if_stopped(history)
    metric = before["metric"]
    spec = {key: metric[key] for key in ("key", "name", "args") if key in metric}
    precision.set_policy("float32")
    value = round(evaluation.measure(_as_shipped(model, storage), spec), 4)
    command = f"python zoo/recipes/{Path(recipe_file).name} --continue --epochs {args.epochs}"
    record = {
        "command": command, "epochs": args.epochs, "data": before.get("dataset"), "policy": history.policy,
        "hardware": machine(), "from": f"{name} as published (sha256 {before['sha256'][:12]})",
        "training_time": f"{history.seconds / 60:.0f} min for the final session ({len(history.epoch)} of "
                         f"{args.epochs} epochs)",
        "figure_before": metric["value"], "figure_after": value, **({"settings": dict(settings)} if settings else {}),
    }
    print(f"{name}: {metric['name']} {metric['value']} -> {value} after {args.epochs} more epochs", flush=True)
    if not evaluation.improves(spec["key"], value, metric["value"]):
        print(f"{name} is kept as it was: the figure did not improve (the run stays in {logdir}; another "
              "--logdir tries again)", flush=True)
        return before
    kept = {key: item for key, item in before.items()
            if key not in ("name", "file", "sha256", "parameters", "storage", "figures", "runs")}
    card = zoo.publish(model, name, {**kept, "metric": {**metric, "value": value},
                                     "command": f"{before['command']} && {command}", "runs": [*runs, record]},
                       storage=storage)
    shipped = zoo.load(name)
    with sample_cache(os.path.join(logdir, "samples")):
        for figure in before.get("figures", []):  # the further figures, measured again on the new weights
            value = evaluation.rounded(evaluation.measure(shipped, figure))
            card.setdefault("figures", []).append({**figure, "value": value})
            zoo.write_card(card)
    zoo.write_card(card)
    print(card)
    return card


def _measure_card(card, name, metric, choose, figures, previous, procedure=None):
    """Measure the shipped entry ``name``'s headline metric (after ``choose``, if any) and its further figures,
    writing the card after each; figures on the ``previous`` card of the same weights are kept. Returns the card."""
    precision.set_policy("float32")
    shipped = zoo.load(name)
    chosen = []
    if choose is not None:
        metric, sample_defaults, chosen = choose(shipped)
        card["sample_defaults"] = sample_defaults
    value = evaluation.measure(shipped, metric)
    card["metric"] = {**metric, "value": evaluation.rounded(value), **({"procedure": procedure} if procedure else {})}
    card["figures"] = list(chosen)
    if callable(figures):
        figures = figures(card.get("sample_defaults") or {})
    zoo.write_card(card)  # each figure is kept as soon as it is measured: some take hours
    earlier = _earlier_figures(previous)
    for spec in figures:
        value = earlier.get(_spec_key(spec))
        if value is None:
            value = evaluation.rounded(evaluation.measure(shipped, spec))
        else:
            print(f"{spec['name']}: {value}, kept from the card of these same weights (a republish, no new epochs)")
        card["figures"].append({**spec, "value": value})
        zoo.write_card(card)
    if not card["figures"]:
        del card["figures"]
        zoo.write_card(card)
    return card


def _spec_key(spec):
    return json.dumps({"key": spec["key"], "args": spec.get("args", {})}, sort_keys=True)


def _earlier_figures(card):
    """{spec: value} of the further figures on ``card`` (the entry's card before a republish), if any."""
    return {_spec_key(spec): spec["value"] for spec in (card or {}).get("figures", []) if spec.get("value") is not None}


def conditional_figures(dataset, classifier, sample_args=None, num_samples=10000, score_samples=10000):
    """A class-conditional entry's further figures (``run_zoo_recipe(figures=...)``): the Frechet distance of
    ``num_samples`` balanced samples to as many class-balanced ``dataset`` test images, the classification accuracy
    score of ``score_samples`` samples, and its baseline, the same classifier recipe on as many real training
    images (the longest, the score, last)."""
    sample = {"sample_args": dict(sample_args)} if sample_args else {}
    return [
        {"key": "frechet_distance",
         "name": f"Frechet distance ({classifier} features), balanced classes against class-balanced test images",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": num_samples,
                  "balanced": True, "reference": "balanced", **sample}},
        {"key": "real_data_accuracy", "name": f"real-data baseline ({score_samples:,} {dataset} training images)",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": score_samples}},
        {"key": "classification_accuracy_score",
         "name": f"classification accuracy score ({score_samples:,} samples, {dataset} test)",
         "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": score_samples,
                  **sample}},
    ]


def frechet_spec(classifier, dataset, num_samples=10000, sample_args=None, figure=None, name=None,
                 reference_samples=None, reference="first"):
    """A Frechet distance figure (``classifier``'s features) of ``num_samples`` unconditional samples against the
    ``dataset`` test images (``reference_samples`` of them, default as many; ``reference`` ``balanced``: as many of
    each class); ``figure`` names it on a card that holds several Frechet distances."""
    args = {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": num_samples}
    if reference_samples is not None:
        args["reference_samples"] = reference_samples
    if sample_args:
        args["sample_args"] = dict(sample_args)
    if reference != "first":
        args["reference"] = reference
    return {**({"figure": figure} if figure else {}), "key": "frechet_distance",
            "name": name or f"Frechet distance ({classifier} features)", "args": args}


def floor_spec(classifier, dataset, num_samples=10000):
    """The Frechet distance's floor: the first ``num_samples`` real training images against the test images."""
    return {"key": "real_data_frechet_distance",
            "name": f"floor: the same distance between the first {num_samples:,} {dataset} training images and the "
                    "test images",
            "args": {"classifier": classifier, "dataset": dataset, "split": "test", "num_samples": num_samples}}


def class_histogram_spec(classifier, num_samples=10000, sample_args=None, note=""):
    """The share of ``num_samples`` samples ``classifier`` assigns to each class (seeds 0, 1, ... by chunks of 500)."""
    return {"key": "class_histogram", "name": f"class histogram ({classifier}, {num_samples:,} samples{note})",
            "args": {"classifier": classifier, "num_samples": num_samples,
                     **({"sample_args": dict(sample_args)} if sample_args else {})}}


def confident_share_spec(classifier, num_samples=10000, threshold=0.9, sample_args=None, note=""):
    """The share of ``num_samples`` samples (seeds 0, 1, ... by chunks of 500) to which ``classifier`` gives one
    class with probability at least ``threshold``."""
    return {"key": "confident_share",
            "name": f"share of {num_samples:,} samples{note} {classifier} classifies with probability >= {threshold:g}",
            "args": {"classifier": classifier, "num_samples": num_samples, "threshold": threshold,
                     **({"sample_args": dict(sample_args)} if sample_args else {})}}


def label_accuracy_spec(classifier, sample_args=None, num_samples=10000, note=""):
    """The metric spec of a class-conditional entry's label accuracy under ``classifier`` (a zoo name)."""
    sample = {"sample_args": dict(sample_args)} if sample_args else {}
    return {"key": "label_accuracy", "name": f"label accuracy ({classifier}){note}",
            "args": {"classifier": classifier, "num_samples": num_samples, **sample}}


def guidance_sweep(classifier, dataset, sample_args, guidances=(0.0, 1.0, 1.5, 2.0, 4.0), num_samples=1000,
                   within=0.005, note=""):
    """A ``choose`` for ``run_zoo_recipe`` that picks a guided diffusion entry's default guidance by measurement.

    The choice is made on training images, so the test set only reports: each guidance in ``guidances`` gets its
    label accuracy and its balanced Frechet distance (``classifier``'s features) to as many class-balanced
    ``dataset`` training images, on ``num_samples`` samples. The default is the lowest distance among the
    guidances whose label accuracy is within ``within`` of the classifier's own accuracy on real test images (a
    bar relative to what the classifier can tell at all), else the most accurate. The card's headline is then the
    label accuracy at that guidance on 10,000 samples, and the sweep's figures (``guidance_G_label_accuracy``,
    ``guidance_G_frechet_distance``, each recomputable) join the card's figures.
    """
    def spec(guidance, key, samples):
        return sweep_spec(classifier, dataset, sample_args, guidance, key, samples, note)

    def choose(model):
        judge = zoo.load(classifier)
        bar = metrics.classifier_accuracy(judge, dataset, "test") - within
        sweep, figures = {}, []
        for guidance in guidances:
            for key in ("label_accuracy", "frechet_distance"):
                measured = round(evaluation.measure(model, spec(guidance, key, num_samples)), 4)
                sweep.setdefault(guidance, {})[key] = measured
                figures.append({"figure": f"guidance_{guidance:g}_{key}", **spec(guidance, key, num_samples),
                                "value": measured})
        accurate = [g for g in guidances if sweep[g]["label_accuracy"] >= bar]
        if accurate:
            best = min(accurate, key=lambda g: sweep[g]["frechet_distance"])
        else:
            best = max(guidances, key=lambda g: sweep[g]["label_accuracy"])
        metric = {**spec(best, "label_accuracy", 10000),
                  "chosen": f"guidance {best:g}: the lowest Frechet distance of the sweep among the guidances whose "
                            f"label accuracy is at least {bar:.4f} ({classifier}'s test accuracy less {within:g})"}
        return metric, {**sample_args, "guidance": best}, figures

    return choose


def sweep_spec(classifier, dataset, sample_args, guidance, key, num_samples, note=""):
    """One figure of a guidance sweep (``guidance_sweep``): the label accuracy (``key`` ``label_accuracy``) or the
    balanced Frechet distance to class-balanced training images (``frechet_distance``) at ``guidance``."""
    args = {**sample_args, "guidance": guidance}
    if key == "label_accuracy":
        return label_accuracy_spec(classifier, args, num_samples, f"{note}, guidance {guidance:g}")
    return {"key": "frechet_distance",
            "name": f"Frechet distance ({classifier} features), guidance {guidance:g}, balanced classes against "
                    "class-balanced training images",
            "args": {"classifier": classifier, "dataset": dataset, "split": "train", "num_samples": num_samples,
                     "balanced": True, "reference": "balanced", "sample_args": args}}


def ngram_baseline_spec(dataset, split, unit, max_order=8, measure="nll"):
    """A text entry's n-gram baseline figure (``run_zoo_recipe(figures=[...])``): an interpolated Kneser-Ney model
    on the entry's tokenizer, counted on ``dataset``'s train split, its order chosen on the validation split, scored
    on ``split`` in the headline's ``unit``; ``kerasgen eval NAME --figure ngram_baseline`` recomputes it."""
    args = {"dataset": dataset, "split": split, "max_order": max_order, **({"measure": measure} if measure != "nll"
                                                                          else {})}
    return {"key": "ngram_baseline",
            "name": f"n-gram baseline (interpolated Kneser-Ney on the model's tokenizer, order 1-{max_order} chosen "
                    f"on the validation split): {unit}",
            "args": args}
