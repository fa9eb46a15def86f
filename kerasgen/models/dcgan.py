"""DCGAN: a convolutional generator and discriminator trained adversarially."""

import keras
import numpy as np
import tensorflow as tf

from kerasgen import distribute, precision, sampling
from kerasgen.checks import check_image_shape, check_labels, check_positive_int, check_real
from kerasgen.models.base import ImageGenerator, check_sample_args


@keras.saving.register_keras_serializable(package="kerasgen")
class DCGAN(ImageGenerator, keras.Model):
    """Deep convolutional GAN (Radford et al.) for images in [0, 1].

    The generator maps z ~ N(0, I) to images through strided transposed
    convolutions with (synchronised) batch normalisation; the discriminator is
    a strided convolutional classifier. ``train_step`` alternates one
    discriminator and one generator update (non-saturating loss), each with
    its own optimizer; under ``mixed_float16`` both optimizers are loss-scaled
    and under a tf.distribute strategy the noise and losses are split so a
    step equals the single-device step. Both optimizers are restored on load.
    ``sample(n, temperature)`` scales the latent noise (the truncation trick).

    Classes: with ``num_classes`` the generator reads a one-hot label beside z
    and the discriminator is a projection discriminator (Miyato and Koyama,
    2018): its logit adds the inner product of a learned class embedding with
    its features, so it judges "a real image of this class". ``fit(images,
    labels)`` (or a dataset of pairs) trains it, each fake drawn with a real
    image's label; ``sample(n, labels=7)`` draws sevens and ``labels=None`` a
    class at random for each image.

    Example:
    >>> gan = DCGAN(image_shape=(28, 28, 1), latent_dim=128)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(kerasgen.data.image_batches(train_images, 128), epochs=20)
    >>> images = gan.sample(64, temperature=0.8, seed=0)
    """

    def __init__(self, image_shape=(28, 28, 1), latent_dim=128, filters=64, label_smoothing=0.1, num_classes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.d_optimizer = self.g_optimizer = None
        self.image_shape = check_image_shape(image_shape, multiple=4)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.filters = check_positive_int(filters, "filters")
        self.label_smoothing = check_real(label_smoothing, "label_smoothing", 0, 0.5, open_above=True)
        self.num_classes = None if num_classes is None else check_positive_int(num_classes, "num_classes", 2)
        height, width, channels = self.image_shape
        f = self.filters
        self.generator = keras.Sequential(
            [
                keras.Input((self.latent_dim + (self.num_classes or 0),)),
                keras.layers.Dense((height // 4) * (width // 4) * 2 * f, use_bias=False),
                keras.layers.BatchNormalization(synchronized=True),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Reshape((height // 4, width // 4, 2 * f)),
                keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False),
                keras.layers.BatchNormalization(synchronized=True),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="sigmoid",
                                             dtype="float32"),
            ],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [
                keras.Input(self.image_shape),
                keras.layers.Conv2D(f, 4, strides=2, padding="same"),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Conv2D(2 * f, 4, strides=2, padding="same"),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Flatten(),
                # A conditional discriminator ends at the features: its logit and class projection follow.
                *([keras.layers.Dense(1, dtype="float32")] if self.num_classes is None else []),
            ],
            name="discriminator",
        )
        self.feature_dim = (height // 4) * (width // 4) * 2 * f
        self.discriminator_logit = self.class_projection = None
        if self.num_classes is not None:
            self.discriminator_logit = keras.layers.Dense(1, dtype="float32", name="discriminator_logit")
            self.class_projection = keras.layers.Embedding(self.num_classes, self.feature_dim, dtype="float32",
                                                           name="class_projection")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer="adam", g_optimizer="adam", **kwargs):
        """Two optimizers, loss-scaled under ``mixed_float16`` (Keras wraps only ``model.optimizer``)."""
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = precision.loss_scaled(d_optimizer)
        self.g_optimizer = precision.loss_scaled(g_optimizer)
        if self.built:
            self._build_optimizers()

    @property
    def _discriminator_variables(self):
        heads = [] if self.num_classes is None else [self.discriminator_logit, self.class_projection]
        return self.discriminator.trainable_variables + [v for head in heads for v in head.trainable_variables]

    def _build_optimizers(self):
        """Optimizer variables exist before training, so checkpoints and ``.keras`` files restore into them."""
        self.d_optimizer.build(self._discriminator_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(**{key: keras.saving.deserialize_keras_object(value) for key, value in config.items()})
        if not self.built:
            self.build()  # also builds both optimizers, so their saved state loads

    def call(self, inputs, training=False):
        """Discriminator logits for images (a conditional model: ``(images, labels)``): what ``fit`` feeds the
        model. Generate with ``sample``."""
        images, labels = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        return self._discriminate(images, self._checked_labels(labels), training)

    def _checked_labels(self, labels):
        if self.num_classes is None:
            return None  # an unconditional GAN ignores the labels a labelled data set brings
        if labels is None:
            raise ValueError(f"this DCGAN is conditional ({self.num_classes} classes): train it on (images, labels)")
        return tf.cast(tf.reshape(labels, [-1]), tf.int32)

    def _discriminate(self, images, labels, training):
        if self.num_classes is None:
            return self.discriminator(images, training=training)
        features = tf.cast(self.discriminator(images, training=training), tf.float32)
        projection = tf.reduce_sum(self.class_projection(labels) * features, axis=-1, keepdims=True)
        return self.discriminator_logit(features) + projection

    def _generate(self, z, labels, training):
        if self.num_classes is not None:
            z = tf.concat([z, tf.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=-1)
        return self.generator(z, training=training)

    def build(self, input_shape=None):
        self.generator.build((None, self.latent_dim + (self.num_classes or 0)))
        self.discriminator.build((None, *self.image_shape))
        if self.num_classes is not None:
            self.discriminator_logit.build((None, self.feature_dim))
            self.class_projection.build((None,))
        if self.d_optimizer is not None:
            self._build_optimizers()

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _bce(self, logits, target):
        labels = tf.fill(tf.shape(logits), target)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))

    @staticmethod
    def _objective(optimizer, loss):
        """What to differentiate (inside the tape): split across replicas, scaled for float16."""
        return precision.scale_loss(optimizer, distribute.scale_for_replicas(loss))

    def train_step(self, data):
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = self._checked_labels(labels)  # fakes are drawn with the real batch's labels
        real = tf.cast(real, tf.float32)
        batch = tf.shape(real)[0]
        step = self.d_optimizer.iterations
        z = distribute.replica_noise([batch, self.latent_dim], distribute.step_seed(step, 1))
        with tf.GradientTape() as tape:
            fake = self._generate(z, labels, training=True)
            d_loss = self._bce(self._discriminate(real, labels, True), 1.0 - self.label_smoothing) + self._bce(
                self._discriminate(fake, labels, True), 0.0
            )
            objective = self._objective(self.d_optimizer, d_loss)
        variables = self._discriminator_variables
        self.d_optimizer.apply(tape.gradient(objective, variables), variables)

        z = distribute.replica_noise([batch, self.latent_dim], distribute.step_seed(step, 2))
        with tf.GradientTape() as tape:
            g_loss = self._bce(self._discriminate(self._generate(z, labels, training=True), labels, True), 1.0)
            objective = self._objective(self.g_optimizer, g_loss)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(objective, variables), variables)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def sample(self, n, temperature=1.0, seed=None, labels=None):
        """``n`` images, float32 (n, H, W, C) in [0, 1]; ``labels`` (a conditional DCGAN): one class for all, one
        per image, or None for a class drawn at random for each image."""
        n, temperature = check_sample_args(n, temperature)
        labels = check_labels(labels, n, self.num_classes)
        latent_seed, label_seed = tf.unstack(tf.random.experimental.stateless_split(sampling.seed_pair(seed), 2))
        if self.num_classes is None:
            latent_seed = sampling.seed_pair(seed)  # the unconditional draw as before classes existed
        z = temperature * tf.random.stateless_normal((n, self.latent_dim), seed=latent_seed)
        if self.num_classes is not None and labels is None:
            labels = tf.random.stateless_uniform((n,), label_seed, 0, self.num_classes, tf.int32)
        return np.asarray(self._generate(z, labels, training=False), np.float32)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, filters=self.filters,
            label_smoothing=self.label_smoothing, num_classes=self.num_classes,
        )
        return config
