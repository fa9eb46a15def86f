"""Convolutional variational autoencoder with a Bernoulli decoder."""

import math

import keras
import numpy as np
from keras import ops

from kerasgen import backend, sampling
from kerasgen.checks import InvalidArgument, check_image_shape, check_images, check_labels, check_positive_int
from kerasgen.data import binarize  # noqa: F401 - its old home, kept importable
from kerasgen.models.base import (
    ClassConditional, DensityModel, ImageGenerator, StepCounted, UntrackedState, check_sample_args,
)
from kerasgen.models.serving import LABELS, WITH_LITERT, Servable, sample_endpoint, spec


@keras.saving.register_keras_serializable(package="kerasgen")
class VAE(StepCounted, ClassConditional, DensityModel, ImageGenerator, Servable, keras.Model):
    """A convolutional VAE: q(z|x) Gaussian, p(z) standard normal, p(x|z) Bernoulli per pixel.

    Trained with plain ``fit`` on images in [0, 1] (binary images for the
    Bernoulli likelihood to be a proper one; ``kerasgen.data.binarize``
    or dynamic binarisation in the data pipeline). The loss is the negative
    ELBO in nats per image: reconstruction + KL, tracked separately.
    ``model(x)`` returns (reconstruction logits of one z ~ q(z|x), posterior mean, posterior log-variance).

    Example:
    >>> vae = VAE(image_shape=(28, 28, 1), latent_dim=32)
    >>> vae.compile(optimizer="adam")
    >>> vae.fit(binary_train_images, epochs=10, batch_size=128)
    >>> grid = vae.sample(16, temperature=1.0, seed=0)
    >>> vae.log_prob(binary_test_images, num_samples=1000)   # per image: a lower bound on log p(x) in nats
    >>> vae.nll(binary_test_images, num_samples=1000)        # their mean negated: the NLL in nats per image

    Classes (a conditional VAE, Sohn et al., 2015): with ``num_classes`` both the encoder and the decoder read
    the label as a one-hot code (the encoder as extra image channels, the decoder beside z). ``fit(images,
    labels)`` or a dataset of ``(images, labels)`` trains it; ``sample(n, labels=7)`` draws sevens, and
    ``labels=None`` draws a class at random for each image (a uniform class prior). The likelihood methods
    (``log_prob``, ``nll``) and ``interpolate`` then take ``labels`` too.
    """

    export_formats = WITH_LITERT

    def __init__(self, image_shape=(28, 28, 1), latent_dim=32, filters=(32, 64), hidden_dim=512, num_classes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape, multiple=4)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.filters = tuple(check_positive_int(f, "filters") for f in filters)
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.num_classes = None if num_classes is None else check_positive_int(num_classes, "num_classes", 2)
        classes = self.num_classes or 0
        height, width, channels = self.image_shape
        f1, f2 = self.filters
        self.encoder = keras.Sequential(
            [
                keras.Input((height, width, channels + classes)),
                keras.layers.Conv2D(f1, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2D(f2, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(hidden_dim, activation="relu"),
                keras.layers.Dense(2 * latent_dim, dtype="float32"),
            ],
            name="encoder",
        )
        self.decoder = keras.Sequential(
            [
                keras.Input((latent_dim + classes,)),
                keras.layers.Dense(hidden_dim, activation="relu"),
                keras.layers.Dense((height // 4) * (width // 4) * f2, activation="relu"),
                keras.layers.Reshape((height // 4, width // 4, f2)),
                keras.layers.Conv2DTranspose(f2, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2DTranspose(f1, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2D(channels, 3, padding="same", dtype="float32"),
            ],
            name="decoder",
        )
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.untracked = UntrackedState()
        self.untracked.iwae_functions = {}  # num_samples -> compiled IWAE bound, see _iwae_log_likelihood
        self.untracked.training_step = None  # set by train_step on JAX, see _training_step
        # Both networks hold their weights already; built now, fit never calls the model on images alone (JAX's fit
        # would, before its first step, and a conditional VAE refuses images without labels).
        self.build()

    def build(self, input_shape=None):
        classes = self.num_classes or 0
        height, width, channels = self.image_shape
        self.encoder.build((None, height, width, channels + classes))
        self.decoder.build((None, self.latent_dim + classes))

    def _one_hot(self, labels, dtype):
        return ops.one_hot(ops.cast(ops.reshape(labels, [-1]), "int32"), self.num_classes, dtype=dtype)

    def _labels(self, labels, images):
        """``labels`` of ``images`` as a tensor (None for an unconditional model); a conditional one needs them."""
        if labels is None or ops.is_tensor(labels):
            if labels is None and self.num_classes is not None:
                raise InvalidArgument(f"this VAE is conditional ({self.num_classes} classes): give the images' labels")
            return labels if self.num_classes is not None else None
        checked = check_labels(labels, len(images), self.num_classes)  # an unconditional model refuses labels
        return ops.convert_to_tensor(checked)

    def encode(self, x, labels=None):
        """Posterior mean and log-variance of z given images x in [0, 1] (arrays are checked; tensors pass) and,
        for a conditional VAE, their labels."""
        if not ops.is_tensor(x):
            x = check_images(x, self.image_shape, "x")
        labels = self._labels(labels, x)
        if labels is not None:
            code = self._one_hot(labels, x.dtype)[:, None, None, :]
            code = ops.broadcast_to(code, (ops.shape(x)[0], *self.image_shape[:2], self.num_classes))
            x = ops.concatenate([x, code], axis=-1)
        stats = self.encoder(x)
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def _decoder_logits(self, z, labels):
        if labels is not None:
            z = ops.concatenate([z, self._one_hot(labels, z.dtype)], axis=-1)
        return self.decoder(z)

    def decode(self, z, labels=None):
        """Bernoulli means (pixel probabilities) for latent codes z (n, latent_dim), float32 in [0, 1]; a
        conditional VAE also takes the labels to draw."""
        if not ops.is_tensor(z):
            z = np.asarray(z)
            if z.ndim != 2 or z.shape[1] != self.latent_dim or not np.issubdtype(z.dtype, np.number):
                raise InvalidArgument(f"z must be numbers of shape (n, {self.latent_dim}), got {z.dtype} {z.shape}")
        labels = self._labels(labels, z)
        return np.asarray(ops.convert_to_numpy(self._decode(ops.convert_to_tensor(z, "float32"), labels)))

    def _decode(self, z, labels):
        return ops.sigmoid(self._decoder_logits(z, labels))

    def call(self, inputs, training=False):
        x, labels = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        if self.num_classes is None:
            labels = None  # an unconditional VAE ignores the labels a labelled data set brings
        elif labels is None:
            raise InvalidArgument(f"this VAE is conditional ({self.num_classes} classes): train it on (images, labels)")
        mean, log_var = self.encode(x, labels)
        # z ~ q(z|x) in training and evaluation alike, so `evaluate` and val_loss report the negative ELBO
        # (decoding the mean instead would give a smaller figure that bounds nothing). Evaluation draws
        # with a fixed seed: the same images give the same loss.
        seed = backend.step_seed(self._training_step() if training else 0, 1 if training else 2)
        z = mean + ops.exp(0.5 * log_var) * backend.replica_noise(ops.shape(mean), seed)
        return self._decoder_logits(z, labels), mean, log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, mean, log_var = y_pred
        x = x[0] if isinstance(x, (tuple, list)) else x
        reconstruction = ops.sum(ops.binary_crossentropy(ops.cast(x, "float32"), logits, from_logits=True), [1, 2, 3])
        kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=1)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return backend.scale_for_replicas(ops.mean(reconstruction + kl))

    @property
    def metrics(self):
        return [*super().metrics, self.reconstruction_tracker, self.kl_tracker]

    def sample(self, n, temperature=1.0, seed=None, labels=None):
        """``n`` images, float32 (n, H, W, C) in [0, 1]; ``labels`` (a conditional VAE): one class for all, one per
        image, or None for a class drawn at random for each image."""
        n, temperature = check_sample_args(n, temperature)
        labels = check_labels(labels, n, self.num_classes)
        labels = None if labels is None else ops.convert_to_tensor(labels)
        return np.asarray(ops.convert_to_numpy(self._draw(n, temperature, sampling.seed_pair(seed), labels)))

    def _draw(self, n, temperature, seed, labels):
        latent_seed, label_seed = backend.split_seed(seed, 2)
        z = temperature * backend.normal((n, self.latent_dim), latent_seed)
        if self.num_classes is not None and labels is None:
            labels = backend.uniform_int((n,), label_seed, 0, self.num_classes)
        return self._decode(z, labels)

    def serving_endpoints(self):
        """``sample(n, seed, temperature)`` -> uint8 images, ``encode(images)`` -> ``mean``, ``log_var``,
        ``decode(z)`` -> pixel probabilities; a conditional VAE: ``sample(labels, seed, temperature)`` (one image
        per label), and ``encode`` and ``decode`` take ``labels`` too."""
        images = spec((None, *self.image_shape), "float32", "images")
        z = spec((None, self.latent_dim), "float32", "z")

        def encode(images, labels=None):
            mean, log_var = self.encode(images, labels)
            return {"mean": mean, "log_var": log_var}

        def decode(z, labels=None):
            return self._decode(z, labels)

        labels = [] if self.num_classes is None else [LABELS]
        return {"sample": sample_endpoint(self._draw, self.num_classes),
                "encode": (encode, [images, *labels]), "decode": (decode, [z, *labels])}

    def network_endpoint(self):
        """``decode(z)`` (a conditional VAE: ``decode(z, labels)``) -> pixel probabilities: the decoder that
        ``sample`` runs on z ~ N(0, temperature^2)."""
        z = spec((None, self.latent_dim), "float32", "z")
        if self.num_classes is None:
            return "decode", lambda z: self._decode(z, None), [z]
        return "decode", self._decode, [z, LABELS]

    def interpolate(self, a, b, steps=8, labels=None):
        """Decoded images along the straight line between the posterior means of images a and b (a conditional VAE:
        ``labels``, the classes of a and b; the decoder draws a's class for the first half of the way, b's after)."""
        steps = check_positive_int(steps, "steps", 2)
        pair = check_images(np.stack([np.asarray(a), np.asarray(b)]), self.image_shape, "a and b")
        pair_labels = None if labels is None else check_labels(labels, 2, self.num_classes)
        mean, _ = self.encode(pair, pair_labels)
        weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        path_labels = None if pair_labels is None else np.where(weights[:, 0] < 0.5, *pair_labels).astype(np.int32)
        return self.decode((1 - weights) * mean[0] + weights * mean[1], path_labels)

    def log_prob(self, x, num_samples=1000, batch_size=20, labels=None):
        """Importance-sampled lower bound on log p(x) in nats for each binary image: float32 numpy (n,).

        The IWAE bound with K = ``num_samples`` draws z_k ~ q(z|x):
        logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K, whose expectation is at most log p(x)
        and approaches it as K grows. ``x`` must hold only 0 and 1: on binary images the Bernoulli decoder is a
        proper distribution.
        Deterministic: the draws for the images from ``start`` on are seeded by ``start``, so the same images,
        ``num_samples`` and ``batch_size`` give the same values. A conditional VAE gives log p(x | label) for the
        images' ``labels``.
        """
        parts = self._iwae_batches(x, "x", num_samples, batch_size, labels)
        return np.concatenate([np.asarray(part) for part in parts])

    def nll(self, binary_images, num_samples=1000, batch_size=20, labels=None):
        """Importance-sampled negative log-likelihood in nats per image: the mean of ``-log_prob`` (same draws)."""
        parts = list(self._iwae_batches(binary_images, "binary_images", num_samples, batch_size, labels))
        return -sum(float(ops.sum(part)) for part in parts) / sum(len(part) for part in parts)

    def _iwae_batches(self, binary_images, name, num_samples, batch_size, labels=None):
        """The IWAE bound of each image, one float32 tensor per batch of ``batch_size`` images, in order."""
        images = check_images(binary_images, self.image_shape, name)
        if not len(images):
            raise InvalidArgument(f"{name} must hold at least one image")
        if not np.all((images == 0) | (images == 1)):
            raise InvalidArgument(f"{name} must hold only 0 and 1 (binarize them first)")
        num_samples = check_positive_int(num_samples, "num_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        labels = self._labels(labels, images)
        weights = [weight.value for weight in self.weights]
        for start in range(0, len(images), batch_size):
            batch = ops.convert_to_tensor(images[start : start + batch_size])
            batch_labels = None if labels is None else labels[start : start + batch_size]
            seed = ops.convert_to_tensor([start, 7], "int32")
            yield self._iwae_log_likelihood(num_samples)(weights, batch, seed, batch_labels)

    def _iwae_log_likelihood(self, num_samples):
        """The compiled IWAE bound with ``num_samples`` draws: (weights' values, x, seed, labels) -> (batch,).

        The weights are arguments, so the function never goes stale (``jax.jit`` would keep the values it was
        traced with); one function per ``num_samples``, the shape of its draws.
        """
        functions = self.untracked.iwae_functions
        if num_samples not in functions:

            def bound(weights, x, seed, labels):
                with keras.StatelessScope(state_mapping=list(zip(self.weights, weights))):
                    return self._iwae_bound(x, num_samples, seed, labels)

            functions[num_samples] = backend.compiled(bound)
        return functions[num_samples]

    def _iwae_bound(self, x, num_samples, seed, labels):
        mean, log_var = self.encode(x, labels)
        batch = ops.shape(x)[0]
        eps = backend.normal((num_samples, batch, self.latent_dim), seed)
        z = mean[None] + ops.exp(0.5 * log_var)[None] * eps
        log_q = -0.5 * ops.sum(ops.square(eps) + log_var[None] + math.log(2 * math.pi), axis=-1)
        log_prior = -0.5 * ops.sum(ops.square(z) + math.log(2 * math.pi), axis=-1)
        logits = self._decoder_logits(
            ops.reshape(z, (-1, self.latent_dim)), None if labels is None else ops.tile(labels, [num_samples])
        )
        targets = ops.reshape(ops.repeat(x[None], num_samples, axis=0), (-1, *self.image_shape))
        log_px_z = -ops.sum(ops.binary_crossentropy(targets, logits, from_logits=True), axis=[1, 2, 3])
        log_weights = ops.reshape(log_px_z, (num_samples, batch)) + log_prior - log_q
        return ops.logsumexp(log_weights, axis=0) - ops.log(ops.convert_to_tensor(num_samples, "float32"))

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, filters=self.filters, hidden_dim=self.hidden_dim,
            num_classes=self.num_classes,
        )
        return config
