"""Low-dimensional toy data sets for density models (e.g. a 2-D RealNVP)."""

import numpy as np

from kerasgen.checks import InvalidArgument, check_positive_int, check_real


def make_moons(n, noise=0.05, seed=None):
    """Two interleaving half circles, as scikit-learn's ``make_moons``, normalised per coordinate.

    Returns float32 (n, 2) points in random order with zero mean and unit
    standard deviation per coordinate; ``noise`` is the standard deviation of
    the Gaussian noise added before normalisation. The same ``seed`` gives the
    same points.
    """
    n = check_positive_int(n, "n", 2)
    noise = check_real(noise, "noise", minimum=0)
    rng = np.random.default_rng(seed)
    outer, inner = n - n // 2, n // 2
    angles_outer = np.linspace(0.0, np.pi, outer)
    angles_inner = np.linspace(0.0, np.pi, inner)
    points = np.concatenate(
        [
            np.stack([np.cos(angles_outer), np.sin(angles_outer)], axis=1),
            np.stack([1.0 - np.cos(angles_inner), 0.5 - np.sin(angles_inner)], axis=1),
        ]
    )
    points += rng.normal(scale=noise, size=points.shape)
    points = points[rng.permutation(n)]
    points = (points - points.mean(axis=0)) / points.std(axis=0)
    return points.astype(np.float32)


MOONS_SPLITS = {"train": (16384, 0), "validation": (4096, 1)}


def moons(split="train"):
    """The fixed two-moons splits of the zoo: ``make_moons(n, noise=0.05, seed)``, (n, seed) from ``MOONS_SPLITS``."""
    if split not in MOONS_SPLITS:
        raise InvalidArgument(f"split must be one of {', '.join(MOONS_SPLITS)}; got {split!r}")
    n, seed = MOONS_SPLITS[split]
    return make_moons(n, noise=0.05, seed=seed)
