"""Reproduce zoo entry dcgan-mnist-cond: a DCGAN that draws the digit asked for.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/dcgan_mnist_cond.py [--epochs N]

dcgan-mnist's generator with a one-hot label beside z, and its discriminator made a projection discriminator
(Miyato and Koyama, 2018), trained from scratch on the labelled training set. Needs the mnist-classifier entry.
Resumable: run the same command again after a crash. The card's figure is label accuracy (10,000 samples); the
further figures are the Frechet distance and the classification accuracy score (a fresh mnist-classifier trained on
10,000 samples, tested on the real test set, beside the same recipe on the first 10,000 real
training images); the Frechet distance compares balanced samples with class-balanced test images.
"""

from kerasgen.recipes import conditional_figures, label_accuracy_spec, run_zoo_recipe

PROCEDURE = ("balanced labels (every class in turn), temperature 1, float32, seeds 0, 1, ... by chunks of 500; "
             "classification accuracy score: mnist-classifier's architecture and recipe (Adam 1e-3, batch 128, 6 "
             "epochs) trained on the samples, tested on the 10,000 MNIST test images, beside the same recipe on the "
             "first 10,000 real training images.")


if __name__ == "__main__":
    run_zoo_recipe(
        "dcgan-mnist-cond",
        "dcgan",
        "mnist (train 60,000 with labels)",
        label_accuracy_spec("mnist-classifier"),
        "dcgan-mnist's networks, class-conditional: generator dense(z, one-hot label) -> 7x7x128 -> deconv 64 -> "
        "deconv 1 (sigmoid), synchronized batch norm, LeakyReLU; projection discriminator conv 64-128 stride 2 "
        "with a learned class embedding; each fake drawn with a real image's label; non-saturating loss, label "
        "smoothing 0.1; Adam 2e-4 beta1 0.5, batch 128.",
        __file__,
        default_epochs=20,
        procedure=PROCEDURE,
        figures=conditional_figures("mnist", "mnist-classifier"),
        dataset="mnist",
        conditional=True,
        batch_size=128,
        learning_rate=2e-4,
        model_kwargs={"latent_dim": 128, "filters": 64},
        storage="float16",
    )
