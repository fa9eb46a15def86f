"""Reproduce zoo entry diffusion-mnist (residual U-Net with attention, cosine schedule, v prediction, EMA weights).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/diffusion_mnist.py [--epochs N]

Needs the mnist-classifier entry (Frechet distances and class histogram). Resumable: run the same
command again after a crash. Measuring the card (DDIM 50 steps on 10,000 samples; DDIM 20/50/100
steps and DDPM 1000 steps on 1,000) takes about as long as a few epochs on a CPU.
"""

from kerasgen.recipes import class_histogram_spec, frechet_spec, run_zoo_recipe

HEADLINE = {"steps": 50, "sampler": "ddim"}
FRECHET = frechet_spec("mnist-classifier", "mnist", sample_args=HEADLINE,
                       name="Frechet distance (mnist-classifier features), DDIM 50 steps")
# Further figures: Frechet distances of 1,000 samples (against all 10,000 test images) by sampler, so that they compare
# with each other (DDPM's 1000 steps cost 20x DDIM 50's), and the class histogram of the headline's samples.
DISTANCES = {
    "ddim_20_steps_1000_samples": ({"steps": 20, "sampler": "ddim"}, "DDIM 20 steps"),
    "ddim_50_steps_1000_samples": ({"steps": 50, "sampler": "ddim"}, "DDIM 50 steps"),
    "ddim_100_steps_1000_samples": ({"steps": 100, "sampler": "ddim"}, "DDIM 100 steps"),
    "ddim_50_steps_eta_1_1000_samples": ({"steps": 50, "sampler": "ddim", "eta": 1.0}, "DDIM 50 steps, eta 1"),
    "ddpm_1000_steps_1000_samples": ({"steps": 1000, "sampler": "ddpm"}, "DDPM 1000 steps"),
}
FIGURES = [
    *(frechet_spec("mnist-classifier", "mnist", 1000, sample_args, figure=key, reference_samples=10000,
                   name=f"Frechet distance (mnist-classifier features), {words}, 1,000 samples")
      for key, (sample_args, words) in DISTANCES.items()),
    class_histogram_spec("mnist-classifier", sample_args=HEADLINE, note=", DDIM 50 steps"),
    # The conditional entries' reference (as many test images of each class), with the sampler the card recommends.
    frechet_spec("mnist-classifier", "mnist", sample_args={"steps": 50, "sampler": "ddim", "eta": 1.0},
                 figure="frechet_distance_balanced_reference", reference="balanced",
                 name="Frechet distance (mnist-classifier features), DDIM 50 steps, eta 1, against class-balanced "
                      "test images (the conditional entries' reference)"),
]
PROCEDURE = ("mnist-classifier 128-d penultimate features of samples (temperature 1, EMA weights, float32, seeds 0, "
             "1, ... by chunks of 500) vs the 10,000 MNIST test images; DDIM eta 0 unless a figure says eta 1.")


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
        procedure=PROCEDURE,
        figures=FIGURES,
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
