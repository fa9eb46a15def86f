"""Convolutional variational autoencoder with a Bernoulli decoder."""

import math

import keras
import numpy as np
import tensorflow as tf

from kerasgen import distribute, sampling
from kerasgen.checks import check_image_shape, check_images, check_labels, check_positive_int
from kerasgen.data import binarize  # noqa: F401 - its old home, kept importable
from kerasgen.models.base import ClassConditional, DensityModel, ImageGenerator, check_sample_args


@keras.saving.register_keras_serializable(package="kerasgen")
class VAE(ClassConditional, DensityModel, ImageGenerator, keras.Model):
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

    def build(self, input_shape=None):
        classes = self.num_classes or 0
        height, width, channels = self.image_shape
        self.encoder.build((None, height, width, channels + classes))
        self.decoder.build((None, self.latent_dim + classes))

    def _one_hot(self, labels, dtype):
        return tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes, dtype=dtype)

    def _labels(self, labels, images):
        """``labels`` of ``images`` as a tensor (None for an unconditional model); a conditional one needs them."""
        if labels is None or tf.is_tensor(labels):
            if labels is None and self.num_classes is not None:
                raise ValueError(f"this VAE is conditional ({self.num_classes} classes): give the images' labels")
            return labels if self.num_classes is not None else None
        checked = check_labels(labels, len(images), self.num_classes)  # an unconditional model refuses labels
        return tf.constant(checked)

    def encode(self, x, labels=None):
        """Posterior mean and log-variance of z given images x in [0, 1] (arrays are checked; tensors pass) and,
        for a conditional VAE, their labels."""
        if not tf.is_tensor(x):
            x = check_images(x, self.image_shape, "x")
        labels = self._labels(labels, x)
        if labels is not None:
            code = self._one_hot(labels, x.dtype)[:, None, None, :]
            x = tf.concat([x, tf.broadcast_to(code, [tf.shape(x)[0], *self.image_shape[:2], self.num_classes])], -1)
        stats = self.encoder(x)
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def _decoder_logits(self, z, labels):
        if labels is not None:
            z = tf.concat([z, self._one_hot(labels, z.dtype)], axis=-1)
        return self.decoder(z)

    def decode(self, z, labels=None):
        """Bernoulli means (pixel probabilities) for latent codes z (n, latent_dim), float32 in [0, 1]; a
        conditional VAE also takes the labels to draw."""
        if not tf.is_tensor(z):
            z = np.asarray(z)
            if z.ndim != 2 or z.shape[1] != self.latent_dim or not np.issubdtype(z.dtype, np.number):
                raise ValueError(f"z must be numbers of shape (n, {self.latent_dim}), got {z.dtype} {z.shape}")
        labels = self._labels(labels, z)
        return np.asarray(tf.sigmoid(self._decoder_logits(tf.convert_to_tensor(z, tf.float32), labels)))

    def call(self, inputs, training=False):
        x, labels = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        if self.num_classes is None:
            labels = None  # an unconditional VAE ignores the labels a labelled data set brings
        elif labels is None:
            raise ValueError(f"this VAE is conditional ({self.num_classes} classes): train it on (images, labels)")
        mean, log_var = self.encode(x, labels)
        # z ~ q(z|x) in training and evaluation alike, so `evaluate` and val_loss report the negative ELBO
        # (decoding the mean instead would give a smaller figure that bounds nothing). Evaluation draws
        # with a fixed seed: the same images give the same loss.
        seed = distribute.step_seed(self.optimizer.iterations if training else 0, 1 if training else 2)
        z = mean + tf.exp(0.5 * log_var) * distribute.replica_noise(tf.shape(mean), seed)
        return self._decoder_logits(z, labels), mean, log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, mean, log_var = y_pred
        x = x[0] if isinstance(x, (tuple, list)) else x
        reconstruction = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, tf.float32), logits=logits), axis=[1, 2, 3]
        )
        kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return distribute.scale_for_replicas(tf.reduce_mean(reconstruction + kl))

    @property
    def metrics(self):
        return [*super().metrics, self.reconstruction_tracker, self.kl_tracker]

    def sample(self, n, temperature=1.0, seed=None, labels=None):
        """``n`` images, float32 (n, H, W, C) in [0, 1]; ``labels`` (a conditional VAE): one class for all, one per
        image, or None for a class drawn at random for each image."""
        n, temperature = check_sample_args(n, temperature)
        labels = check_labels(labels, n, self.num_classes)
        latent_seed, label_seed = tf.unstack(tf.random.experimental.stateless_split(sampling.seed_pair(seed), 2))
        z = temperature * tf.random.stateless_normal((n, self.latent_dim), seed=latent_seed)
        if self.num_classes is not None and labels is None:
            labels = tf.random.stateless_uniform((n,), label_seed, 0, self.num_classes, tf.int32)
        return self.decode(z, labels)

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
        return -sum(float(tf.reduce_sum(part)) for part in parts) / sum(len(part) for part in parts)

    def _iwae_batches(self, binary_images, name, num_samples, batch_size, labels=None):
        """The IWAE bound of each image, one float32 tensor per batch of ``batch_size`` images, in order."""
        images = check_images(binary_images, self.image_shape, name)
        if not len(images):
            raise ValueError(f"{name} must hold at least one image")
        if not np.all((images == 0) | (images == 1)):
            raise ValueError(f"{name} must hold only 0 and 1 (binarize them first)")
        num_samples = check_positive_int(num_samples, "num_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        labels = self._labels(labels, images)
        for start in range(0, len(images), batch_size):
            batch = tf.constant(images[start : start + batch_size])
            batch_labels = None if labels is None else labels[start : start + batch_size]
            yield self._iwae_log_likelihood(batch, num_samples, tf.constant([start, 7]), batch_labels)

    @tf.function(reduce_retracing=True)
    def _iwae_log_likelihood(self, x, num_samples, seed, labels=None):
        mean, log_var = self.encode(x, labels)
        batch = tf.shape(x)[0]
        eps = tf.random.stateless_normal([num_samples, batch, self.latent_dim], seed=seed)
        z = mean[None] + tf.exp(0.5 * log_var)[None] * eps
        log_q = -0.5 * tf.reduce_sum(tf.square(eps) + log_var[None] + math.log(2 * math.pi), axis=-1)
        log_prior = -0.5 * tf.reduce_sum(tf.square(z) + math.log(2 * math.pi), axis=-1)
        logits = self._decoder_logits(
            tf.reshape(z, [-1, self.latent_dim]), None if labels is None else tf.tile(labels, [num_samples])
        )
        targets = tf.repeat(x[None], num_samples, axis=0)
        log_px_z = -tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.reshape(targets, tf.shape(logits)), logits=logits),
            axis=[1, 2, 3],
        )
        log_weights = tf.reshape(log_px_z, [num_samples, batch]) + log_prior - log_q
        return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(tf.cast(num_samples, tf.float32))

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, filters=self.filters, hidden_dim=self.hidden_dim,
            num_classes=self.num_classes,
        )
        return config
