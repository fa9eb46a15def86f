"""Reproduce zoo entry dcgan-mnist.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/dcgan_mnist.py [--epochs N]

Needs the mnist-classifier entry (Frechet distance and class histogram).
"""

from kerasgen.recipes import class_histogram_spec, confident_share_spec, floor_spec, frechet_spec, run_zoo_recipe

FRECHET = frechet_spec("mnist-classifier", "mnist")
PROCEDURE = ("mnist-classifier 128-d penultimate features, 10,000 samples (temperature 1, seeds 0..19 by chunks of "
             "500) vs the 10,000 MNIST test images")


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
        procedure=PROCEDURE,
        figures=[floor_spec("mnist-classifier", "mnist"), class_histogram_spec("mnist-classifier"),
                 confident_share_spec("mnist-classifier")],
        dataset="mnist",
        batch_size=128,
        learning_rate=2e-4,
        model_kwargs={"latent_dim": 128, "filters": 64},
        storage="float16",
    )
