"""The ``kerasgen`` command: zoo list/info, generate, sample, train, eval.

A user's mistake (a ``kerasgen.checks.KerasgenError``: bad usage, arguments, files or data, or an OS error such as a
missing file) prints one ``kerasgen: error: ...`` line on stderr and exits with status 2; any other exception is a bug
and shows its traceback (exit status 1). TensorFlow's start-up lines are kept off the terminal.
"""

import argparse
import inspect
import json
import os
import sys

from kerasgen.checks import KerasgenError

EXIT_USAGE = 2
EXIT_STOPPED = 75  # a run stopped by --max-time, resumable (sysexits' EX_TEMPFAIL: "try again later")


class UsageError(KerasgenError):
    """Bad command-line usage or input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser():
    parser = _Parser(prog="kerasgen", description="Train, sample, evaluate and fine-tune generative models.")
    from kerasgen import __version__, families

    parser.add_argument("--version", action="version", version=f"kerasgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    zoo = commands.add_parser("zoo", help="list or describe pretrained models")
    zoo_commands = zoo.add_subparsers(dest="zoo_command", required=True, parser_class=_Parser)
    listing = zoo_commands.add_parser("list", help="one line per zoo entry")
    listing.add_argument("--markdown", action="store_true", help="as a markdown table (the README's)")
    info = zoo_commands.add_parser("info", help="the card of one entry")
    info.add_argument("name")

    generate = commands.add_parser("generate", help="continue a prompt with a text model")
    generate.add_argument("name", help="zoo name or .keras file")
    generate.add_argument("--prompt", action="append", help="prompt text (repeat for a batch)")
    generate.add_argument("--max-new-tokens", type=int, default=300)
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument("--top-k", type=int)
    generate.add_argument("--top-p", type=float)
    generate.add_argument("--seed", type=int)

    sample = commands.add_parser("sample", help="sample images from an image model")
    sample.add_argument("name", help="zoo name or .keras file")
    sample.add_argument("-n", type=int, help="number of images (default 64; with --labels balanced and a .png, 8 per "
                                             "class)")
    sample.add_argument("--out", required=True, help=".png for a grid, .npz for a uint8 data set (with labels: x, y)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int)
    sample.add_argument("--steps", type=_positive_int, help="denoising steps (diffusion models)")
    sample.add_argument("--sampler", help="ddim or ddpm (diffusion models)")
    sample.add_argument("--eta", type=float, help="DDIM noise, 0 to 1 (diffusion models; default: the zoo card's "
                                                   "sample_defaults, else 0)")
    labels = sample.add_mutually_exclusive_group()
    labels.add_argument("--label", type=int, help="class-conditional models: draw every image of this class")
    labels.add_argument("--labels", help="class-conditional models: 'balanced' (each class in turn, a .png gets one "
                                         "row per class) or one comma-separated class per image")
    sample.add_argument("--guidance", type=float, help="classifier-free guidance weight with --label/--labels: 0 "
                                                       "unconditional, 1 conditional, more sharpens the classes "
                                                       "(default: the zoo card's sample_defaults, else 1)")
    sample.add_argument("--interpolate", action="store_true",
                        help="VAE: rows of images along the latent line between pairs of test images")
    sample.add_argument("--data", help="--interpolate: the data set or image folder whose test images the rows join "
                                       "(default: the zoo entry's data set)")
    sample.add_argument("--data-dir", help="local data directory for --interpolate (default $KERASGEN_DATA_DIR)")

    export = commands.add_parser("export", help="export a model for serving (a SavedModel with its signatures)")
    export.add_argument("name", help="zoo name or .keras file")
    export.add_argument("--format", default="saved_model", help=f"one of {', '.join(EXPORT_FORMATS)} (default "
                                                                "saved_model)")
    export.add_argument("--out", required=True, help="the folder to write (new or empty)")
    export.add_argument("--steps", type=_positive_int, help="diffusion models: the denoising steps the served "
                                                            "sample runs (default: the zoo card's, else 50)")
    export.add_argument("--sampler", help="diffusion models: ddim or ddpm (default: the zoo card's, else ddim)")
    export.add_argument("--eta", type=float, help="diffusion models: DDIM noise, 0 to 1 (default: the zoo card's, "
                                                  "else 0)")

    train = commands.add_parser("train", help="train (or fine-tune with --init) a model")
    train.add_argument("family", help=f"one of: {', '.join(families.names())}")
    train.add_argument("--text", help="text models: a text file or a data set name (default tiny_shakespeare)")
    train.add_argument(
        "--data", help="image models: mnist (default), fashion_mnist or a folder of images (realnvp: also moons)"
    )
    train.add_argument("--image-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                       help="image folders: the size images are read at (default: --init's, else the first image's)")
    for option in families.all_options():  # each family's model options
        if option.flag:
            train.add_argument(option.cli_flag, action="store_true", default=None, help=option.help)
        else:
            train.add_argument(option.cli_flag, type=_positive_int if option.type is int else option.type,
                               help=option.help)
    train.add_argument("--level", default="char", help="text models: char or word tokens")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--steps-per-epoch", type=int)
    train.add_argument("--batch-size", type=int, help="default 64 (text) or 128 (images)")
    train.add_argument("--seq-len", type=int, default=128)
    train.add_argument("--max-vocab", type=int, default=10000)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--carry-state", action="store_true",
                       help="lstm: truncated backpropagation through time on contiguous streams")
    train.add_argument("--random-offsets", action="store_true",
                       help="text models: cut the training windows at a new offset each epoch (less learning by "
                            "heart)")
    train.add_argument("--init", help="zoo name or .keras file to start from (keeps its tokenizer)")
    train.add_argument("--extend-vocab", action="store_true",
                       help="text models with --init: add the text's unseen characters or words to the vocabulary")
    train.add_argument("--conditional", action="store_true",
                       help="learn the data's classes (diffusion): sample by class afterwards; with --init an "
                            "unconditional model keeps its weights and gains the classes")
    train.add_argument("--logdir", help="TensorBoard logs and the resume checkpoint")
    train.add_argument("--max-time", metavar="DURATION",
                       help="stop cleanly once this much time is spent (2h, 90m, 1h30m or seconds), resumable: run "
                            f"the same command to continue (exit status {EXIT_STOPPED} until the run finishes)")
    train.add_argument("--checkpoint-every", metavar="DURATION", default="10m",
                       help="checkpoint within epochs this often, so a killed run loses at most this (default 10m)")
    train.add_argument("--out", help="where to save the trained model (.keras); written when the run finishes")
    train.add_argument("--policy", default="auto", help="auto, float32, mixed_bfloat16 or mixed_float16")
    train.add_argument("--strategy", default="default", help="default, mirrored or multiworker")
    train.add_argument("--data-dir", help=f"local data directory (default ${'KERASGEN_DATA_DIR'})")
    train.add_argument("--prompt", help="prompt for the temperature samples logged each epoch")
    train.add_argument("--seed", type=int, default=0)

    neighbors = commands.add_parser("neighbors", help="nearest tokens in a text model's embedding")
    neighbors.add_argument("name", help="zoo name or .keras file")
    neighbors.add_argument("--word", required=True, help="the word (or character) to look up")
    neighbors.add_argument("-k", type=_positive_int, default=10)

    evaluate = commands.add_parser("eval", help="recompute a zoo card's metric, or measure a model file's")
    evaluate.add_argument("name", help="zoo name, or a .keras file (judged by its family's figure, as the zoo's)")
    evaluate.add_argument("--figure", action="append", metavar="ID",
                          help="recompute this figure of the card's figures list instead of its metric (repeatable; "
                               "'all': the metric and every figure)")
    evaluate.add_argument("--data", help="a .keras file: the data set it is judged on (default its family's)")
    evaluate.add_argument("--data-dir", help="local data directory (default $KERASGEN_DATA_DIR)")
    evaluate.add_argument("--samples-dir", metavar="DIR",
                          help="keep the samples drawn in DIR and reuse them, so a recompute of hours stopped "
                               "midway resumes where it stopped (default: a temporary folder)")
    return parser


def _zoo_list(args):
    from kerasgen import zoo

    entries = zoo.list()
    if not entries:
        print(f"the zoo is empty ({zoo.zoo_dir()})")
        return
    rows = [("name", "family", "dataset", "metric", "size")]
    for e in entries:
        metric = f"{e['metric']['name']} = {e['metric']['value']}"
        baseline = [f["value"] for f in e.get("figures", []) if f["key"] == "ngram_baseline"]
        if baseline:
            metric += f" (n-gram baseline {baseline[0]})"
        size = f"{e['size'] / 1e6:.1f} MB" if e["size"] else "missing"
        rows.append((e["name"], e["family"], e["dataset"].split(" ")[0], metric, size))
    if args.markdown:
        for index, row in enumerate(rows):
            print("| " + " | ".join(row) + " |")
            if index == 0:
                print("|" + " --- |" * len(row))
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _zoo_info(args):
    from kerasgen import zoo

    print(json.dumps(zoo.info(args.name), indent=2))


def _load(name):
    from kerasgen import zoo

    return zoo.load_model(name)


def _generate(args):
    from kerasgen.checks import check_positive_int
    from kerasgen.models.base import MAX_NEW_TOKENS, TextGenerator
    from kerasgen.sampling import check_sampling_args

    check_positive_int(args.max_new_tokens, "max_new_tokens", 0, MAX_NEW_TOKENS)
    check_sampling_args(args.temperature, args.top_k, args.top_p)
    model = _load(args.name)
    if not isinstance(model, TextGenerator):
        raise UsageError(f"{args.name} is not a text model; use 'kerasgen sample'")
    prompts = args.prompt or [""]
    texts = model.generate(
        prompts, max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, seed=args.seed,
    )
    print("\n\n".join(texts))


def _sample(args):
    import numpy as np

    from kerasgen import zoo
    from kerasgen.images import image_grid, save_png
    from kerasgen.models.base import ImageGenerator, PointGenerator, check_sample_args

    if not args.out.endswith((".png", ".npz")):
        raise UsageError(f"--out must end in .png or .npz, got {args.out!r}")
    check_sample_args(DEFAULT_SAMPLES if args.n is None else args.n, args.temperature)
    model = _load(args.name)
    if not isinstance(model, (ImageGenerator, PointGenerator)):
        raise UsageError(f"{args.name} is not an image model; use 'kerasgen generate'")
    points = isinstance(model, PointGenerator)
    if points and args.out.endswith(".png"):
        raise UsageError(f"{args.name} samples points, not images: use --out FILE.npz")
    labels, rows = _sample_labels(args, model)
    extra = {key: getattr(args, key) for key in ("steps", "sampler", "eta", "guidance") if getattr(args, key) is not None}
    if labels is None and "guidance" in extra:
        raise UsageError("--guidance weighs the classes: give --label or --labels too")
    if not args.interpolate and args.name in zoo.names():  # the entry's measured best sampling settings
        defaults = dict(zoo.info(args.name).get("sample_defaults", {}))
        if labels is None:
            defaults.pop("guidance", None)
        extra = {**_fitting(defaults, extra.get("sampler")), **extra}
    if labels is not None:
        extra["labels"] = labels
    for key in extra:
        if args.interpolate or key not in inspect.signature(model.sample).parameters:
            raise UsageError(f"--{key} applies to diffusion sampling only, not to {args.name} ({type(model).__name__})")
    if args.interpolate:
        images = _interpolation_rows(model, args)
    else:
        from kerasgen.models.chunks import sample_in_chunks, samples_in_steps

        progress = _progress if args.n > 256 or samples_in_steps(model) else None
        images = sample_in_chunks(model, args.n, args.seed, progress=progress, temperature=args.temperature, **extra)
    if points:
        np.savez_compressed(args.out, points=np.asarray(images, np.float32))
    elif args.out.endswith(".png"):
        save_png(image_grid(images, cols=8 if args.interpolate else (len(images) // rows if rows else None)), args.out)
    elif labels is not None:
        np.savez_compressed(args.out, x=np.round(images * 255).astype(np.uint8), y=labels)
    else:
        np.savez_compressed(args.out, images=np.round(images * 255).astype(np.uint8))
    kind = "point" if points else "image"
    print(f"wrote {len(images)} {kind}{'' if len(images) == 1 else 's'} to {args.out}")


DEFAULT_SAMPLES = 64  # kerasgen sample's -n, unless a per-class grid sets it


EXPORT_FORMATS = {"saved_model": "tf_saved_model", "onnx": "onnx", "litert": "litert"}  # ours -> keras's


def _export(args):
    from kerasgen import zoo

    if args.format not in EXPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {args.format!r}")
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        raise UsageError(f"--out {args.out} exists and is not an empty folder: name a new one")
    from kerasgen.models.serving import Servable

    model = _load(args.name)
    if not isinstance(model, Servable):
        raise UsageError(f"{args.name} is not a kerasgen model; export a Keras model with model.export")
    supported = [ours for ours, theirs in EXPORT_FORMATS.items() if theirs in model.export_formats]
    if args.format not in supported:
        raise UsageError(f"{args.name} exports to {', '.join(supported)}, not {args.format}")
    options = {key: getattr(args, key) for key in ("steps", "sampler", "eta") if getattr(args, key) is not None}
    accepted = inspect.signature(model.serving_endpoints).parameters if args.format == "saved_model" else {}
    for key in options:
        if key not in accepted:
            raise UsageError(f"--{key} applies to a diffusion model's SavedModel only, not to {args.name} "
                             f"({type(model).__name__}, {args.format})")
    if args.name in zoo.names():  # the entry's measured best sampling settings
        defaults = _fitting(dict(zoo.info(args.name).get("sample_defaults", {})), options.get("sampler"))
        options = {**{key: value for key, value in defaults.items() if key in accepted}, **options}
    model.export(args.out, format=EXPORT_FORMATS[args.format], **options)
    served = model.serving_endpoints(**options) if args.format == "saved_model" else [model.network_endpoint()[0]]
    print(f"wrote {args.out} ({args.format}): {', '.join(served)}")


def _fitting(defaults, sampler):
    """A card's ``sample_defaults`` less the settings of its sampler that ``sampler`` (the user's choice) lacks:
    the card's DDIM ``eta`` does not follow the user to ``--sampler ddpm``."""
    if sampler is None or sampler == defaults.get("sampler"):
        return defaults
    from kerasgen import schedulers

    chosen = schedulers.SCHEDULERS.get(sampler)
    if chosen is None:
        return defaults  # the sampler's own error names the choices
    others = {setting for scheduler in schedulers.SCHEDULERS.values() for setting in scheduler.settings}
    return {key: value for key, value in defaults.items() if key not in others or key in chosen.settings}


