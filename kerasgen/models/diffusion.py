"""Denoising diffusion (DDPM training, DDIM and DDPM sampling) on a residual U-Net.

The pieces are separate, as in diffusers: the cosine noise schedule and the
prediction's clean-image estimate are plain functions, the samplers are scheduler
objects (``kerasgen.schedulers``), ``run_sampler`` drives a compiled step through a
scheduler's timesteps, and ``DiffusionModel`` trains the network and plugs it (or
its EMA copy) into any scheduler.
"""

import json
import math

import keras
import numpy as np
from keras import ops

from kerasgen import backend, compat, sampling, schedulers
from kerasgen.checks import InvalidArgument, WrongType, check_image_shape, check_labels, check_positive_int, check_real
from kerasgen.layers.unet import UNet
from kerasgen.models import ema
from kerasgen.models.base import ClassConditional, ImageGenerator, UntrackedState, check_sample_args
from kerasgen.models.rebuild import rebuilt
from kerasgen.models.serving import LABELS, SEED, TEMPERATURE, Servable, as_uint8, scalar, spec
from kerasgen.schedulers import ddim_step, ddpm_step, sampling_timesteps  # noqa: F401 (also imported from here)

PREDICTIONS = ("epsilon", "v")
_TIMESTEP_SALT, _NOISE_SALT, _LABEL_SALT = 1, 2, 3


