"""DCGAN: a convolutional generator and discriminator trained adversarially."""

import keras
import numpy as np
from keras import ops

from kerasgen import backend, sampling
from kerasgen.checks import InvalidArgument, check_image_shape, check_labels, check_positive_int, check_real
from kerasgen.layers import MinibatchStddev
from kerasgen.models import ema
from kerasgen.models.base import ImageGenerator, check_sample_args
from kerasgen.models.optimizers import loss_scaled, scale_loss
from kerasgen.models.serving import LABELS, WITH_LITERT, Servable, sample_endpoint, spec


ADVERSARIAL_LOSSES = ("nonsaturating", "hinge")


class _OptimizerPair(keras.optimizers.Optimizer):
    """A GAN's two optimizers as the one ``fit`` on JAX carries in its state: ``variables`` lists both optimizers'
    variables (the discriminator's first). It applies nothing itself; the model's step applies each optimizer."""

    def __init__(self, d_optimizer, g_optimizer):
        super().__init__(learning_rate=0.0, name="optimizer_pair")
        self._pair = (d_optimizer, g_optimizer)

    @property
    def variables(self):
        return [variable for optimizer in self._pair for variable in optimizer.variables]

    def build(self, variables):
        self.built = True  # the model builds each optimizer on its own network's variables


