"""Reproduce zoo entry realnvp-mnist (multi-scale RealNVP on dequantised MNIST).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/realnvp_mnist.py [--epochs N]

Needs the mnist-classifier entry (Frechet distance of samples). Resumable: run the same
command again after a crash.
"""

from kerasgen.recipes import confident_share_spec, frechet_spec, run_zoo_recipe

FRECHET = frechet_spec("mnist-classifier", "mnist", sample_args={"temperature": 0.7},
                       figure="frechet_distance_temperature_0.7",
                       name="Frechet distance (mnist-classifier features), 10,000 samples at temperature 0.7 against "
                            "the 10,000 MNIST test images")


if __name__ == "__main__":
    run_zoo_recipe(
        "realnvp-mnist",
        "realnvp",
        "mnist (train 60,000, uniformly dequantised each step; metric on test)",
        {"key": "bits_per_dim", "name": "test bits/dim",
         "args": {"dataset": "mnist", "split": "test", "seed": 0},
         "procedure": "each test image dequantised once with uniform noise (seed 0); density of the continuous "
                      "image counting the logit transform's Jacobian and the 1/256 bin volume (RealNVP/Glow "
                      "convention)"},
        "2 scales (28x28 then 14x14x4): 3 checkerboard + 3 channel couplings, factor-out half, 4 checkerboard "
        "couplings; ActNorm before each coupling; residual conv coupling nets of one block, 32 channels at 28x28 "
        "and 64 at 14x14; logit transform alpha 0.05; Adam 1e-3, 2.5e-4 from epoch 21, 6.25e-5 from epoch 31, "
        "1.5625e-5 from epoch 46 of 60, clipnorm 100, batch 64, mixed_bfloat16 coupling nets.",
        __file__,
        default_epochs=60,
        figures=[FRECHET, confident_share_spec("mnist-classifier", sample_args={"temperature": 0.7},
                                               note=" at temperature 0.7")],
        storage="float16",
        dataset="mnist",
        batch_size=64,
        learning_rate=1e-3,
        schedule={20: 2.5e-4, 30: 6.25e-5, 45: 1.5625e-5},  # 0-based epochs
        clipnorm=100.0,
        # --continue starts from weights trained down to 1.5625e-5: it restarts at 2.5e-4, not 1e-3, with the same
        # quarterings sized to its own --epochs (step: /4 from half-way, /16 from three quarters).
        continued={"learning_rate": 2.5e-4, "schedule": "step"},
        model_kwargs={"num_scales": 2, "hidden_units": [32, 64], "num_blocks": 1},
    )
