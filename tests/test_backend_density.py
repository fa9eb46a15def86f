"""RealNVP and VAE in keras.ops: the pieces that replaced TensorFlow ops and the paths other backends take."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgen.data import dequantize
from kerasgen.layers import coupling
from kerasgen.layers.coupling import ActNorm, depth_to_space, space_to_depth
from kerasgen.models.realnvp import RealNVP
from kerasgen.models.vae import VAE


def test_space_to_depth_is_tensorflows_and_depth_to_space_inverts_it():
    x = np.random.default_rng(0).normal(size=(3, 6, 4, 5)).astype(np.float32)
    squeezed = np.asarray(space_to_depth(x))
    np.testing.assert_array_equal(squeezed, tf.nn.space_to_depth(x, 2).numpy())
    np.testing.assert_array_equal(np.asarray(depth_to_space(squeezed)), x)


@pytest.mark.parametrize("shape", [(64, 3), (16, 4, 4, 2)])
def test_actnorm_select_initialization_matches_tensorflows_cond(monkeypatch, shape):
    """The select JAX and PyTorch use sets the same statistics as TensorFlow's cond, once: later batches keep them."""
    rng = np.random.default_rng(1)
    first = (rng.normal(size=shape) * 3.0 + 2.0).astype(np.float32)
    second = (rng.normal(size=shape) * 0.5 - 1.0).astype(np.float32)
    by_cond = ActNorm()
    by_cond(first, training=True)
    monkeypatch.setattr(coupling.backend, "name", lambda: "torch")
    by_select = ActNorm()
    y, _ = by_select(first, training=True)
    assert float(by_select.initialized.numpy()) == 1.0
    np.testing.assert_allclose(by_select.bias.numpy(), by_cond.bias.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(by_select.log_scale.numpy(), by_cond.log_scale.numpy(), rtol=0, atol=0)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(np.mean(y, axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.std(y, axes), 1.0, atol=1e-4)
    by_select(second, training=True)
    np.testing.assert_array_equal(by_select.bias.numpy(), by_cond.bias.numpy())


def test_bits_per_dim_reads_the_current_weights():
    """The compiled log-density takes the weights as arguments: it scores with the weights as they are now."""
    flow = RealNVP(image_shape=(4, 4, 1), num_scales=2, hidden_units=8, num_blocks=1)
    flow.build()
    images = np.random.default_rng(2).integers(0, 256, (5, 4, 4, 1)).astype(np.uint8)
    before = flow.bits_per_dim(images, seed=4, batch_size=2)
    rng = np.random.default_rng(3)
    for weight in flow.trainable_weights:
        weight.assign(rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
    after = flow.bits_per_dim(images, seed=4, batch_size=2)
    eager = -np.mean(np.asarray(flow.log_prob(dequantize(images, 4)), np.float64)) / (16 * math.log(2.0)) + 8.0
    assert after != before
    assert after == pytest.approx(eager, abs=1e-5)


def test_vae_importance_bound_reads_the_current_weights():
    vae = VAE(image_shape=(8, 8, 1), latent_dim=3, filters=(4, 8), hidden_dim=16, num_classes=2)
    vae.build()
    images = (np.random.default_rng(5).uniform(size=(3, 8, 8, 1)) > 0.5).astype(np.float32)
    labels = np.array([0, 1, 1])
    before = vae.log_prob(images, num_samples=6, batch_size=2, labels=labels)
    rng = np.random.default_rng(6)
    for weight in vae.trainable_weights:
        weight.assign(rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
    after = vae.log_prob(images, num_samples=6, batch_size=2, labels=labels)
    eager = np.concatenate([
        np.asarray(vae._iwae_bound(images[start : start + 2], 6, tf.constant([start, 7]), labels[start : start + 2]))
        for start in (0, 2)
    ])
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, eager, rtol=1e-5)
