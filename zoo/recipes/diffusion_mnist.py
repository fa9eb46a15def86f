"""Reproduce zoo entry diffusion-mnist (residual U-Net with attention, cosine schedule, v prediction, EMA weights).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/diffusion_mnist.py [--epochs N]

Needs the mnist-classifier entry (Frechet distances and class histogram). Resumable: run the same
command again after a crash. Measuring the card (DDIM 50 steps on 10,000 samples; DDIM 20/50/100
steps and DDPM 1000 steps on 1,000) takes about as long as a few epochs on a CPU.
"""

import numpy as np

from kerasgen import data, metrics, zoo
from kerasgen.models.base import sample_in_chunks
from kerasgen.recipes import run_zoo_recipe

FRECHET_ARGS = {"classifier": "mnist-classifier", "dataset": "mnist", "split": "test", "num_samples": 10000}
FRECHET = {"key": "frechet_distance", "name": "Frechet distance (mnist-classifier features), DDIM 50 steps",
           "args": {**FRECHET_ARGS, "sample_args": {"steps": 50, "sampler": "ddim"}}}


# Card figures besides the headline: key -> (samples, sampling arguments). All on 1,000 samples, so that
# they compare with each other (DDPM's 1000 steps cost 20x DDIM 50's); the headline is DDIM 50 on 10,000.
DISTANCES = {
    "ddim_20_steps_1000_samples": (1000, {"steps": 20, "sampler": "ddim"}),
    "ddim_50_steps_1000_samples": (1000, {"steps": 50, "sampler": "ddim"}),
    "ddim_100_steps_1000_samples": (1000, {"steps": 100, "sampler": "ddim"}),
    "ddim_50_steps_eta_1_1000_samples": (1000, {"steps": 50, "sampler": "ddim", "eta": 1.0}),
    "ddpm_1000_steps_1000_samples": (1000, {"steps": 1000, "sampler": "ddpm"}),
}
PROCEDURE = ("mnist-classifier 128-d penultimate features of samples (temperature 1, EMA weights, float32, seeds 0, "
             "1, ... by chunks of 500) vs the 10,000 MNIST test images; DDIM eta 0 unless the key says eta 1; "
             "class histogram of the headline's 10,000 DDIM 50 samples.")


def report(model):
    classifier = zoo.load("mnist-classifier")
    test = data.load_image_arrays("mnist", "test")[0].astype(np.float32) / 255.0
    test_features = classifier.features(test)
    headline_args = FRECHET["args"]["sample_args"]
    headline = sample_in_chunks(model, FRECHET_ARGS["num_samples"], 0, chunk=500, **headline_args)
    figures = {}
    for key, (num_samples, sample_args) in DISTANCES.items():
        # Same seeds by chunk: a smaller set of the headline's sampler is the headline's first images.
        fake = headline[:num_samples] if sample_args == headline_args else sample_in_chunks(
            model, num_samples, 0, chunk=500, **sample_args)
        figures[key] = round(metrics.frechet_distance(classifier.features(fake), test_features), 3)
    histogram = metrics.class_histogram(classifier, headline)
    return {**figures, "class_histogram": [round(float(p), 4) for p in histogram], "procedure": PROCEDURE}


if __name__ == "__main__":
    run_zoo_recipe(
        "diffusion-mnist",
        "diffusion",
        "mnist (train 60,000)",
        FRECHET,
        "U-Net widths 16-32-64-128 (28, 14, 7 and 4 pixels), one residual block per level, self-attention at "
        "4x4, sinusoidal timestep embedding; cosine schedule, 1000 timesteps, v prediction, EMA 0.999; Adam "
        "5e-4 (2.5e-4 from epoch 31, 1e-4 from epoch 36), clipnorm 1, batch 64, mixed_bfloat16.",
        __file__,
        default_epochs=38,
        report=report,
        storage="float16",
        # DDIM 50 at eta 1 scored 5.387 on 1,000 samples, eta 0 8.585 and DDPM 1000 6.156: the CLI's default.
        sample_defaults={"sampler": "ddim", "steps": 50, "eta": 1.0},
        dataset="mnist",
        batch_size=64,
        learning_rate=5e-4,
        schedule={30: 2.5e-4, 35: 1e-4},
        clipnorm=1.0,
        model_kwargs={"widths": (16, 32, 64, 128), "block_depth": 1, "attention": True, "prediction": "v"},
    )
