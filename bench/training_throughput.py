"""One training step of each zoo entry's configuration under float32 and under the auto policy, side by side.

    python bench/training_throughput.py [--entries NAME ...] [--steps 5] [--policies float32 auto]

Each entry's network is the zoo file's, rebuilt under each policy with fresh optimizer state and compiled as its
family's training runs compile it; it trains on random data of the entry's shape at the batch size a run uses by
default (64 for text, 128 for images), windows of 128 tokens. A step's time is the median of ``--steps`` steps after
two warm-up steps (tracing is not counted). The CPU and its matrix features head the table; ratios compare the
policies within this one run.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's kerasgen

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasgen import families, precision, recipes, zoo  # noqa: E402
from kerasgen.saving import policy_copy  # noqa: E402
from kerasgen.training.schedules import make_optimizer  # noqa: E402


class StepTimes(keras.callbacks.Callback):
    """The seconds of every training step it sees, over several ``fit`` calls."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self.began = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.began)



def batch_for(family, model, batch_size, rng):
    """(x, y) of random data shaped as the entry's training batches."""
    if family.kind == families.TEXT:
        ids = rng.integers(0, model.tokenizer.vocab_size, (batch_size, 129)).astype("int32")
        return ids[:, :-1], ids[:, 1:]
    images = rng.random((batch_size, *model.image_shape)).astype("float32")
    if family.train_transform:  # binarised images (the VAE)
        images = (images > 0.5).astype("float32")
    classes = getattr(model, "num_classes", None)
    labelled = family.labels or classes is not None
    return images, (rng.integers(0, classes or 10, batch_size).astype("int32") if labelled else None)


def step_time(name, policy, steps, rng):
    family = families.get(zoo.info(name)["family"])
    precision.set_policy(policy)
    model = policy_copy(zoo.load(name), keras.mixed_precision.dtype_policy().name, fresh=True)
    kind = families.POINTS if getattr(model, "point_shape", None) else family.kind
    defaults = families.RUN_DEFAULTS[kind]
    batch_size = defaults["batch_size"]
    family.compile_model(model, lambda rate: make_optimizer("adam", rate, defaults["clipnorm"], None,
                                                            **family.optimizer_options), 1e-4)
    if kind == families.POINTS:
        x, y = rng.standard_normal((batch_size, *model.point_shape)).astype("float32"), None
    else:
        x, y = batch_for(family, model, batch_size, rng)
    timer = StepTimes()
    for _ in range(steps + 2):  # one step per fit; the first two (tracing, warm-up) are not counted
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
    precision.set_policy("float32")
    return statistics.median(timer.times[2:]), batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="*", default=None, help="zoo entries (default: every generative one)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--policies", nargs="*", default=["float32", "auto"])
    args = parser.parse_args()
    entries = args.entries or [name for name in zoo.names() if zoo.info(name)["family"] != "classifier"]
    policies = [precision.auto_policy() if policy == "auto" else policy for policy in args.policies]
    print(f"CPU: {recipes.machine()}; auto policy here: {precision.auto_policy()}")
    print(f"| entry | batch | {' | '.join(f'{p} step (s)' for p in policies)} | {policies[0]} / {policies[-1]} |")
    print("| --- | --- |" + " --- |" * (len(policies) + 1))
    rng = np.random.default_rng(0)
    for name in entries:
        times = [step_time(name, policy, args.steps, rng) for policy in policies]
        batch = times[0][1]
        seconds = [t for t, _ in times]
        print(f"| {name} | {batch} | {' | '.join(f'{t:.3f}' for t in seconds)} | {seconds[0] / seconds[-1]:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
