"""One description per model family: what training, the command line, callbacks and evaluation read.

A family says which model it builds and from what data, how that model is compiled, which constructor options the
command line offers, and what a run does with its samples. Nothing outside this module asks for a family by name::

    from kerasgen import families

    families.register(families.Family("gaussian", kind=families.POINTS, build=..., default_data="moons"))
    kerasgen.training.train("gaussian", epochs=5)          # and `kerasgen train gaussian ...`

Data kinds: ``text`` (a corpus: the model is built from its tokenizer), ``images`` (uint8 image arrays: built from
their shape) and ``points`` (2-D toy data: built from the point dimension). A family may read more than one kind
(RealNVP models images and 2-D points).
"""

import dataclasses
from typing import Callable

import numpy as np

from kerasgen.checks import InvalidArgument, WrongType

TEXT, IMAGES, POINTS = "text", "images", "points"
KINDS = (TEXT, IMAGES, POINTS)
# What a training run uses unless told otherwise, by the kind of data it reads (``training.RunConfig``).
RUN_DEFAULTS = {
    TEXT: {"batch_size": 64, "temperatures": (0.5, 1.0), "clipnorm": 5.0},
    IMAGES: {"batch_size": 128, "temperatures": (0.7, 1.0), "clipnorm": None},
    POINTS: {"batch_size": 128, "temperatures": (0.7, 1.0), "clipnorm": None},
}


