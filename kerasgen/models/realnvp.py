"""RealNVP normalizing flow (Dinh et al. 2017) for images and for low-dimensional vectors."""

import math

import keras
import numpy as np
from keras import ops

from kerasgen import backend, sampling
from kerasgen.checks import InvalidArgument, WrongType, check_positive_int, check_real
from kerasgen.data import dequantize
from kerasgen.layers.coupling import ActNorm, AffineCoupling, Squeeze, depth_to_space, space_to_depth
from kerasgen.models.base import (
    DensityModel, ImageGenerator, PointGenerator, StepCounted, UntrackedState, check_sample_args,
)
from kerasgen.models.serving import WITH_LITERT, Servable, as_uint8, sample_endpoint, spec

_DEQUANTIZE_SALT = 3
_LOG_256 = math.log(256.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _check_data_shape(data_shape, num_scales, name):
    try:
        shape = tuple(int(d) for d in data_shape)
    except (TypeError, ValueError):
        raise WrongType(f"{name} must be a tuple of ints, (d,) or (H, W, C); got {data_shape!r}") from None
    if len(shape) == 1 and shape[0] >= 2:
        return shape
    factor = 2 ** (num_scales - 1)
    if len(shape) == 3 and min(shape) >= 1 and shape[0] % factor == 0 and shape[1] % factor == 0:
        if (shape[0] // factor) * (shape[1] // factor) >= 2:
            return shape
    raise InvalidArgument(
        f"{name} must be (d,) with d >= 2, or (H, W, C) with H and W divisible by 2**(num_scales-1) = {factor} "
        f"and at least 2 pixels at the last scale; got {data_shape!r}"
    )


def _standard_normal_log_prob(z):
    return ops.sum(-0.5 * ops.square(z) - _HALF_LOG_2PI, axis=list(range(1, len(z.shape))))


def _readable(x):
    """Whether the values of tensor ``x`` can be read here: not while it is traced into a tf.function or jax.jit."""
    if backend.name() == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly()
    if backend.name() == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    return True


@keras.saving.register_keras_serializable(package="kerasgen")
class RealNVP(StepCounted, DensityModel, ImageGenerator, PointGenerator, Servable, keras.Model):
    """A RealNVP flow: an invertible map from data to a standard normal latent of the same shape.

    ``image_shape`` is the data's shape, as for the other image families:
    (H, W, C) for images, (d,) for vectors (``input_shape``, its old name, is
    accepted too). ``data_shape`` holds it either way; the ``image_shape``
    attribute is it for images and None for vectors, ``point_shape`` the
    reverse. The model serves one protocol, by its shape:
    ``isinstance(model, ImageGenerator)`` for images,
    ``isinstance(model, PointGenerator)`` for vectors.

    Vectors (``image_shape=(d,)``, e.g. 2-D toy data): ``num_couplings``
    affine couplings with alternating masks and MLP networks (``num_blocks``
    hidden layers of ``hidden_units``), each preceded by ActNorm. Data are raw
    real vectors; ``sample`` returns raw points (no clipping).

    Images (``image_shape=(H, W, C)``, pixels in [0, 1]): the paper's
    multi-scale architecture with ActNorm (data-dependent initialisation, exact
    log-determinant) before every coupling. Each of the ``num_scales`` scales
    but the last runs 3 checkerboard couplings, a squeeze (H, W, C) -> (H/2,
    W/2, 4C), 3 channel couplings, and factors out half the channels as latent;
    the last scale runs 4 checkerboard couplings. Coupling networks are
    residual conv nets with ``num_blocks`` blocks of ``hidden_units`` channels
    (one int for every scale, or a list of one per scale: narrow nets at full
    resolution, wider ones after each squeeze, keep the cost per scale even).
    The latents are reassembled into the input's shape, so ``z`` has the shape
    of ``x``. The flow proper (``to_latent``/``inverse``) acts on the flow space
    ``y = logit(alpha + (1 - 2 alpha) x)``; ``preprocess``/``postprocess`` map
    between [0, 1] images and it, and every log-likelihood counts that
    Jacobian.

    Training: ``model.fit(images)`` with float images in [0, 1] as
    ``kerasgen.data.image_batches`` yields (labels, if given, are ignored).
    ``model(x)`` is the per-example log-likelihood in nats that ``fit`` and
    ``evaluate`` use; for images it first dequantises, ``x' = (255 x + u) /
    256`` with u ~ U[0, 1) drawn from the optimizer's step counter (the same
    noise under any distribution strategy). The loss is the negative
    log-likelihood in nats per dimension; the tracked metric is
    ``bits_per_dim`` for images (of the 8-bit data, as ``bits_per_dim()``) and
    ``nll`` in nats per example for vectors. The flow runs in float32 under
    any dtype policy; only the coupling networks follow it.

    Example:
    >>> nvp = RealNVP(image_shape=(28, 28, 1))
    >>> nvp.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> images, _ = kerasgen.data.load_image_arrays("mnist", "train")
    >>> nvp.fit(kerasgen.data.image_batches(images, batch_size=64), epochs=1)
    >>> nvp.sample(16, temperature=0.7, seed=0)      # float32 (16, 28, 28, 1) in [0, 1]
    >>> nvp.bits_per_dim(test_images)                # test_images: uint8 (n, 28, 28, 1)

    >>> moons = RealNVP(image_shape=(2,), num_couplings=8, hidden_units=64, num_blocks=2)
    >>> moons.compile(optimizer="adam")
    >>> moons.fit(kerasgen.toy_data.make_moons(4096, seed=0), batch_size=256, epochs=20)
    >>> moons.log_prob([[0.0, 0.5]]), moons.sample(1000, seed=0)
    """

    export_formats = WITH_LITERT

    def __init__(
        self, image_shape=None, num_scales=2, num_couplings=8, hidden_units=32, num_blocks=1, alpha=0.05,
        input_shape=None, **kwargs,
    ):
        if image_shape is not None and input_shape is not None:
            raise WrongType("pass image_shape or input_shape (its old name), not both")
        super().__init__(**kwargs)
        # The flow reads its inputs in float32 under any policy (the coupling networks cast for themselves).
        self.autocast = False
        self.num_scales = check_positive_int(num_scales, "num_scales")
        name, shape = ("input_shape", input_shape) if input_shape is not None else ("image_shape", image_shape)
        self.data_shape = _check_data_shape((28, 28, 1) if shape is None else shape, self.num_scales, name)
        self.num_couplings = check_positive_int(num_couplings, "num_couplings")
        if isinstance(hidden_units, (list, tuple)):
            if len(hidden_units) != self.num_scales or len(self.data_shape) != 3:
                raise InvalidArgument(
                    f"hidden_units as a list needs images and one entry per scale ({self.num_scales}), "
                    f"got {list(hidden_units)}"
                )
            self.hidden_units = [check_positive_int(h, "hidden_units") for h in hidden_units]
        else:
            self.hidden_units = check_positive_int(hidden_units, "hidden_units")
        self.num_blocks = check_positive_int(num_blocks, "num_blocks")
        self.alpha = check_real(alpha, "alpha", 0, 0.5, open_below=True, open_above=True)
        self.is_image = len(self.data_shape) == 3
        self.image_shape = self.data_shape if self.is_image else None
        self.point_shape = None if self.is_image else self.data_shape
        self.num_dims = int(np.prod(self.data_shape))

        # One flat list of steps; scale i runs steps[scale_bounds[i]:scale_bounds[i + 1]].
        self.steps = []
        self.scale_bounds = [0]
        if self.is_image:
            for scale in range(self.num_scales):
                last = scale == self.num_scales - 1
                units = self.hidden_units[scale] if isinstance(self.hidden_units, list) else self.hidden_units
                self._add_couplings(f"scale{scale}_checkerboard", "checkerboard", 4 if last else 3, units)
                if not last:
                    self.steps.append(Squeeze(name=f"scale{scale}_squeeze"))
                    self._add_couplings(f"scale{scale}_channel", "channel", 3, units)
                self.scale_bounds.append(len(self.steps))
        else:
            self._add_couplings("coupling", "checkerboard", self.num_couplings, self.hidden_units)
            self.scale_bounds.append(len(self.steps))
        self.metric_tracker = keras.metrics.Mean(name="bits_per_dim" if self.is_image else "nll")
        self.untracked = UntrackedState()
        self.untracked.training_step = None  # set by train_step on JAX, see _training_step
        self.untracked.log_prob_function = None  # compiled on first use, see log_prob

    def _add_couplings(self, prefix, mask, count, units):
        for i in range(count):
            self.steps.append(ActNorm(name=f"{prefix}{i}_actnorm"))
            self.steps.append(
                AffineCoupling(mask, i % 2, units, self.num_blocks, name=f"{prefix}{i}_coupling")
            )

    @property
    def generator_protocol(self):
        """The protocol this flow serves: ``ImageGenerator`` for images, ``PointGenerator`` for vectors."""
        return ImageGenerator if self.is_image else PointGenerator

    def build(self, input_shape=None):
        """Create every weight with one forward pass (ActNorm keeps its identity until the first training step)."""
        self._forward(ops.zeros((1, *self.data_shape)))

    def _ensure_built(self):
        if not self.built:
            self.build((None, *self.data_shape))

    # The flow proper, on the flow space (logit space for images).

    def _forward(self, y, training=False):
        log_det = ops.zeros(ops.shape(y)[:1])
        factored = []
        for scale in range(len(self.scale_bounds) - 1):
            for step in self.steps[self.scale_bounds[scale] : self.scale_bounds[scale + 1]]:
                y, step_log_det = step(y, training=training)
                log_det += step_log_det
            if scale < len(self.scale_bounds) - 2:
                latent, y = ops.split(y, 2, axis=-1)
                factored.append(latent)
        for latent in reversed(factored):
            y = depth_to_space(ops.concatenate([latent, y], axis=-1))
        return y, log_det

    def _inverse(self, z):
        factored = []
        for _ in range(len(self.scale_bounds) - 2):
            latent, z = ops.split(space_to_depth(z), 2, axis=-1)
            factored.append(latent)
        for scale in reversed(range(len(self.scale_bounds) - 1)):
            if scale < len(factored):
                z = ops.concatenate([factored[scale], z], axis=-1)
            for step in reversed(self.steps[self.scale_bounds[scale] : self.scale_bounds[scale + 1]]):
                z, _ = step(z, inverse=True)
        return z

    # Preprocessing between [0, 1] images and the flow space.

    def _preprocess(self, x):
        squashed = self.alpha + (1.0 - 2.0 * self.alpha) * x
        log_p, log_1mp = ops.log(squashed), ops.log1p(-squashed)
        log_det = math.log(1.0 - 2.0 * self.alpha) - log_p - log_1mp  # d logit(p)/dp = 1 / (p (1 - p))
        return log_p - log_1mp, ops.sum(log_det, axis=[1, 2, 3])

    def _postprocess(self, y):
        return (ops.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)

    def _log_prob(self, x, training=False):
        """log p(x) in nats per example: base density + flow log-det (+ preprocessing log-det for images)."""
        y, log_det = self._preprocess(x) if self.is_image else (x, 0.0)
        z, flow_log_det = self._forward(y, training=training)
        return _standard_normal_log_prob(z) + flow_log_det + log_det

    def call(self, x, training=False):
        x = ops.cast(x, "float32")
        if self.is_image:
            # Uniform dequantisation; the noise is a function of the step, identical under any strategy.
            iterations = self._training_step() if getattr(self, "optimizer", None) is not None else 0
            noise = backend.replica_noise(
                ops.shape(x), backend.step_seed(iterations, _DEQUANTIZE_SALT), distribution="uniform"
            )
            x = (x * 255.0 + noise) / 256.0
        return self._log_prob(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -y_pred
        if self.is_image:
            self.metric_tracker.update_state((nll / self.num_dims + _LOG_256) / math.log(2.0))
        else:
            self.metric_tracker.update_state(nll)
        return backend.scale_for_replicas(ops.mean(nll) / self.num_dims)

    def _jax_training_state(self, state, data):
        """JAX's training state with every ActNorm initialised from this batch, if not done before.

        JAX's ``fit`` keeps the non-trainable variables a forward pass assigns but not the trainable ones, so
        ActNorm's data-dependent initialisation runs here, in a pass of its own that a cond skips once done.
        """
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        variables = [*self.trainable_variables, *self.non_trainable_variables]
        flag_ids = {id(step.initialized) for step in self.steps if isinstance(step, ActNorm)}
        flags = [i for i, variable in enumerate(variables) if id(variable) in flag_ids]
        values = [*trainable, *non_trainable]

        def initialize():
            with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
                self(x, training=True)
            return [scope.get_current_value(variable) for variable in variables]

        done = ops.all(ops.stack([values[i] > 0 for i in flags]))
        initialized = ops.cond(done, lambda: values, initialize)
        return initialized[: len(trainable)], initialized[len(trainable) :], optimizer_variables, metrics_variables

    @property
    def metrics(self):
        return [*super().metrics, self.metric_tracker]

    # Public API.

    def _check_array(self, x, name, space="data"):
        x = ops.convert_to_tensor(x)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if self.is_image and not keras.backend.is_float_dtype(dtype):
            raise WrongType(f"{name} must be floating point, got {dtype} (for uint8 images use bits_per_dim)")
        if len(x.shape) != len(self.data_shape) + 1 or tuple(x.shape[1:]) != self.data_shape:
            expected = ", ".join(map(str, self.data_shape))
            raise InvalidArgument(f"{name} must have shape (n, {expected}), got {tuple(x.shape)}")
        x = ops.cast(x, "float32")
        if self.is_image and space == "data" and _readable(x) and math.prod(x.shape) > 0:
            low, high = float(ops.min(x)), float(ops.max(x))
            if low < 0 or high > 1:
                raise InvalidArgument(f"{name} must be images in [0, 1], got values in [{low}, {high}]")
        self._ensure_built()
        return x

    def to_latent(self, x):
        """Flow space -> latent: ``(z, log_det)``, z of x's shape, log_det (n,) = log|det dz/dx|. (Not ``forward``:
        on PyTorch that name is every layer's ``torch.nn.Module`` call.)

        For images the flow space is the logit space: pass ``preprocess(images)[0]``.
        """
        return self._forward(self._check_array(x, "x", space="flow"))

    def inverse(self, z):
        """Latent -> flow space: the exact inverse of ``to_latent`` (for images, ``postprocess`` gives [0, 1] images)."""
        return self._inverse(self._check_array(z, "z", space="flow"))

    def preprocess(self, images):
        """Images in [0, 1] -> flow space: ``(logit(alpha + (1 - 2 alpha) x), log|det dy/dx|)`` per example."""
        if not self.is_image:
            raise InvalidArgument("preprocess applies to image flows; vector flows act on the data directly")
        return self._preprocess(self._check_array(images, "images"))

    def postprocess(self, y):
        """Flow space -> images: the inverse of ``preprocess`` (not clipped)."""
        if not self.is_image:
            raise InvalidArgument("postprocess applies to image flows; vector flows act on the data directly")
        return self._postprocess(self._check_array(y, "y", space="flow"))

    def log_prob(self, x):
        """log density of x in nats per example, float32 tensor (n,).

        Vectors: the density of the raw points. Images: the density on the
        continuous cube [0, 1]^D, counting the logit transform's Jacobian
        (no dequantisation: x is a point, not an 8-bit image; see
        ``bits_per_dim`` for those).
        """
        return self._log_prob(self._check_array(x, "x"))

    def bits_per_dim(self, images, seed=0, batch_size=256):
        """Mean negative log-likelihood of 8-bit images in bits per dimension (RealNVP/Glow convention).

        ``images`` are uint8 (n, H, W, C). Each is dequantised with uniform
        noise from ``seed`` (``kerasgen.data.dequantize``) and scored by the continuous
        density, with the 1/256 bin volume per dimension counted:
        ``mean(-log_prob(dequantize(images, seed))) / (D ln 2) + 8``.
        """
        if not self.is_image:
            raise InvalidArgument("bits_per_dim applies to image flows of 8-bit data; use log_prob for vectors")
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise WrongType(f"images must be uint8 pixel values (0-255), got {images.dtype}")
        if images.ndim != 4 or images.shape[1:] != self.data_shape or not len(images):
            expected = ", ".join(map(str, self.data_shape))
            raise InvalidArgument(f"images must have shape (n, {expected}) with n >= 1, got {images.shape}")
        batch_size = check_positive_int(batch_size, "batch_size")
        self._ensure_built()
        if self.untracked.log_prob_function is None:
            self.untracked.log_prob_function = backend.compiled(self._log_prob_with)
        weights = [weight.value for weight in self.weights]
        x = dequantize(images, seed)
        log_probs = [
            self.untracked.log_prob_function(weights, ops.convert_to_tensor(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        nll = -np.concatenate([np.asarray(ops.convert_to_numpy(p), np.float64) for p in log_probs])
        return float(np.mean(nll) / (self.num_dims * math.log(2.0)) + _LOG_256 / math.log(2.0))

    def _log_prob_with(self, weights, x):
        """``_log_prob`` with the weights' values as arguments: a compiled function that reads them never goes stale
        (``jax.jit`` would keep the values it was traced with)."""
        with keras.StatelessScope(state_mapping=list(zip(self.weights, weights))):
            return self._log_prob(x)

    def sample(self, n, temperature=1.0, seed=None):
        """n draws, float32 numpy (n, *data_shape): images clipped to [0, 1], or raw points.

        ``temperature`` scales the standard deviation of the base Gaussian;
        the same ``seed`` gives the same samples.
        """
        n, temperature = check_sample_args(n, temperature)
        self._ensure_built()
        return np.asarray(ops.convert_to_numpy(self._draw(n, temperature, sampling.seed_pair(seed))), np.float32)

    def _draw(self, n, temperature, seed):
        x = self._inverse(temperature * backend.normal((n, *self.data_shape), seed))
        return ops.clip(self._postprocess(x), 0.0, 1.0) if self.is_image else x

    def serving_endpoints(self):
        """``sample(n, seed, temperature)`` -> uint8 images (float32 points for a vector flow) and ``log_prob(x)``
        -> log density in nats per example (images as float32 in [0, 1], as ``log_prob`` takes them)."""
        def log_prob(x):
            return self._log_prob(ops.cast(x, "float32"))

        draw = lambda n, temperature, seed, labels: self._draw(n, temperature, seed)  # noqa: E731
        return {"sample": sample_endpoint(draw, None, as_uint8 if self.is_image else lambda x: x),
                "log_prob": (log_prob, [spec((None, *self.data_shape), "float32", "x")])}

    def network_endpoint(self):
        """``from_latent(z)`` -> images in [0, 1] (points for a vector flow): the inverse flow that ``sample`` runs
        on z ~ N(0, temperature^2), z shaped like the data."""
        def from_latent(z):
            x = self._inverse(z)
            return ops.clip(self._postprocess(x), 0.0, 1.0) if self.is_image else x

        return "from_latent", from_latent, [spec((None, *self.data_shape), "float32", "z")]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.data_shape,
            num_scales=self.num_scales,
            num_couplings=self.num_couplings,
            hidden_units=self.hidden_units,
            num_blocks=self.num_blocks,
            alpha=self.alpha,
        )
        return config