def cosine_alpha_bars(timesteps=1000, offset=0.008, max_beta=0.999):
    """The cosine schedule (Nichol & Dhariwal, 2021): signal fraction ``alpha_bar[t]`` for t = 0..timesteps-1.

    ``x_t = sqrt(alpha_bar[t]) * x_0 + sqrt(1 - alpha_bar[t]) * noise``.
    ``alpha_bar`` follows ``cos((t / T + offset) / (1 + offset) * pi / 2) ** 2``
    from just below 1 to about 0, with each step's beta clipped to ``max_beta``.
    """
    f = np.cos((np.arange(timesteps + 1) / timesteps + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = np.minimum(1 - f[1:] / f[:-1], max_beta)
    return np.cumprod(1 - betas)


def predict_clean(x, output, alpha_bar, prediction="epsilon"):
    """The clean image implied by the network's ``output`` at ``x``, clipped to [-1, 1], and the matching noise.

    ``prediction`` says what the network predicts: ``"epsilon"``, the noise (x_0 is then
    ``(x - sqrt(1 - alpha_bar) * output) / sqrt(alpha_bar)``, which magnifies the network's
    errors where almost no signal is left), or ``"v"``, ``sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x_0``
    (x_0 is then ``sqrt(alpha_bar) * x - sqrt(1 - alpha_bar) * output``, well conditioned at every noise level).
    """
    if prediction == "v":
        x0 = ops.sqrt(alpha_bar) * x - ops.sqrt(1 - alpha_bar) * output
    else:
        x0 = (x - ops.sqrt(1 - alpha_bar) * output) / ops.sqrt(alpha_bar)
    x0 = ops.clip(x0, -1.0, 1.0)
    return x0, (x - ops.sqrt(alpha_bar) * x0) / ops.sqrt(1 - alpha_bar)


def make_sampling_step(network, sampler, prediction="epsilon", conditioning=None):
    """A compiled denoising step with ``sampler``'s update (a scheduler or its name) for a ``network(x, timesteps)``
    that predicts ``prediction`` ("epsilon" or "v"), compiled by ``kerasgen.backend.compiled_with_variables``
    (``tf.function``; ``jax.jit`` fed the network's current weights at each call; eager on PyTorch).

    The step is ``(x, t, alpha_bar, alpha_bar_prev, eta, temperature, seed) -> x_prev``
    with every argument a tensor, so one trace serves all steps of a chain and any eta;
    ``step.scheduler`` is the scheduler, which ``run_sampler`` asks for the timesteps.

    ``conditioning`` is None (the network sees images and timesteps only), ``"labels"`` (the step also takes an
    int32 label per image, passed on to ``network(x, timesteps, labels)``) or ``"guidance"``: classifier-free
    guidance, the step takes labels and a guidance weight ``w`` and predicts
    ``unconditional + w * (conditional - unconditional)`` from one network call on both halves of a doubled
    batch (``network.num_classes`` is the "no class" label), so ``w = 0`` is the unconditional prediction and
    ``w = 1`` the conditional one.
    """
    scheduler = schedulers.get(sampler)
    if conditioning not in (None, "labels", "guidance"):
        raise InvalidArgument(f"conditioning must be None, 'labels' or 'guidance', got {conditioning!r}")

    def predict(x, timesteps, labels=None, guidance=None):
        if conditioning is None:
            return ops.cast(network(x, timesteps), "float32")
        if conditioning == "labels":
            return ops.cast(network(x, timesteps, labels), "float32")
        no_class = ops.full_like(labels, network.num_classes)
        both = network(
            ops.concatenate([x, x], 0), ops.concatenate([timesteps, timesteps], 0),
            ops.concatenate([labels, no_class], 0),
        )
        conditional, unconditional = ops.split(ops.cast(both, "float32"), 2)
        return unconditional + guidance * (conditional - unconditional)

    def step(x, t, alpha_bar, alpha_bar_prev, eta, temperature, seed, *condition):
        output = predict(x, ops.full(ops.shape(x)[:1], t, dtype="int32"), *condition)
        x0, predicted_noise = predict_clean(x, output, alpha_bar, prediction)
        noise = temperature * backend.normal(ops.shape(x), seed)
        return scheduler.step(x, x0, predicted_noise, alpha_bar, alpha_bar_prev, noise, eta)

    compiled = backend.compiled_with_variables(step, getattr(network, "variables", ()))
    compiled.scheduler = scheduler
    return compiled


def run_sampler(step, x, alpha_bars, steps, eta=None, temperature=1.0, seed=(0, 0), progress=None, condition=()):
    """Denoise ``x`` (pure noise at the last timestep) in ``steps`` calls of a compiled ``step``.

    The timesteps are those of ``step.scheduler``, and so is ``eta`` unless given. Step ``i``
    draws its noise from ``seed`` folded with ``i``; ``progress(i, steps)`` is called after
    each step. ``condition`` holds the step's conditioning tensors (labels, and the guidance weight), if any.
    Returns x_0 (float32 tensor, in [-1, 1]).
    """
    timesteps = step.scheduler.timesteps(steps, len(alpha_bars))
    previous = [alpha_bars[t] for t in timesteps[1:]] + [1.0]
    eta = step.scheduler.eta if eta is None else eta
    eta, temperature = ops.convert_to_tensor(eta, "float32"), ops.convert_to_tensor(temperature, "float32")
    for i, (t, alpha_bar_prev) in enumerate(zip(timesteps, previous)):
        x = step(
            x, ops.convert_to_tensor(t), ops.convert_to_tensor(alpha_bars[t], "float32"),
            ops.convert_to_tensor(alpha_bar_prev, "float32"), eta, temperature, backend.fold_in(seed, i), *condition,
        )
        if progress is not None:
            progress(i + 1, steps)
    return x


@keras.saving.register_keras_serializable(package="kerasgen")
class DiffusionModel(ClassConditional, ImageGenerator, Servable, keras.Model):
    """DDPM with a cosine schedule and epsilon or v prediction, sampled by DDIM or DDPM from an EMA of the weights.

    Training: ``fit(images)`` with float32 images in [0, 1] (scaled to [-1, 1]
    inside). Each step draws a timestep per image and Gaussian noise from the
    optimizer's step counter (``backend.replica_noise``), so a step under
    MirroredStrategy equals the single-device step; ``model(images)`` returns
    ``(target, prediction)`` and the loss is their mean squared error, in
    float32 under any policy. The target is the noise (``prediction="epsilon"``)
    or ``v = sqrt(alpha_bar) * noise - sqrt(1 - alpha_bar) * x_0``
    (``prediction="v"``, Salimans & Ho, 2022), whose clean-image estimate stays
    accurate at the noisiest timesteps, where few-step deterministic DDIM
    decides what it draws.

    EMA: ``ema_network`` is a second U-Net, not trained by the optimizer, that
    after every training step (``train_step``, once the optimizer has applied
    the gradients) becomes ``ema_decay * ema + (1 - ema_decay) * weights``, in
    a cross-replica update that is the same on every device. The optimizer's
    first step copies the weights instead, so a freshly compiled optimizer
    restarts the average. It is a tracked sub-layer, so ``.keras`` files and
    ``BackupAndRestore`` keep both the raw and the EMA weights. ``sample``
    uses the EMA network unless ``use_ema=False``.

    Sampling: ``sample(n, steps=50, sampler="ddim")`` runs ``steps`` strided
    timesteps, one compiled call each, with any scheduler of
    ``kerasgen.schedulers`` (an object, or its name). DDIM with ``eta=0`` is
    deterministic given the initial noise; ``sampler="ddpm"`` is ancestral
    sampling (``steps=timesteps`` is the full chain).

    Classes: with ``num_classes`` the U-Net also reads a class label per image
    (its embedding added to the timestep's). ``fit(images, labels)`` (or a
    dataset of ``(images, labels)``) trains it, replacing each label by "no
    class" with probability ``label_dropout``, so the one network is both
    conditional and unconditional (Ho & Salimans, 2022). ``sample(n,
    labels=7)`` draws sevens; ``guidance=w`` mixes the two predictions as
    ``unconditional + w * (conditional - unconditional)``: 0 is the
    unconditional draw, 1 (the default) the conditional one, above 1 the
    classes come out more distinct at some cost in variety. ``labels=None``
    samples unconditionally. ``with_classes(k)`` turns an unconditional model
    into a conditional one with the same weights and a zero label embedding
    (fine-tuning starts from what it drew).

    Example:
    >>> model = DiffusionModel(image_shape=(28, 28, 1))
    >>> model.compile(optimizer=keras.optimizers.AdamW(2e-4))
    >>> images, _ = kerasgen.data.load_image_arrays("mnist", "train")
    >>> model.fit(kerasgen.data.image_batches(images, batch_size=64), epochs=10)
    >>> model.sample(16, steps=50, sampler="ddim", seed=0)   # float32 (16, 28, 28, 1) in [0, 1]
    """

    def __init__(
        self, image_shape, widths=(32, 64, 96), block_depth=2, attention=False, timesteps=1000, ema_decay=0.999,
        prediction="epsilon", num_classes=None, label_dropout=0.1, **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        if not isinstance(widths, (tuple, list)) or not widths:
            raise InvalidArgument(f"widths must be a non-empty sequence of channel counts, got {widths!r}")
        self.widths = tuple(check_positive_int(w, "widths") for w in widths)
        self.block_depth = check_positive_int(block_depth, "block_depth")
        self.attention = bool(attention)
        self.timesteps = check_positive_int(timesteps, "timesteps", 2)
        self.ema_decay = check_real(ema_decay, "ema_decay", 0, 1, open_above=True)
        if prediction not in PREDICTIONS:
            raise InvalidArgument(f"prediction must be one of {', '.join(PREDICTIONS)}; got {prediction!r}")
        self.prediction = prediction
        self.num_classes = None if num_classes is None else check_positive_int(num_classes, "num_classes", 2)
        self.label_dropout = check_real(label_dropout, "label_dropout", 0, 1, open_above=True)
        self.alpha_bars = cosine_alpha_bars(self.timesteps)
        unet = dict(
            widths=self.widths, block_depth=self.block_depth, attention=self.attention, num_classes=self.num_classes
        )
        self.network = UNet(self.image_shape[-1], **unet, name="network")
        self.ema_network = UNet(self.image_shape[-1], **unet, name="ema_network")
        self.untracked = UntrackedState()
        self.untracked.sampling_steps = {}  # (sampler, conditioning) -> compiled step, see sample

    def build(self, input_shape):
        """Create the weights of both networks by one forward pass over a dummy batch."""
        if input_shape and isinstance(input_shape[0], (tuple, list)):  # (images, labels)
            input_shape = input_shape[0]
        if tuple(input_shape[1:]) != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise InvalidArgument(f"images must have shape (batch, {expected}), got {tuple(input_shape)}")
        for network in (self.network, self.ema_network):
            network(ops.zeros((1, *self.image_shape)), ops.zeros((1,), "int32"))
        self.ema_network.trainable = False  # after its weights exist, so that it covers them all

    def call(self, inputs, training=False):
        """Noise images (in [0, 1]) at random timesteps; return ``(target, prediction)``, float32.

        ``inputs`` is the images, or ``(images, labels)`` for a model with classes (in training, each label
        becomes "no class" with probability ``label_dropout``). The target is the noise, or v for
        ``prediction="v"``.
        """
        images, labels = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        optimizer = getattr(self, "optimizer", None)  # None before compile()
        counter = 0 if optimizer is None else optimizer.iterations
        if labels is not None and self.num_classes is None:
            labels = None  # an unconditional model ignores the labels a labelled data set brings
        if labels is not None:
            labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
            if training and self.label_dropout > 0:
                uniform = backend.replica_noise(
                    ops.shape(labels), backend.step_seed(counter, _LABEL_SALT), "uniform"
                )
                labels = ops.where(uniform < self.label_dropout, self.num_classes, labels)
        x0 = 2 * ops.cast(images, "float32") - 1
        uniform = backend.replica_noise(ops.shape(x0)[:1], backend.step_seed(counter, _TIMESTEP_SALT), "uniform")
        timesteps = ops.minimum(ops.cast(uniform * self.timesteps, "int32"), self.timesteps - 1)
        noise = backend.replica_noise(ops.shape(x0), backend.step_seed(counter, _NOISE_SALT), "normal")
        alpha_bar = ops.take(ops.convert_to_tensor(self.alpha_bars, "float32"), timesteps)[:, None, None, None]
        noisy = ops.sqrt(alpha_bar) * x0 + ops.sqrt(1 - alpha_bar) * noise
        target = noise if self.prediction == "epsilon" else ops.sqrt(alpha_bar) * noise - ops.sqrt(1 - alpha_bar) * x0
        prediction = self.network(noisy, timesteps) if labels is None else self.network(noisy, timesteps, labels)
        return target, ops.cast(prediction, "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean squared error between the target and its prediction, in float32; Keras's ``loss`` metric tracks it."""
        target, prediction = y_pred
        return backend.scale_for_replicas(ops.mean(ops.square(target - prediction)))

    def train_step(self, *args):
        """Keras's step, then the EMA update. TensorFlow and PyTorch: ``train_step(data)``; JAX:
        ``train_step(state, data)``, Keras's stateless form, on the state ``fit`` carries."""
        if backend.name() == "jax":
            return self._stateless_train_step(*args)
        logs = super().train_step(*args)
        ema.update(zip(self.ema_network.weights, self.network.weights),
                   ema.decay_after(self.optimizer.iterations, self.ema_decay))
        return logs

    def test_step(self, *args):
        """Keras's step on the images (and labels); on JAX ``test_step(state, data)``."""
        if backend.name() == "jax":
            state, data = args
            return keras.Model.test_step(self, state, self._labels_as_inputs(data))
        return super().test_step(*args)

    def _stateless_train_step(self, state, data):
        """The JAX step: the loss differentiated as a pure function of the trainable values, with a
        ``StatelessScope`` that maps the optimizer's variables too (so ``call`` draws from this step's counter),
        the optimizer's ``stateless_apply``, then the EMA update on the new values."""
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        inputs, _, _ = keras.utils.unpack_x_y_sample_weight(self._labels_as_inputs(data))
        variables = [*self.trainable_variables, *self.non_trainable_variables]

        def objective(trainable_values):
            mapping = [*zip(variables, [*trainable_values, *non_trainable]),
                       *zip(self.optimizer.variables, optimizer_values)]
            with keras.StatelessScope(state_mapping=mapping):
                y_pred = self(inputs, training=True)
                loss = self.compute_loss(inputs, None, y_pred, training=True)
                return self.optimizer.scale_loss(loss), (loss, y_pred)

        (_, (loss, y_pred)), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
        trainable, optimizer_values = self.optimizer.stateless_apply(optimizer_values, grads, trainable)

        with keras.StatelessScope(state_mapping=list(zip(self.optimizer.variables, optimizer_values))):
            decay = ema.decay_after(self.optimizer.iterations, self.ema_decay)
        non_trainable = ema.updated_values(zip(self.ema_network.weights, self.network.weights), decay, variables,
                                           [*trainable, *non_trainable], self.non_trainable_variables, non_trainable)

        images = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metric_values))) as scope:
            compat.loss_tracker(self).update_state(loss, sample_weight=ops.shape(images)[0])
            logs = self.compute_metrics(inputs, None, y_pred)
        updated = [scope.get_current_value(variable) for variable in self.metrics_variables]
        metric_values = [old if new is None else new for new, old in zip(updated, metric_values)]
        return logs, (trainable, non_trainable, optimizer_values, metric_values)

    def sample(
        self, n, temperature=1.0, seed=None, *, labels=None, guidance=None, steps=50, sampler="ddim", eta=0.0,
        use_ema=True, progress=None,
    ):
        """``n`` images, float32 (n, H, W, C) in [0, 1].

        Args:
            labels: None (unconditional), one class for every image, or one per image (a model with classes).
            guidance: with labels, the classifier-free guidance weight, >= 0 (default 1: the conditional
                prediction; 0: the unconditional one; above 1: stronger).
            temperature: scales the initial noise and every step's added noise.
            seed: an int (the same seed gives the same images) or None.
            steps: denoising steps, 1 to ``timesteps`` (strided through the schedule).
            sampler: a scheduler (``kerasgen.schedulers``, e.g. ``DDIMScheduler(eta=0.5)``) or its name,
                ``"ddim"`` or ``"ddpm"`` (ancestral).
            eta: with a sampler name, DDIM's noise scale, in [0, 1]: 0 is deterministic, 1 equals DDPM.
                A scheduler object holds its own.
            use_ema: denoise with the EMA weights (default) or the raw trained weights.
            progress: None, or a callable ``progress(step, steps)`` run after each step.
        """
        n, temperature = check_sample_args(n, temperature)
        steps, scheduler = self._sampler_settings(steps, sampler, eta)
        if progress is not None and not callable(progress):
            raise WrongType(f"progress must be a callable (step, steps) or None, got {type(progress).__name__}")
        labels = check_labels(labels, n, self.num_classes)
        if guidance is not None:
            if labels is None:
                raise InvalidArgument("guidance needs labels: it weighs the conditional against the unconditional draw")
            guidance = check_real(guidance, "guidance", 0)
            if guidance != 1 and self.label_dropout == 0:
                raise InvalidArgument(f"guidance {guidance:g} mixes in the unconditional prediction, which a model "
                                      "trained with label_dropout=0 never learned: sample with guidance 1 (or None)")
        if not self.built:
            self.build((None, *self.image_shape))
        x = self._draw(
            n, temperature, sampling.seed_pair(seed), scheduler, steps, use_ema,
            labels=None if labels is None else ops.convert_to_tensor(labels),
            guidance=None if guidance == 1 else guidance, progress=progress,
        )
        return np.clip((ops.convert_to_numpy(x) + 1) / 2, 0, 1).astype(np.float32)

    def _sampler_settings(self, steps, sampler, eta):
        steps = check_positive_int(steps, "steps", 1, self.timesteps)
        eta = check_real(eta, "eta", 0, 1)
        return steps, schedulers.get(sampler, **({"eta": eta} if eta else {}))  # 0 is DDIM's default, DDPM's none

    def _draw(self, n, temperature, seed, scheduler, steps, use_ema, labels=None, guidance=None, progress=None):
        """x_0 in [-1, 1]; with ``labels``, guided by ``guidance`` (None: the conditional prediction alone)."""
        conditioning, condition = None, ()
        if labels is not None:
            conditioning = "labels" if guidance is None else "guidance"
            condition = (labels,) if guidance is None else (labels, ops.convert_to_tensor(guidance, "float32"))
        key = (scheduler, bool(use_ema), conditioning)
        if key not in self.untracked.sampling_steps:
            network = self.ema_network if use_ema else self.network
            self.untracked.sampling_steps[key] = make_sampling_step(network, scheduler, self.prediction, conditioning)
        start_seed, steps_seed = backend.split_seed(seed, 2)
        x = temperature * backend.normal((n, *self.image_shape), start_seed)
        return run_sampler(
            self.untracked.sampling_steps[key], x, self.alpha_bars, steps, temperature=temperature, seed=steps_seed,
            progress=progress, condition=condition,
        )

    def serving_endpoints(self, steps=50, sampler="ddim", eta=0.0, use_ema=True):
        """``sample(n, seed, temperature)`` -> uint8 images, by ``steps`` steps of ``sampler`` (as ``sample``);
        a model with classes: ``sample(labels, seed, temperature, guidance)``, one image per label (guidance 1: the
        conditional prediction alone, as ``sample`` draws it)."""
        steps, scheduler = self._sampler_settings(steps, sampler, eta)

        def images(x):
            return as_uint8((x + 1) / 2)

        if self.num_classes is None:
            def sample(n, seed, temperature):
                seed = backend.seed_from_tensor(seed)
                return images(self._draw(n, temperature, seed, scheduler, steps, use_ema))

            return {"sample": (sample, [scalar("int32", "n"), SEED, TEMPERATURE])}

        def sample_labels(labels, seed, temperature, guidance):
            n, seed = ops.shape(labels)[0], backend.seed_from_tensor(seed)
            x = ops.cond(
                guidance == 1,
                lambda: self._draw(n, temperature, seed, scheduler, steps, use_ema, labels),
                lambda: self._draw(n, temperature, seed, scheduler, steps, use_ema, labels, guidance),
            )
            return images(x)

        signature = [LABELS, SEED, TEMPERATURE, scalar("float32", "guidance")]
        return {"sample": (sample_labels, signature)}

    def network_metadata(self):
        """The schedule a sampling loop over the exported network needs: ``alpha_bars`` (a JSON list, by timestep),
        ``prediction`` and ``num_classes`` (JSON null without classes)."""
        return {"alpha_bars": json.dumps([float(value) for value in self.alpha_bars]), "prediction": self.prediction,
                "num_classes": json.dumps(self.num_classes)}

    def network_endpoint(self):
        """``predict(x, timesteps)`` (with classes: ``predict(x, timesteps, labels)``, ``num_classes`` for "no
        class") -> the EMA network's float32 prediction (``prediction``: the noise or v) for images x in [-1, 1]
        at integer timesteps (0 to ``timesteps - 1``): one denoising step's network, for a sampling loop of one's
        own (the schedule's ``alpha_bars`` are on the model)."""
        x = spec((None, *self.image_shape), "float32", "x")
        timesteps = spec((None,), "int32", "timesteps")
        if self.num_classes is None:
            return "predict", lambda x, timesteps: ops.cast(self.ema_network(x, timesteps), "float32"), [x, timesteps]
        return ("predict", lambda x, timesteps, labels: ops.cast(self.ema_network(x, timesteps, labels), "float32"),
                [x, timesteps, LABELS])

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            widths=list(self.widths),
            block_depth=self.block_depth,
            attention=self.attention,
            timesteps=self.timesteps,
            ema_decay=self.ema_decay,
            prediction=self.prediction,
            num_classes=self.num_classes,
            label_dropout=self.label_dropout,
        )
        return config

    def with_classes(self, num_classes):
        """A copy of this model that reads ``num_classes`` class labels: the same weights (raw and EMA) and a label
        embedding of zeros, so it draws what this model drew until fine-tuning teaches it the classes."""
        if self.num_classes is not None:
            raise InvalidArgument(f"the model already has {self.num_classes} classes")
        conditional = rebuilt(self, (None, *self.image_shape), num_classes=num_classes, name=None)
        for source, target in ((self.network, conditional.network), (self.ema_network, conditional.ema_network)):
            weights = {_relative_path(w, source): w for w in source.weights}
            for weight in target.weights:
                path = _relative_path(weight, target)
                if path in weights:
                    weight.assign(weights[path])
                elif "label_embedding" not in path:  # the label embedding keeps its zeros
                    raise RuntimeError(f"no weight {path} to copy into the model with classes")
        return conditional


def _relative_path(weight, layer):
    """``weight``'s path inside ``layer`` (without the outer models' names)."""
    return weight.path.split(f"{layer.name}/", 1)[-1]