@keras.saving.register_keras_serializable(package="kerasgen")
class DCGAN(ImageGenerator, Servable, keras.Model):
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

    EMA (``ema_decay``, off by default): ``ema_generator`` is a second generator, not trained by the optimizers,
    that follows the trained one: after each generator update its every weight (batch normalisation's moving
    moments too) becomes ``ema_decay * ema + (1 - ema_decay) * weight``, the first update copying them (Yazici et
    al., 2019: averaged generators draw better images than the last iterate). ``sample``, the SavedModel and the
    exported network then run the EMA generator; training runs the trained one.

    Minibatch standard deviation (``minibatch_std``, off by default): the discriminator appends to its last feature
    maps one channel holding the mean standard deviation of each group of 4 images of the batch
    (``kerasgen.layers.MinibatchStddev``), so a generator whose fakes vary less than real images do is caught
    (Karras et al., 2018).

    Adversarial loss (``adversarial_loss``): ``"nonsaturating"`` (the default: the discriminator's binary
    cross-entropy with its real targets smoothed to ``1 - label_smoothing``, 0.1 by default, and the generator's
    ``-log D(G(z))``) or ``"hinge"`` (Lim and Ye, 2017; Miyato et al., 2018: the discriminator's
    ``mean(relu(1 - real)) + mean(relu(1 + fake))`` and the generator's ``-mean(fake)`` on the logits), whose margin
    takes the place of label smoothing (0 there; another value is refused).

    Discriminator width (``discriminator_filters``, default ``filters``): its two convolutions have
    ``discriminator_filters`` and twice as many filters, so a stronger critic can train a generator of the same size
    (the zoo's file holds both networks; sampling runs the generator alone).

    R1 penalty (``r1_penalty`` gamma, 0 by default: none): the discriminator's loss adds ``gamma / 2`` times the
    mean squared norm of its gradient with respect to the real images (Mescheder et al., 2018), which keeps it
    from growing steep around the data and the training from oscillating.

    Example:
    >>> gan = DCGAN(image_shape=(28, 28, 1), latent_dim=128)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(kerasgen.data.image_batches(train_images, 128), epochs=20)
    >>> images = gan.sample(64, temperature=0.8, seed=0)
    """

    export_formats = WITH_LITERT

    def __init__(self, image_shape=(28, 28, 1), latent_dim=128, filters=64, label_smoothing=None, num_classes=None,
                 ema_decay=None, minibatch_std=False, r1_penalty=0.0, adversarial_loss="nonsaturating",
                 discriminator_filters=None, **kwargs):
        super().__init__(**kwargs)
        self.d_optimizer = self.g_optimizer = None
        self.image_shape = check_image_shape(image_shape, multiple=4)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.filters = check_positive_int(filters, "filters")
        if adversarial_loss not in ADVERSARIAL_LOSSES:
            raise InvalidArgument(f"adversarial_loss must be one of {', '.join(ADVERSARIAL_LOSSES)}; got "
                                  f"{adversarial_loss!r}")
        self.adversarial_loss = adversarial_loss
        if label_smoothing is None:
            label_smoothing = 0.1 if adversarial_loss == "nonsaturating" else 0.0
        self.label_smoothing = check_real(label_smoothing, "label_smoothing", 0, 0.5, open_above=True)
        if self.label_smoothing and adversarial_loss == "hinge":
            raise InvalidArgument(f"label_smoothing applies to the non-saturating loss; the hinge loss has a margin "
                                  f"instead (got label_smoothing={label_smoothing})")
        self.discriminator_filters = check_positive_int(
            filters if discriminator_filters is None else discriminator_filters, "discriminator_filters")
        self.num_classes = None if num_classes is None else check_positive_int(num_classes, "num_classes", 2)
        self.ema_decay = None if ema_decay is None else check_real(ema_decay, "ema_decay", 0, 1, open_above=True)
        self.minibatch_std = bool(minibatch_std)
        self.r1_penalty = check_real(r1_penalty, "r1_penalty", 0)
        height, width, _ = self.image_shape
        self.generator = self._generator_network("generator")
        self.ema_generator = None if self.ema_decay is None else self._generator_network("ema_generator")
        f = self.discriminator_filters
        self.discriminator = keras.Sequential(
            [
                keras.Input(self.image_shape),
                keras.layers.Conv2D(f, 4, strides=2, padding="same"),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Conv2D(2 * f, 4, strides=2, padding="same"),
                keras.layers.LeakyReLU(0.2),
                *([MinibatchStddev()] if self.minibatch_std else []),
                keras.layers.Flatten(),
                # A conditional discriminator ends at the features: its logit and class projection follow.
                *([keras.layers.Dense(1, dtype="float32")] if self.num_classes is None else []),
            ],
            name="discriminator",
        )
        self.feature_dim = (height // 4) * (width // 4) * (2 * f + self.minibatch_std)
        self.discriminator_logit = self.class_projection = None
        if self.num_classes is not None:
            self.discriminator_logit = keras.layers.Dense(1, dtype="float32", name="discriminator_logit")
            self.class_projection = keras.layers.Embedding(self.num_classes, self.feature_dim, dtype="float32",
                                                           name="class_projection")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.build()  # every shape is known: fit can start from numpy arrays on any backend

    def _generator_network(self, name):
        """z (and a one-hot label) -> images: dense to a quarter of the size, two strided transposed convolutions."""
        height, width, channels = self.image_shape
        f = self.filters
        synchronized = backend.name() == "tensorflow"  # batch statistics over all replicas (a tf.distribute option)
        return keras.Sequential(
            [
                keras.Input((self.latent_dim + (self.num_classes or 0),)),
                keras.layers.Dense((height // 4) * (width // 4) * 2 * f, use_bias=False),
                keras.layers.BatchNormalization(synchronized=synchronized),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Reshape((height // 4, width // 4, 2 * f)),
                keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False),
                keras.layers.BatchNormalization(synchronized=synchronized),
                keras.layers.LeakyReLU(0.2),
                keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="sigmoid",
                                             dtype="float32"),
            ],
            name=name,
        )

    def compile(self, d_optimizer="adam", g_optimizer="adam", **kwargs):
        """Two optimizers, loss-scaled under ``mixed_float16`` (Keras wraps only ``model.optimizer``)."""
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = loss_scaled(d_optimizer)
        self.g_optimizer = loss_scaled(g_optimizer)
        if backend.name() == "jax":  # fit carries optimizer state as `self.optimizer.variables`
            self.optimizer = _OptimizerPair(self.d_optimizer, self.g_optimizer)
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
            raise InvalidArgument(f"this DCGAN is conditional ({self.num_classes} classes): train it on "
                                  "(images, labels)")
        return ops.cast(ops.reshape(labels, [-1]), "int32")

    def _discriminate(self, images, labels, training):
        if self.num_classes is None:
            return self.discriminator(images, training=training)
        features = ops.cast(self.discriminator(images, training=training), "float32")
        projection = ops.sum(self.class_projection(labels) * features, axis=-1, keepdims=True)
        return self.discriminator_logit(features) + projection

    def _generate(self, z, labels, training):
        """Images of z (and labels): the trained generator in training, else the EMA generator if there is one."""
        if self.num_classes is not None:
            z = ops.concatenate([z, ops.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=-1)
        generator = self.generator if training or self.ema_generator is None else self.ema_generator
        return generator(z, training=training)

    @property
    def _ema_pairs(self):
        """(EMA weight, generator weight) pairs: every weight, batch normalisation's moving moments too."""
        return zip(self.ema_generator.weights, self.generator.weights)

    def build(self, input_shape=None):
        if self.built:  # built at construction: every shape comes from the settings
            return
        self.generator.build((None, self.latent_dim + (self.num_classes or 0)))
        if self.ema_generator is not None:
            self.ema_generator.build((None, self.latent_dim + (self.num_classes or 0)))
            self.ema_generator.trainable = False  # after its weights exist, so that it covers them all
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
        return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))

    def discriminator_loss(self, real_logits, fake_logits):
        """The discriminator's adversarial loss on its logits for a real and a fake batch (no R1 penalty)."""
        if self.adversarial_loss == "hinge":
            return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
        return self._bce(real_logits, 1.0 - self.label_smoothing) + self._bce(fake_logits, 0.0)

    def generator_loss(self, fake_logits):
        """The generator's adversarial loss on the discriminator's logits for its fakes."""
        if self.adversarial_loss == "hinge":
            return -ops.mean(fake_logits)
        return self._bce(fake_logits, 1.0)

    @staticmethod
    def _objective(optimizer, loss):
        """What to differentiate (inside the tape): split across replicas, scaled for float16."""
        return scale_loss(optimizer, backend.scale_for_replicas(loss))

    def _d_loss(self, real, labels, z):
        fake = self._generate(z, labels, training=True)
        real_logits, penalty = self._judge_real(real, labels)
        fake_logits = self._discriminate(fake, labels, True)
        return self.discriminator_loss(real_logits, fake_logits) + penalty

    def _judge_real(self, real, labels):
        """The discriminator's logits for real images, and the R1 penalty (0 without one)."""
        if not self.r1_penalty:
            return self._discriminate(real, labels, True), 0.0
        logits, gradient = backend.value_and_input_gradient(lambda x: self._discriminate(x, labels, True), real)
        squared = ops.sum(ops.square(ops.cast(gradient, "float32")), axis=tuple(range(1, len(real.shape))))
        return logits, 0.5 * self.r1_penalty * ops.mean(squared)

    def _g_loss(self, labels, z):
        return self.generator_loss(self._discriminate(self._generate(z, labels, training=True), labels, True))

    def train_step(self, *args):
        """One discriminator update, then one generator update. TensorFlow and PyTorch: ``train_step(data)``, each
        update's gradients by a tape or by autograd; JAX: ``train_step(state, data)``, Keras's stateless form, on
        the state ``fit`` carries."""
        if backend.name() == "jax":
            return self._stateless_train_step(*args)
        (data,) = args
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = self._checked_labels(labels)  # fakes are drawn with the real batch's labels
        real = ops.cast(real, "float32")
        batch = ops.shape(real)[0]
        step = self.d_optimizer.iterations
        z = backend.replica_noise([batch, self.latent_dim], backend.step_seed(step, 1))
        d_loss, gradients, variables = self._gradients(
            lambda: self._d_loss(real, labels, z), self.d_optimizer, lambda: self._discriminator_variables)
        self.d_optimizer.apply(gradients, variables)

        z = backend.replica_noise([batch, self.latent_dim], backend.step_seed(step, 2))
        g_loss, gradients, variables = self._gradients(
            lambda: self._g_loss(labels, z), self.g_optimizer, lambda: self.generator.trainable_variables)
        self.g_optimizer.apply(gradients, variables)
        if self.ema_generator is not None:
            ema.update(self._ema_pairs, ema.decay_after(self.g_optimizer.iterations, self.ema_decay))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def _gradients(self, loss_fn, optimizer, variables_fn):
        """``(loss, gradients of its objective, variables)``: a ``tf.GradientTape`` on TensorFlow, autograd on
        PyTorch (the backends whose ``train_step`` takes the data alone). ``variables_fn`` is read after the loss:
        the first step of an unbuilt model creates the discriminator's heads while computing it."""
        if backend.name() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = loss_fn()
                objective = self._objective(optimizer, loss)
            variables = variables_fn()
            return loss, tape.gradient(objective, variables), variables
        if backend.name() == "torch":
            import torch

            loss = loss_fn()
            variables = variables_fn()
            gradients = torch.autograd.grad(self._objective(optimizer, loss), [v.value for v in variables])
            return loss.detach(), list(gradients), variables
        raise NotImplementedError(f"the DCGAN trains on the tensorflow, jax and torch backends, not {backend.name()}")

    def _stateless_train_step(self, state, data):
        """The JAX step: each update differentiates a pure function of the variables' values (``StatelessScope``
        maps the model's variables to them) and applies its optimizer with ``stateless_apply``."""
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        labels = self._checked_labels(labels)
        real = ops.cast(real, "float32")
        batch = ops.shape(real)[0]
        d_count = len(self.d_optimizer.variables)
        d_state, g_state = list(optimizer_values[:d_count]), list(optimizer_values[d_count:])
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}

        def update(optimizer, optimizer_state, variables, loss_fn, salt):
            indices = [position[id(v)] for v in variables]

            def objective(subset, non_trainable_values):
                values = list(trainable)
                for i, value in zip(indices, subset):
                    values[i] = value
                mapping = [*zip(self.trainable_variables, values), *zip(self.non_trainable_variables,
                                                                         non_trainable_values),
                           *zip(self.d_optimizer.variables, d_state), *zip(self.g_optimizer.variables, g_state)]
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    step = backend.step_seed(self.d_optimizer.iterations, salt)
                    loss = loss_fn(backend.replica_noise([batch, self.latent_dim], step))
                    scaled = self._objective(optimizer, loss)
                return scaled, (loss, [scope.get_current_value(v) for v in self.non_trainable_variables])

            subset = [trainable[i] for i in indices]
            (_, (loss, new_non_trainable)), grads = jax.value_and_grad(objective, has_aux=True)(subset,
                                                                                                  non_trainable)
            new_values, new_state = optimizer.stateless_apply(optimizer_state, grads, subset)
            updated = list(trainable)
            for i, value in zip(indices, new_values):
                updated[i] = value
            return loss, updated, new_non_trainable, list(new_state)

        d_loss, trainable, non_trainable, d_state = update(
            self.d_optimizer, d_state, self._discriminator_variables,
            lambda z: self._d_loss(real, labels, z), 1)
        g_loss, trainable, non_trainable, g_state = update(
            self.g_optimizer, g_state, self.generator.trainable_variables, lambda z: self._g_loss(labels, z), 2)
        if self.ema_generator is not None:
            with keras.StatelessScope(state_mapping=list(zip(self.g_optimizer.variables, g_state))):
                decay = ema.decay_after(self.g_optimizer.iterations, self.ema_decay)
            non_trainable = ema.updated_values(
                self._ema_pairs, decay, [*self.trainable_variables, *self.non_trainable_variables],
                [*trainable, *non_trainable], self.non_trainable_variables, non_trainable)
        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metric_values))) as scope:
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            logs = {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}
        metric_values = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable, non_trainable, d_state + g_state, metric_values)

    def sample(self, n, temperature=1.0, seed=None, labels=None):
        """``n`` images, float32 (n, H, W, C) in [0, 1]; ``labels`` (a conditional DCGAN): one class for all, one
        per image, or None for a class drawn at random for each image."""
        n, temperature = check_sample_args(n, temperature)
        labels = check_labels(labels, n, self.num_classes)
        images = self._draw(n, temperature, sampling.seed_pair(seed), labels)
        return np.asarray(ops.convert_to_numpy(images), np.float32)

    def _draw(self, n, temperature, seed, labels):
        latent_seed, label_seed = backend.split_seed(seed, 2)
        if self.num_classes is None:
            latent_seed = seed  # the unconditional draw as before classes existed
        z = temperature * backend.normal((n, self.latent_dim), latent_seed)
        if self.num_classes is not None and labels is None:
            labels = backend.uniform_int((n,), label_seed, 0, self.num_classes)
        return self._generate(z, labels, training=False)

    def serving_endpoints(self):
        """``sample(n, seed, temperature)`` -> uint8 images; a conditional DCGAN: ``sample(labels, seed,
        temperature)``, one image per label."""
        return {"sample": sample_endpoint(self._draw, self.num_classes)}

    def network_endpoint(self):
        """``generate(z)`` (a conditional DCGAN: ``generate(z, labels)``) -> float32 images in [0, 1]: the
        generator that ``sample`` runs on z ~ N(0, temperature^2)."""
        z = spec((None, self.latent_dim), "float32", "z")
        if self.num_classes is None:
            return "generate", lambda z: self._generate(z, None, training=False), [z]
        return "generate", lambda z, labels: self._generate(z, labels, training=False), [z, LABELS]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, filters=self.filters,
            label_smoothing=self.label_smoothing, num_classes=self.num_classes, ema_decay=self.ema_decay,
            minibatch_std=self.minibatch_std, r1_penalty=self.r1_penalty, adversarial_loss=self.adversarial_loss,
            discriminator_filters=self.discriminator_filters,
        )
        return config
