"""Reproduce zoo entry diffusion-fashion-mnist-cond: a guided diffusion model that draws the garment asked for.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/diffusion_fashion_mnist_cond.py [--epochs N]

Starts from the diffusion-mnist entry's U-Net weights (the denoiser's low-level features carry over between the
two 28x28 data sets) with a zero label embedding, and learns Fashion-MNIST's ten classes with label dropout 0.1.
Needs the fashion-mnist-classifier entry. Resumable: run the same command again after a crash. After training,
a guidance sweep (0, 1, 1.5, 2, 4 on 1,000 samples each, Frechet distances to class-balanced training images) picks
the default guidance: the lowest Frechet distance among the settings whose label accuracy is within 3 points of
fashion-mnist-classifier's own test accuracy; then the card's label accuracy (10,000 samples) and its further
figures on the test set: the Frechet distance (10,000 balanced samples against class-balanced test images), the
real-data baseline and the classification accuracy score (a fresh fashion-mnist-classifier trained on 10,000
samples, tested on the real test set, beside the same recipe on the first 10,000 real training images).
"""

from kerasgen.recipes import conditional_figures, guidance_sweep, label_accuracy_spec, run_zoo_recipe

SAMPLER = {"steps": 50, "sampler": "ddim", "eta": 1.0}
NOTE = ", DDIM 50 eta 1"
PROCEDURE = ("balanced labels (every class in turn), temperature 1, EMA weights, float32, seeds 0, 1, ... by chunks "
             "of 500; classification accuracy score: fashion-mnist-classifier's architecture trained with Adam 1e-3, "
             "batch 128, 6 epochs on the samples, tested on the 10,000 Fashion-MNIST test images, beside the same "
             "recipe on the first 10,000 real training images.")

if __name__ == "__main__":
    run_zoo_recipe(
        "diffusion-fashion-mnist-cond",
        "diffusion",
        "fashion_mnist (train 60,000 with labels)",
        label_accuracy_spec("fashion-mnist-classifier", {**SAMPLER, "guidance": 1.0}, note=f"{NOTE}, guidance 1"),
        "diffusion-mnist's U-Net (widths 16-32-64-128, attention at 4x4, v prediction, EMA 0.999) with a label "
        "embedding (scaled by sqrt(64)) added to the timestep embedding, started from diffusion-mnist's weights "
        "and fine-tuned on Fashion-MNIST; label dropout 0.1 (classifier-free guidance); Adam 5e-4 (2e-4 from "
        "epoch 11, 1e-4 from epoch 15), clipnorm 1, batch 64.",
        __file__,
        default_epochs=16,
        procedure=PROCEDURE,
        choose=guidance_sweep("fashion-mnist-classifier", "fashion_mnist", SAMPLER, within=0.03, note=NOTE),
        figures=lambda sample_defaults: conditional_figures("fashion_mnist", "fashion-mnist-classifier",
                                                            sample_defaults),
        storage="float16",
        dataset="fashion_mnist",
        init="diffusion-mnist",
        conditional=True,
        batch_size=64,
        learning_rate=5e-4,
        schedule={10: 2e-4, 14: 1e-4},
        clipnorm=1.0,
    )
