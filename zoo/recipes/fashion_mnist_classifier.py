"""Reproduce zoo entry fashion-mnist-classifier: Fashion-MNIST's feature model (Frechet distance, label accuracy
and the real-data baseline of the classification accuracy score).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/fashion_mnist_classifier.py [--epochs N]
"""

from kerasgen.recipes import run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "fashion-mnist-classifier",
        "classifier",
        "fashion_mnist (train 60,000; metric on test 10,000)",
        {"key": "accuracy", "name": "test accuracy", "args": {"dataset": "fashion_mnist", "split": "test"}},
        "mnist-classifier's architecture: Conv32-Conv32-pool-Conv64-Conv64-pool, dropout 0.3, Dense 128 ReLU (the "
        "feature layer for Frechet distances), softmax over 10 classes; Adam 1e-3 (3e-4 from epoch 9), batch 128.",
        __file__,
        default_epochs=12,
        dataset="fashion_mnist",
        batch_size=128,
        learning_rate=1e-3,
        schedule={8: 3e-4},
    )