def _sample_labels(args, model):
    """(the label of each image or None, the grid's row count for one row per class or None); sets ``args.n``."""
    import numpy as np

    from kerasgen.checks import balanced_labels, check_labels

    if args.label is None and args.labels is None:
        args.n = DEFAULT_SAMPLES if args.n is None else args.n
        return None, None
    num_classes = getattr(model, "num_classes", None)
    flag = "--label" if args.label is not None else "--labels"
    if num_classes is None:
        raise UsageError(f"{args.name} is unconditional (trained without labels): drop {flag}")
    if args.interpolate:
        raise UsageError(f"{flag} draws new images; --interpolate walks between test images")
    if args.label is not None:
        args.n = DEFAULT_SAMPLES if args.n is None else args.n
        return check_labels(args.label, args.n, num_classes), None
    if args.labels == "balanced":
        png = args.out.endswith(".png")
        args.n = (8 * num_classes if png else DEFAULT_SAMPLES) if args.n is None else args.n
        if png and args.n % num_classes:
            raise UsageError(f"a grid with one row per class needs -n to be a multiple of the {num_classes} classes "
                             f"(got {args.n}; {8 * num_classes} gives 8 per class)")
        if png:
            return balanced_labels(args.n, num_classes), num_classes  # in class order: one row per class
        # A data set's labels interleaved (0, 1, ..., 0, 1, ...): its first rows, or a validation split, hold
        # every class.
        return np.arange(args.n, dtype=np.int32) % num_classes, None
    try:
        given = [int(label) for label in args.labels.split(",")]
    except ValueError:
        raise UsageError(f"--labels takes 'balanced' or comma-separated class numbers, got {args.labels!r}") from None
    args.n = len(given) if args.n is None else args.n
    return check_labels(given, args.n, num_classes), None


