"""Reproduce zoo entry realnvp-moons (RealNVP on 2-D two moons).

    python zoo/recipes/realnvp_moons.py [--epochs N]

Needs no data directory: the points come from kerasgen.toy_data.moons (fixed seeds).
"""

from kerasgen.recipes import run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "realnvp-moons",
        "realnvp",
        "moons (make_moons, noise 0.05, normalised per coordinate: 16,384 training points seed 0, "
        "4,096 validation points seed 1)",
        {"key": "point_nll", "name": "validation NLL (nats per point)",
         "args": {"dataset": "moons", "split": "validation"}},
        "8 affine couplings with alternating masks, ActNorm before each, MLP coupling networks of 2 x 64 units; "
        "Adam 1e-3, batch 256, float32.",
        __file__,
        default_epochs=60,
        dataset="moons",
        batch_size=256,
        learning_rate=1e-3,
        policy="float32",
        model_kwargs={"num_couplings": 8, "hidden_units": 64, "num_blocks": 2},
    )