@dataclasses.dataclass(frozen=True)
class Option:
    """A model constructor argument the command line offers as ``--<name with dashes>``."""

    name: str
    type: Callable = int
    help: str = ""
    flag: bool = False  # a switch (store_true) rather than a value

    @property
    def cli_flag(self):
        return "--" + self.name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Family:
    """How one model family is built, compiled, fed and watched during training.

    ``build(source, **options)`` returns a new model: ``source`` is a tokenizer for text families and the shape of
    one example for the others. ``compile(model, optimizer_factory, learning_rate)`` compiles it; the default
    gives the model one optimizer from ``optimizer_factory(learning_rate)``; ``optimizer_options`` go to every
    optimizer the run makes (a GAN's Adam ``beta_1``). ``train_transform(seed)`` returns the tf.data function
    ``f(batch, step)`` each training batch goes through (float images to binary ones, say), drawing any randomness
    from ``seed`` and the batch's step in the run (so a resumed run draws what the uninterrupted one did), and
    ``validation_transform`` the float validation array (numpy). ``labels``: the family learns labels, so
    its data must have them. ``validation``: whether ``fit`` reports a validation loss. ``samples``: whether
    the run logs samples each epoch (the model generates). ``epoch_schedules``: whether per-epoch learning
    rates apply (a family with several optimizers sets them itself). ``datasets`` names the data sets it reads
    besides its ``kind``'s own (``moons`` for points). ``conditional``: the family also has a class-conditional
    form, built with ``num_classes=k`` (``build(shape, num_classes=k)``); its models then take
    ``sample(n, labels=...)``; an unconditional one may offer ``with_classes(k)`` (diffusion does).
    ``probe(model, rng)`` returns the model's deterministic outputs for inputs drawn from the numpy ``rng``
    ({name: tensor}: logits for token ids, an image network's output for a latent or a noisy image, log-densities):
    what must agree across Keras backends for one saved file (``forward_outputs``). ``model_class``: the name of the
    model class it builds (how ``of_model`` finds a saved model's family). ``figures(data, model)``: the metric specs
    ({key, name, args}, the headline first) that judge a model of the family on data set ``data``, as a zoo card's
    (``kerasgen eval my.keras``).
    """

    name: str
    kind: str
    build: Callable
    default_data: str
    options: tuple = ()
    compile: Callable = None
    optimizer_options: dict = dataclasses.field(default_factory=dict)
    train_transform: Callable = None
    validation_transform: Callable = None
    labels: bool = False
    validation: bool = True
    samples: bool = True
    epoch_schedules: bool = True
    datasets: tuple = ()
    conditional: bool = False
    description: str = ""
    probe: Callable = None
    model_class: str = None
    figures: Callable = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InvalidArgument(f"family kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def reads(self, kind):
        """Whether the family trains on data of ``kind``."""
        return kind == self.kind or kind in self.datasets

    def compile_model(self, model, optimizer_factory, learning_rate):
        if self.compile is not None:
            self.compile(model, optimizer_factory, learning_rate)
        else:
            model.compile(optimizer=optimizer_factory(learning_rate))


def forward_outputs(family, model, seed=0):
    """``family``'s probe of ``model`` (``Family.probe``) on inputs drawn from ``seed``, as float64 numpy arrays."""
    import keras
    import numpy as np

    family = get(family)
    if family.probe is None:
        raise InvalidArgument(f"family {family.name!r} declares no probe of its models' outputs")
    outputs = family.probe(model, np.random.default_rng(seed))
    return {key: np.asarray(keras.ops.convert_to_numpy(value), np.float64) for key, value in outputs.items()}


def of_model(model):
    """The family whose ``model_class`` ``model`` is (or derives from); a ValueError names the classes known."""
    _register_builtins()
    classes = {type_.__name__ for type_ in type(model).__mro__}
    for family in _FAMILIES.values():
        if family.model_class in classes:
            return family
    known = ", ".join(f.model_class for f in _FAMILIES.values() if f.model_class)
    raise InvalidArgument(f"{type(model).__name__} belongs to no kerasgen family (their models: {known})")


# The zoo classifier whose features and labels judge image samples of each data set (Frechet distances).
JUDGES = {"mnist": "mnist-classifier", "fashion_mnist": "fashion-mnist-classifier"}


def _judge(data):
    if data not in JUDGES:
        raise InvalidArgument(f"no zoo classifier judges samples of {data!r} (Frechet distances and label accuracy "
                              f"need one of: {', '.join(JUDGES)})")
    return JUDGES[data]


def _text_figures(data, model):
    # Windows of 256 tokens, as the zoo's text cards, or of the model's context where it is shorter.
    args = {"dataset": data, "split": "validation", "seq_len": min(256, getattr(model, "max_length", None) or 256)}
    return [{"key": "text_nll", "name": "validation loss (nats/token)", "args": args},
            {"key": "perplexity", "name": "validation perplexity", "args": args}]


def _sample_figures(sample_args=None, describe=""):
    def figures(data, model):
        judge, extra = _judge(data), {"sample_args": dict(sample_args)} if sample_args else {}
        conditional = getattr(model, "num_classes", None) is not None
        frechet = {"key": "frechet_distance", "name": f"Frechet distance ({judge} features){describe}",
                   "args": {"classifier": judge, "dataset": data, "split": "test", "num_samples": 10000,
                            **({"balanced": True} if conditional else {}), **extra}}
        if not conditional:
            return [frechet]
        return [{"key": "label_accuracy", "name": f"label accuracy ({judge}){describe}",
                 "args": {"classifier": judge, "num_samples": 10000, **extra}}, frechet]

    return figures


def _vae_figures(data, model):
    return [{"key": "vae_nll", "name": "test NLL (nats, IWAE 1000 samples)",
             "args": {"dataset": data, "split": "test", "num_samples": 1000, "binarize_seed": 0}}]


def _classifier_figures(data, model):
    return [{"key": "accuracy", "name": "test accuracy", "args": {"dataset": data, "split": "test"}}]


def _realnvp_figures(data, model):
    if data == "moons":
        return [{"key": "point_nll", "name": "validation NLL (nats per point)",
                 "args": {"dataset": data, "split": "validation"}}]
    return [{"key": "bits_per_dim", "name": "test bits/dim", "args": {"dataset": data, "split": "test", "seed": 0}}]


_FAMILIES = {}


def register(family):
    """Add ``family`` (replacing one of the same name); returns it."""
    if not isinstance(family, Family):
        raise WrongType(f"register takes a Family, got {type(family).__name__}")
    _FAMILIES[family.name] = family
    return family


def unregister(name):
    _FAMILIES.pop(name, None)


def get(name):
    """The family called ``name``; an unknown name is a ValueError listing the known ones."""
    _register_builtins()
    if isinstance(name, Family):
        return name
    if name not in _FAMILIES:
        raise InvalidArgument(f"unknown model family {name!r}: use one of {', '.join(names())}")
    return _FAMILIES[name]


def names():
    _register_builtins()
    return list(_FAMILIES)


def all_options():
    """Every option any family offers, once per name (the command line declares them all)."""
    options = {}
    for name in names():
        for option in _FAMILIES[name].options:
            options.setdefault(option.name, option)
    return list(options.values())


# --- the built-in families ----------------------------------------------------------------------------------------

_TEXT_OPTIONS = (
    Option("embedding_dim", help="token embedding width"),
    Option("num_layers", help="stacked layers"),
    Option("dropout", float, "dropout rate"),
    Option("tie_embeddings", help="the output layer reuses the embedding", flag=True),
)


def _two_optimizers(model, optimizer_factory, learning_rate):
    model.compile(d_optimizer=optimizer_factory(learning_rate), g_optimizer=optimizer_factory(learning_rate))


def _classifier_compile(model, optimizer_factory, learning_rate):
    model.compile(optimizer=optimizer_factory(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


def _dynamic_binarization(seed):
    # Each batch's draw comes from (seed, its step in the run), so a resumed run binarises as the uninterrupted one.
    from keras import ops

    from kerasgen import backend

    def binarize(x, step):
        pair = ops.stack([ops.cast(seed, "int32"), ops.cast(step, "int32")])
        return ops.cast(backend.uniform(ops.shape(x), pair) < x, "float32")

    return binarize


def _probe_labels(model, rng, n):
    classes = getattr(model, "num_classes", None)
    return None if classes is None else rng.integers(0, classes, n).astype("int32")


def _text_probe(model, rng):
    return {"logits": model(rng.integers(0, model.tokenizer.vocab_size, (2, 16)).astype("int32"))}


def _classifier_probe(model, rng):
    return {"probabilities": model(rng.uniform(size=(4, *model.image_shape)).astype("float32"))}


def _dcgan_probe(model, rng):
    z = rng.normal(size=(4, model.latent_dim)).astype("float32")
    labels = _probe_labels(model, rng, 4)
    if labels is not None:
        z = np.concatenate([z, np.eye(model.num_classes, dtype="float32")[labels]], axis=-1)
    return {"images": model.generator(z)}


def _vae_probe(model, rng):
    return {"images": model.decode(rng.normal(size=(4, model.latent_dim)).astype("float32"),
                                   labels=_probe_labels(model, rng, 4))}


def _realnvp_probe(model, rng):
    if len(model.data_shape) == 1:  # 2-D points
        return {"log_prob": model.log_prob(rng.normal(size=(8, *model.data_shape)).astype("float32"))}
    images = rng.integers(0, 256, (4, *model.data_shape))
    return {"log_prob": model.log_prob(((images + rng.uniform(size=images.shape)) / 256).astype("float32"))}


def _diffusion_probe(model, rng):
    noisy = rng.normal(size=(4, *model.image_shape)).astype("float32")
    timesteps = rng.integers(0, model.timesteps, 4).astype("int32")
    labels = _probe_labels(model, rng, 4)
    inputs = (noisy, timesteps) if labels is None else (noisy, timesteps, labels)
    return {"prediction": model.ema_network(*inputs)}


def _fixed_binarization(images):
    from kerasgen.data import binarize

    return binarize(images, seed=0)


def _model(name):
    """A model class of ``kerasgen.models``, imported when a model is built (listing families stays cheap)."""
    from kerasgen import models

    return getattr(models, name)


def _builtins():
    latent = Option("latent_dim", help="latent space dimension")
    return (
        Family("lstm", TEXT, lambda tokenizer, **options: _model("LSTMGenerator")(tokenizer, **options),
               "tiny_shakespeare", options=(*_TEXT_OPTIONS, Option("units", help="units per recurrent layer"),
                                         Option("cell", str, "recurrent cell: lstm (default) or gru")),
               probe=_text_probe, description="character- or word-level recurrent language model (LSTM or GRU cells)",
               model_class="LSTMGenerator", figures=_text_figures),
        Family("gpt", TEXT, lambda tokenizer, **options: _model("DecoderTransformer")(tokenizer, **options),
               "tiny_shakespeare", options=(*_TEXT_OPTIONS, Option("num_heads", help="attention heads per layer"),
                                         Option("max_length", help="context length in tokens")),
               probe=_text_probe, description="decoder-only transformer", model_class="DecoderTransformer",
               figures=_text_figures),
        Family("vae", IMAGES, lambda shape, **options: _model("VAE")(image_shape=shape, **options), "mnist",
               options=(latent,), train_transform=_dynamic_binarization, validation_transform=_fixed_binarization,
               conditional=True, probe=_vae_probe,
               description="variational autoencoder on binarised images (class-conditional too)",
               model_class="VAE", figures=_vae_figures),
        Family("dcgan", IMAGES, lambda shape, **options: _model("DCGAN")(image_shape=shape, **options), "mnist",
               options=(latent, Option("ema_decay", float, "sample from an EMA of the generator's weights, e.g. "
                                                           "0.999 (default: the trained generator)"),
                        Option("minibatch_std", help="the discriminator sees the spread of each group of 4 "
                                                     "images (a minibatch standard deviation channel)", flag=True),
                        Option("r1_penalty", float, "R1 gradient penalty gamma on real images, e.g. 1 (default 0: "
                                                    "none)"),
                        Option("adversarial_loss", str, "nonsaturating (default) or hinge"),
                        Option("discriminator_filters", help="the discriminator's width (default: the "
                                                             "generator's, 64)")),
               compile=_two_optimizers, optimizer_options={"beta_1": 0.5}, validation=False,
               epoch_schedules=False, conditional=True, probe=_dcgan_probe,
               description="deep convolutional GAN (class-conditional too: a projection discriminator)",
               model_class="DCGAN", figures=_sample_figures()),
        Family("classifier", IMAGES, lambda shape, **options: _model("ImageClassifier")(image_shape=shape, **options),
               "mnist", compile=_classifier_compile, labels=True, samples=False, probe=_classifier_probe,
               description="image classifier (the Frechet distances' features)", model_class="ImageClassifier",
               figures=_classifier_figures),
        Family("realnvp", IMAGES, lambda shape, **options: _model("RealNVP")(image_shape=shape, **options), "mnist",
               datasets=(POINTS,), probe=_realnvp_probe, description="RealNVP normalizing flow on images or 2-D points",
               model_class="RealNVP", figures=_realnvp_figures),
        Family("diffusion", IMAGES, lambda shape, **options: _model("DiffusionModel")(image_shape=shape, **options),
               "mnist", conditional=True, probe=_diffusion_probe,
               description="denoising diffusion U-Net (class-conditional with guidance)", model_class="DiffusionModel",
               figures=_sample_figures({"steps": 50, "sampler": "ddim"}, ", DDIM 50 steps")),
    )


_builtins_registered = False


def _register_builtins():
    global _builtins_registered
    if _builtins_registered:
        return
    _builtins_registered = True
    for family in _builtins():
        _FAMILIES.setdefault(family.name, family)  # a family registered earlier under a built-in name stays