def _interpolation_rows(model, args, steps=8):
    """``args.n // 8`` rows (at least one): each row walks from one test image of ``--data`` to another."""
    import numpy as np

    from kerasgen import data, zoo

    if not hasattr(model, "interpolate"):
        raise UsageError(f"{args.name} cannot interpolate (a VAE can)")
    dataset = args.data
    if dataset is None:
        if args.name not in zoo.names():
            raise UsageError("--interpolate with a model file needs --data: the data set or image folder to walk between")
        dataset = zoo.info(args.name)["dataset"].split(" ")[0]
    size = None if dataset in data.IMAGE_SETS else tuple(model.image_shape[:2])
    images, labels = data.load_image_arrays(dataset, "test", args.data_dir, image_size=size)
    images = images.astype(np.float32) / 255.0
    if images.shape[1:] != tuple(model.image_shape):
        raise UsageError(f"{dataset} holds images of shape {images.shape[1:]}; {args.name} takes {model.image_shape}")
    conditional = getattr(model, "num_classes", None) is not None
    if conditional and labels is None:
        raise UsageError(f"{args.name} is class-conditional: it walks between labelled images, and {dataset} has no "
                         "labels (put each class's images in a sub-folder of its own)")
    rows = max(1, args.n // steps)
    pick = np.random.default_rng(args.seed or 0).choice(len(images), size=2 * rows, replace=False)
    return np.concatenate([  # a conditional model reads each end's own class
        model.interpolate(images[a], images[b], steps, **({"labels": [int(labels[a]), int(labels[b])]}
                                                           if conditional else {}))
        for a, b in pick.reshape(rows, 2)
    ])


def _progress(done, total):
    """Sampling progress on stderr: one line rewritten in place on a terminal, a line each otherwise (a log)."""
    if sys.stderr.isatty():
        print(f"\rsampled {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)
    else:
        print(f"sampled {done}/{total}", file=sys.stderr, flush=True)


# What --text / --data may name, by the kind of data a family reads.
DATA_CHOICES = {"text": "ptb or a text file of your own", "images": "mnist, fashion_mnist or a folder of your images",
                "points": "moons"}


def _train(args):
    from kerasgen import distribute, families, training

    family = families.get(args.family)
    text_family = family.kind == families.TEXT
    for option in families.all_options():
        if getattr(args, option.name) is not None and option not in family.options:
            offered = [name for name in families.names() if option in families.get(name).options]
            raise UsageError(f"{option.cli_flag} applies to {', '.join(offered)}, not to {family.name}")
    model_kwargs = {o.name: getattr(args, o.name) for o in family.options if getattr(args, o.name) is not None}
    if args.init and model_kwargs:
        raise UsageError("--init keeps the zoo model's architecture: drop the size options")
    flag, given, other = ("--text", args.text, args.data) if text_family else ("--data", args.data, args.text)
    if other is not None:
        raise UsageError(f"{family.name} trains on {family.kind}: use {flag}, not {'--data' if text_family else '--text'}")
    flags = {"data": flag, "extend_vocabulary": "--extend-vocab", "model_kwargs": "the size options"}
    try:
        config = training.RunConfig(
            family, given, data_dir=args.data_dir, epochs=args.epochs, init=args.init, logdir=args.logdir,
            out=args.out, learning_rate=args.learning_rate, policy=args.policy, strategy=args.strategy,
            model_kwargs=model_kwargs, steps_per_epoch=args.steps_per_epoch, seed=args.seed,
            batch_size=args.batch_size, level=args.level, seq_len=args.seq_len, max_vocab=args.max_vocab,
            prompt=args.prompt, carry_state=args.carry_state, random_offsets=args.random_offsets,
            extend_vocabulary=args.extend_vocab,
            image_size=args.image_size, conditional=args.conditional, max_time=args.max_time,
            checkpoint_every=args.checkpoint_every,
        )
        if given is None:
            print(f"training on {config.data}, the default data set ({flag} chooses another: "
                  f"{DATA_CHOICES.get(family.kind, '')})", flush=True)
        model, history = training.train(config)
    except training.ConfigError as error:
        raise UsageError(error.as_flags(flags)) from None
    if not history.finished:
        return EXIT_STOPPED
    if args.out and distribute.is_chief(distribute.model_strategy(model)):  # other workers of a cluster save nothing
        print(f"saved {args.out}")


def _neighbors(args):
    from kerasgen.models.base import TextGenerator

    model = _load(args.name)
    if not isinstance(model, TextGenerator):
        raise UsageError(f"{args.name} is not a text model")
    for token, similarity in model.nearest_tokens(args.word, args.k):
        print(f"{similarity:.3f}  {token}")


def _eval(args):
    import contextlib
    import tempfile

    from kerasgen import evaluation, zoo
    from kerasgen.models.chunks import sample_cache

    if args.name.endswith(".keras"):
        return _eval_file(args)
    if args.data is not None:
        raise UsageError("--data applies to a .keras file; a zoo entry is judged on the data its card names")
    card = zoo.info(args.name)
    others = [evaluation.figure_id(spec) for spec in card.get("figures", [])]
    wanted = args.figure or [None]
    if "all" in wanted:
        wanted = [None, *others]
    specs = [evaluation.entry_figure(args.name, key) for key in wanted]  # every key checked before hours of work
    model = zoo.load(args.name)
    with contextlib.ExitStack() as scope:
        drawn = args.samples_dir or scope.enter_context(tempfile.TemporaryDirectory(prefix="kerasgen-eval-"))
        scope.enter_context(sample_cache(drawn))
        # Figures drawing the same seeded samples (a Frechet distance and the class histogram of its samples, or
        # 1,000 of the headline's 10,000) draw them once.
        for spec in specs:
            expected = spec["value"]
            measured = evaluation.measure(model, spec, data_dir=args.data_dir, progress=_progress)
            shown = evaluation.rounded(measured) if isinstance(measured, list) else f"{measured:.4f}"
            print(f"{args.name}: {spec['name']} = {shown} (card: {expected}; "
                  f"difference {100 * evaluation.difference(measured, expected):+.2f}%)", flush=True)
    if args.figure is None and others:
        print(f"the card's other figures: {', '.join(others)} (recompute with --figure ID or --figure all)")


def _eval_file(args):
    """``kerasgen eval my.keras``: the figures a zoo entry of the file's family would show, on ``--data``."""
    import contextlib

    from kerasgen import evaluation, zoo
    from kerasgen.models.chunks import sample_cache

    model = zoo.load_model(args.name)
    family, data, specs = evaluation.file_figures(model, args.data, args.figure)
    with sample_cache(args.samples_dir) if args.samples_dir else contextlib.nullcontext():
        for spec in specs:
            measured = evaluation.measure(model, spec, data_dir=args.data_dir, progress=_progress)
            print(f"{args.name}: {spec['name']} = {measured:.4f} ({family} on {data})", flush=True)


COMMANDS = {
    "generate": _generate, "sample": _sample, "train": _train, "neighbors": _neighbors, "eval": _eval,
    "export": _export,
}


def main(argv=None):
    import warnings

    shown = warnings.showwarning

    def show_warning(message, category, filename, lineno, file=None, line=None):
        """kerasgen's warnings as one ``kerasgen: warning: ...`` line, without the source line Python adds."""
        if not os.path.abspath(filename).startswith(os.path.dirname(os.path.abspath(__file__))):
            return shown(message, category, filename, lineno, file, line)
        print(f"kerasgen: warning: {' '.join(str(message).split())}", file=file or sys.stderr, flush=True)

    warnings.showwarning = show_warning
    try:
        args = build_parser().parse_args(argv)
        status = 0
        if args.command == "zoo":
            {"list": _zoo_list, "info": _zoo_info}[args.zoo_command](args)
        else:
            from kerasgen.startup import quiet_tensorflow

            quiet_tensorflow()
            status = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("kerasgen: interrupted", file=sys.stderr)
        return 130
    except (KerasgenError, OSError) as error:  # anything else is a bug: its traceback, and exit status 1
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        data = sys.modules.get("kerasgen.data")  # loaded by then if it raised
        if data and isinstance(error, data.DataNotFoundError):
            message = error.message("--data-dir DIR")  # the flag, where Python users read data_dir=...
        print(f"kerasgen: error: {' '.join(str(message).split())}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        warnings.showwarning = shown
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
