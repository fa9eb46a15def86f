"""Reproduce zoo entry vae-mnist (convolutional VAE, Bernoulli decoder, binarised MNIST).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/vae_mnist.py [--epochs N]

Needs the mnist-classifier entry for the Frechet distance it reports.
"""

from kerasgen.recipes import frechet_spec, run_zoo_recipe

FRECHET = frechet_spec("mnist-classifier", "mnist", name="Frechet distance (mnist-classifier features), 10,000 samples "
                       "(temperature 1) against the 10,000 MNIST test images")


if __name__ == "__main__":
    run_zoo_recipe(
        "vae-mnist",
        "vae",
        "mnist (train 60,000, dynamically binarised each epoch; metric on test)",
        {"key": "vae_nll", "name": "test NLL (nats, IWAE 1000 samples)",
         "args": {"dataset": "mnist", "split": "test", "num_samples": 1000, "binarize_seed": 0},
         "binarization": "each test pixel set to 1 with probability intensity/255, numpy default_rng(0), once"},
        "Encoder conv 32-64 (stride 2) + dense 256 -> 32-d Gaussian; decoder mirror, Bernoulli logits; "
        "Adam 1e-3, batch 128.",
        __file__,
        default_epochs=16,
        figures=[FRECHET],
        storage="float16",
        dataset="mnist",
        batch_size=128,
        learning_rate=1e-3,
        model_kwargs={"latent_dim": 32, "filters": (32, 64), "hidden_dim": 256},
    )
