"""Reproduce zoo entry dcgan-mnist.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/dcgan_mnist.py [--epochs N]

Needs the mnist-classifier entry (Frechet distance and class histogram).
"""

import numpy as np

from kerasgen import data, metrics, zoo
from kerasgen.models.base import sample_in_chunks
from kerasgen.recipes import run_zoo_recipe

FRECHET = {"key": "frechet_distance", "name": "Frechet distance (mnist-classifier features)",
           "args": {"classifier": "mnist-classifier", "dataset": "mnist", "split": "test", "num_samples": 10000}}


def report(model):
    classifier = zoo.load("mnist-classifier")
    train = data.load_image_arrays("mnist", "train")[0][:10000].astype(np.float32) / 255.0
    test = data.load_image_arrays("mnist", "test")[0].astype(np.float32) / 255.0
    histogram = metrics.class_histogram(classifier, sample_in_chunks(model, 10000, seed=0, chunk=500))
    return {
        "floor": round(metrics.frechet_distance(classifier.features(train), classifier.features(test)), 3),
        "floor_procedure": "the same distance between the first 10,000 MNIST training images and the test set",
        "class_histogram": [round(float(p), 4) for p in histogram],
        "procedure": "mnist-classifier 128-d penultimate features, 10,000 samples (temperature 1, seeds 0..19 by "
                     "chunks of 500) vs the 10,000 MNIST test images",
    }


if __name__ == "__main__":
    run_zoo_recipe(
        "dcgan-mnist",
        "dcgan",
        "mnist (train 60,000)",
        FRECHET,
        "Generator dense -> 7x7x128 -> deconv 64 -> deconv 1 (sigmoid), synchronized batch norm, LeakyReLU; "
        "discriminator conv 64-128 stride 2; non-saturating loss, label smoothing 0.1; Adam 2e-4 beta1 0.5, batch 128.",
        __file__,
        default_epochs=25,
        report=report,
        dataset="mnist",
        batch_size=128,
        learning_rate=2e-4,
        model_kwargs={"latent_dim": 128, "filters": 64},
    )
