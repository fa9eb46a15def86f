"""Reproduce zoo entry mnist-classifier: the feature model behind every image card's Frechet distance.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/mnist_classifier.py [--epochs N]
"""

from kerasgen.recipes import run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "mnist-classifier",
        "classifier",
        "mnist (train 60,000; metric on test 10,000)",
        {"key": "accuracy", "name": "test accuracy", "args": {"dataset": "mnist", "split": "test"}},
        "Conv32-Conv32-pool-Conv64-Conv64-pool, dropout 0.3, Dense 128 ReLU (the feature layer for Frechet "
        "distances), softmax over 10 digits; Adam 1e-3, batch 128.",
        __file__,
        default_epochs=6,
        dataset="mnist",
        batch_size=128,
        learning_rate=1e-3,
    )
