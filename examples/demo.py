"""The kerasgen demo: list the zoo, continue a prompt with every text model, draw every image model's samples,
and let each classifier in the zoo say what it sees in the samples of the image models of its data set.

    python examples/demo.py [--out out]
"""

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasgen import cli, startup  # noqa: E402

NUM_SAMPLES = 64
PER_CLASS = 8  # class-conditional models: a row of this many samples per class
NUM_POINTS = 2000
CONFIDENCE = 0.9


def dataset_name(card):
    """The data set a card names first ("mnist (train 60,000)" -> "mnist"), as the zoo table shows it."""
    return card["dataset"].split(" ")[0]


def classifier_verdicts(classifier_card, classifier, samples):
    """One line per image model whose samples fit ``classifier``: its input shape and its card's data set.

    ``samples`` is a list of (card, images); each line gives how many images the classifier assigns to one class
    with probability >= ``CONFIDENCE`` and how many images fall in each class.
    """
    lines = []
    for card, images in samples:
        if tuple(images.shape[1:]) != classifier.image_shape or dataset_name(card) != dataset_name(classifier_card):
            continue
        probabilities = np.asarray(classifier.predict(images, batch_size=len(images), verbose=0))
        confident = int(np.sum(probabilities.max(axis=-1) >= CONFIDENCE))
        counts = np.bincount(probabilities.argmax(axis=-1), minlength=classifier.num_classes)
        lines.append(f"{card['name']:<16} {confident:2d}/{len(images)} ({confident / len(images):.0%}) with "
                     f"probability >= {CONFIDENCE}; per class 0-{classifier.num_classes - 1}: "
                     + " ".join(f"{count:2d}" for count in counts))
    return lines


def write_samples(out, prompt="ROMEO:", max_new_chars=300, max_new_words=300, temperature=0.8):
    """Write into ``out`` one file per zoo entry, fixed seeds throughout, and print what each shows.

    Text models: ``<name>.txt``, the prompt (``prompt`` for character models, "the company said" for word models)
    continued at ``temperature``. Image models: ``<name>.png``, a grid of ``NUM_SAMPLES`` samples at temperature 1
    (each model's default sampler), or a scatter of ``NUM_POINTS`` points for 2-D densities. Classifiers:
    ``<name>.txt``, their verdicts on the grids' samples (``classifier_verdicts``).
    """
    from kerasgen import zoo
    from kerasgen.images import image_grid, save_png, scatter_image
    from kerasgen.models import ImageClassifier, ImageGenerator, PointGenerator, TextGenerator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classifiers, samples = [], []
    for entry in zoo.list():
        name = entry["name"]
        model = zoo.load(name)
        if isinstance(model, TextGenerator):
            char_level = model.tokenizer.level == "char"
            text = model.generate(prompt if char_level else "the company said", temperature=temperature, seed=0,
                                  max_new_tokens=max_new_chars if char_level else max_new_words)
            (out / f"{name}.txt").write_text(text + "\n")
            print(f"\n=== {name} (temperature {temperature}) ===\n{text}")
        elif isinstance(model, PointGenerator):  # a density of 2-D points
            path = save_png(scatter_image(model.sample(NUM_POINTS, temperature=1.0, seed=0)), out / f"{name}.png")
            print(f"\n=== {name}: {NUM_POINTS} sampled points in {path} ===")
        elif isinstance(model, ImageGenerator) and getattr(model, "num_classes", None):  # one row per class
            guidance = entry.get("sample_defaults", {}).get("guidance")
            labels = np.repeat(np.arange(model.num_classes), PER_CLASS)
            images = model.sample(len(labels), temperature=1.0, seed=0, labels=labels,
                                  **({"guidance": guidance} if guidance is not None else {}))
            samples.append((entry, images))
            path = save_png(image_grid(images, cols=PER_CLASS), out / f"{name}.png")
            print(f"\n=== {name}: {PER_CLASS} samples of each of its {model.num_classes} classes, one row per "
                  f"class, in {path} ===")
        elif isinstance(model, ImageGenerator):
            images = model.sample(NUM_SAMPLES, temperature=1.0, seed=0)
            samples.append((entry, images))
            path = save_png(image_grid(images), out / f"{name}.png")
            print(f"\n=== {name}: {NUM_SAMPLES} samples in {path} ===")
        elif isinstance(model, ImageClassifier):
            classifiers.append((entry, model))
            print(f"\n=== {name}: a classifier of {model.image_shape} images into {model.num_classes} classes "
                  f"({entry['metric']['name']} {entry['metric']['value']}); its verdicts follow the samples ===")
        else:
            print(f"\n=== {name}: a {type(model).__name__}, neither a generator nor a classifier: nothing to show ===")
    for entry, classifier in classifiers:
        title = (f"what {entry['name']} says about the samples (temperature 1, seed 0) of each "
                 f"{dataset_name(entry)} image model: {NUM_SAMPLES}, or {PER_CLASS} of each class")
        verdicts = "\n".join(classifier_verdicts(entry, classifier, samples)) or "no image model's samples fit it"
        (out / f"{entry['name']}.txt").write_text(f"{title}:\n{verdicts}\n")
        print(f"\n=== {title} ===\n{verdicts}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="folder for generated text, image grids and verdicts")
    parser.add_argument("--prompt", default="ROMEO:")
    args = parser.parse_args()
    startup.quiet_tensorflow()
    cli.main(["zoo", "list"])
    write_samples(args.out, prompt=args.prompt)
    print(f"\nwrote generated text, image grids and classifier verdicts to {args.out}/")


if __name__ == "__main__":
    main()
