"""The two protocols the callbacks, the zoo and the CLI rely on.

Text models: ``model(token_ids)`` returns float32 logits (batch, seq, vocab),
``model.tokenizer`` is the tokenizer, and ``generate`` continues prompts.
Image models: ``sample(n, temperature, seed)`` returns float32 images in [0, 1].
Point models: ``sample(n, temperature, seed)`` returns float32 points (n, d).
Density models: ``log_prob(x)`` is the log-likelihood of each example in nats.
"""

import json
import warnings

import keras
import numpy as np
from keras import ops

from kerasgen import backend, sampling
from kerasgen import text as _tokenizers  # noqa: F401 - registers the tokenizers models carry
from kerasgen.checks import InvalidArgument, WrongType, check_positive_int
from kerasgen.models.rebuild import rebuilt
from kerasgen.models.serving import Servable, scalar, spec

MAX_NEW_TOKENS = 1_000_000


class UntrackedState:
    """A plain holder for what a model keeps outside Keras's attribute tracking: never a weight, never saved.

    Keras (and TensorFlow's checkpointing) track the variables, layers, lists and dicts set as a model's
    attributes, but not what is set on a plain object's attributes. A model creates one in ``__init__`` as
    ``self.untracked`` and keeps its compiled generation loops and carried training state there.
    """


def restore_compile(model, config):
    """Replay a custom ``compile()`` on load, so optimizer state and loss survive ``.keras`` round trips."""
    model.compile(**keras.saving.deserialize_keras_object(config))
    if model.built and getattr(model, "optimizer", None) is not None:
        model.optimizer.build(model.trainable_variables)


def _with_steps(loop, steps):
    """A generation ``loop`` with its token count fixed to the Python int ``steps`` (static for ``jax.jit``)."""
    return lambda prompt_ids, temperature, top_p, seed: loop(prompt_ids, steps, temperature, top_p, seed)


class TextGenerator(Servable):
    """Mixin for ``keras.Model`` subclasses that model token sequences.

    A subclass sets ``self.tokenizer`` and implements ``generate_ids``: the
    compiled loop that continues a batch of equal-length prompts. A model that
    reads a bounded context sets ``context_length`` to its size in tokens.
    """

    context_length = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.untracked = UntrackedState()
        self.untracked.generation_loops = {}  # (top_k, top_p used) -> compiled loop, see generate_ids

    def compile(self, optimizer="adam", loss="auto", **kwargs):
        """As ``keras.Model.compile``; the default loss is cross-entropy on logits."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        restore_compile(self, config)

    def build(self, input_shape):
        """Create every weight by one forward pass over a dummy batch of token ids."""
        self.call(ops.zeros([1 if d is None else d for d in input_shape], "int32"))

    def generate(self, prompt, max_new_tokens=100, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Continue ``prompt`` (a str, or a list of str) by ``max_new_tokens`` tokens.

        Returns the prompt followed by its continuation (a str, or a list in the
        order of the prompts). Tokens outside the vocabulary follow the
        tokenizer's rule (id 0); an empty prompt starts after a line break.
        Prompts of equal token length are generated together as one batch.
        One ``UserWarning`` names the prompts' tokens outside the vocabulary,
        another says when a prompt is longer than ``context_length``.
        """
        single = isinstance(prompt, str)
        prompts = [prompt] if single else prompt
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise WrongType("prompt must be a str or a non-empty list of str")
        if not all(isinstance(p, str) for p in prompts):
            raise WrongType("prompt must be a str or a non-empty list of str")
        max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens", 0, MAX_NEW_TOKENS)
        sampling.check_sampling_args(temperature, top_k, top_p)
        seed = sampling.seed_pair(seed)

        encoded = [self.tokenizer.encode(p) for p in prompts]
        encoded = [ids if ids.size else np.array([self.tokenizer.boundary_id], np.int32) for ids in encoded]
        self._warn_about_prompts(prompts, encoded)
        groups = {}
        for index, ids in enumerate(encoded):
            groups.setdefault(len(ids), []).append(index)
        outputs = list(prompts)
        if max_new_tokens:
            for group, indices in enumerate(groups.values()):
                batch = ops.convert_to_tensor(np.stack([encoded[i] for i in indices]))
                group_seed = backend.fold_in(seed, group)
                new_ids = self.generate_ids(batch, max_new_tokens, temperature, top_k, top_p, group_seed)
                for row, index in enumerate(indices):
                    outputs[index] = self.tokenizer.continue_text(prompts[index], np.asarray(new_ids[row]))
        return outputs[0] if single else outputs

    def _warn_about_prompts(self, prompts, encoded):
        """Warn once per ``generate`` call about unseen tokens, and once about prompts longer than the context."""
        single = len(prompts) == 1
        unseen = list(dict.fromkeys(token for p in prompts for token in self.tokenizer.unseen_tokens(p)))
        if unseen:
            warnings.warn(
                f"{'the prompt holds' if single else 'the prompts hold'} tokens outside the vocabulary, read as the "
                f"unknown token {self.tokenizer.oov_token!r}: {_tokenizers.describe_tokens(unseen)}",
                UserWarning,
                stacklevel=3,
            )
        longest, context = max(len(ids) for ids in encoded), self.context_length
        if context is not None and longest > context:
            warnings.warn(
                f"the prompt is {longest} tokens long; only its last {context} tokens condition the continuation"
                if single else
                f"the longest prompt is {longest} tokens long; only the last {context} tokens of each prompt "
                "condition its continuation",
                UserWarning,
                stacklevel=3,
            )

    def generate_ids(self, prompt_ids, max_new_tokens, temperature, top_k, top_p, seed):
        """(batch, prompt_len) int32 -> (batch, max_new_tokens) int32 new ids, by the compiled loop.

        One compiled loop (``backend.compiled_with_variables``: it reads the current weights) per (top_k, top_p
        used) pair: prompt length, batch, token count, temperature, top_p and seed are tensors and never retrace.
        JAX compiles static shapes only, so off TensorFlow the token count is a Python int fixed in its own loop
        instead (one loop per count; ``jax.jit`` retraces per prompt length and batch).
        """
        loops = self.untracked.generation_loops
        static_steps = backend.name() != "tensorflow"
        key = (top_k, top_p is not None, max_new_tokens if static_steps else None)
        if key not in loops:
            loop = self._loop_fn(top_k, top_p is not None)
            loop = _with_steps(loop, max_new_tokens) if static_steps else loop
            loops[key] = backend.compiled_with_variables(loop, self.variables)
        steps = () if static_steps else (ops.convert_to_tensor(max_new_tokens, "int32"),)
        return loops[key](
            prompt_ids, *steps, ops.convert_to_tensor(float(temperature)),
            ops.convert_to_tensor(1.0 if top_p is None else float(top_p)), seed,
        )

    def serving_endpoints(self):
        """``generate(prompt_ids, max_new_tokens, temperature, top_k, top_p, seed)`` -> (batch, max_new_tokens)
        new token ids, as ``generate`` draws them for one batch of equal-length prompts (top_k 0 and top_p 1 keep
        every token; temperature 0 is greedy); ``vocabulary()`` -> ``tokens``, the token of each id. The
        SavedModel's ``assets/tokenizer.json`` holds the tokenizer too (its level and tokens)."""
        def generate(prompt_ids, max_new_tokens, temperature, top_k, top_p, seed):
            seed = backend.fold_in(backend.seed_from_tensor(seed), 0)  # generate's first group of prompts
            return self._loop_fn(top_k, True)(prompt_ids, max_new_tokens, temperature, top_p, seed)

        def vocabulary():
            return {"tokens": ops.convert_to_tensor(np.array(self.tokenizer.tokens, dtype=object).astype(str))}

        signature = [
            spec((None, None), "int32", "prompt_ids"), scalar("int32", "max_new_tokens"), scalar("float32", "temperature"),
            scalar("int32", "top_k"), scalar("float32", "top_p"), scalar("int32", "seed"),
        ]
        return {"generate": (generate, signature), "vocabulary": (vocabulary, [])}

    def network_endpoint(self):
        """``logits(token_ids)`` -> float32 logits (batch, length, vocab)."""
        return "logits", lambda token_ids: ops.cast(self(token_ids), "float32"), [spec((None, None), "int32", "token_ids")]

    def serving_assets(self):
        config = {"level": self.tokenizer.level, "tokens": self.tokenizer.tokens}
        return {"tokenizer.json": json.dumps(config, ensure_ascii=False, indent=1)}

    def _loop_fn(self, top_k, use_top_p):
        """A function (prompt_ids, steps, temperature, top_p, seed) -> (batch, steps) new ids, in ``keras.ops``.

        ``steps`` is an int32 scalar tensor on TensorFlow and a Python int elsewhere (see ``generate_ids``).
        """
        raise NotImplementedError

    def token_embeddings(self):
        """The (vocab_size, dim) input embedding matrix."""
        raise NotImplementedError

    def nearest_tokens(self, token, k=10):
        """The ``k`` tokens whose embeddings are closest to ``token``'s by cosine similarity: [(token, similarity)]."""
        k = check_positive_int(k, "k")
        [token_id] = self.tokenizer.encode_tokens([token])
        if token_id == 0 and token != self.tokenizer.oov_token:
            raise InvalidArgument(f"token {token!r} is not in the vocabulary")
        vectors = np.asarray(keras.ops.convert_to_numpy(self.token_embeddings()), np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        similarity = vectors @ vectors[token_id]
        similarity[token_id] = -np.inf
        order = np.argsort(-similarity)[:k]
        return [(self.tokenizer.tokens[i], float(similarity[i])) for i in order]

    def extend_vocabulary(self, tokens=None, text=None):
        """This model with a larger vocabulary: ``tokens`` (a list) added, or the unseen tokens of ``text``.

        Returns a new model of this class and config; this one is unchanged.

        The tokenizer is ``self.tokenizer.extended(tokens)``: old ids keep their
        tokens, known tokens are ignored. Every weight is copied; the weights
        with one entry per token id (embedding rows, output rows and bias) grow:
        old entries stay exactly, new ones start as in a freshly built model
        (the layers' initializers: small random embeddings, zero output bias),
        so the logits of old tokens are unchanged. The new model is built under
        this model's dtype policy and not compiled: compile it and fine-tune it
        on text with the new tokens.
        """
        if (tokens is None) == (text is None):
            raise WrongType("pass exactly one of tokens (a list of new tokens) and text (to add its unseen tokens)")
        tokenizer = self.tokenizer.extended(self.tokenizer.unseen_tokens(text) if tokens is None else tokens)
        model = rebuilt(self, (None, None), tokenizer=keras.saving.serialize_keras_object(tokenizer))
        old_size, new_size = self.tokenizer.vocab_size, tokenizer.vocab_size

        def grown(old, new):  # old entries kept exactly, new ones as the fresh model drew them
            sizes = [(a, b) for a, b in zip(old.shape, new.shape) if a != b]
            if old.path != new.path or any(pair != (old_size, new_size) for pair in sizes):
                raise RuntimeError(f"cannot map weight {old.path} {old.shape} onto {new.path} {new.shape}")
            value = np.array(new.numpy())
            value[tuple(slice(0, size) for size in old.shape)] = old.numpy()
            return value

        for old, new in zip(self.weights, model.weights, strict=True):
            new.assign(grown(old, new))
        return model

    def get_config(self):
        config = super().get_config()
        config["tokenizer"] = keras.saving.serialize_keras_object(self.tokenizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


def check_sample_args(n, temperature):
    n = check_positive_int(n, "n", 1, 1_000_000)
    return n, sampling.check_temperature(temperature)


class GeneratorProtocol(type):
    """Metaclass of the generator protocols: ``isinstance`` also asks the instance which protocol it serves.

    A class that can serve either protocol (RealNVP models images or points, by its data shape) mixes in both and
    gives each instance a ``generator_protocol``: the one protocol class it serves. ``isinstance(model, P)`` is then
    true only for that protocol. Instances without the attribute are checked by class alone, as usual.
    """

    def __instancecheck__(cls, instance):
        if not super().__instancecheck__(instance):
            return False
        served = getattr(instance, "generator_protocol", None)
        return served is None or issubclass(served, cls)


class ImageGenerator(metaclass=GeneratorProtocol):
    """Mixin for ``keras.Model`` subclasses that generate images.

    ``sample(n, temperature=1.0, seed=None)`` returns a float32 array
    (n, H, W, C) in [0, 1]; for latent-variable models ``temperature`` scales
    the prior's standard deviation. ``image_shape`` is (H, W, C).
    """

    def sample(self, n, temperature=1.0, seed=None):
        raise NotImplementedError


class PointGenerator(metaclass=GeneratorProtocol):
    """Mixin for ``keras.Model`` subclasses that generate low-dimensional points (2-D toy densities).

    ``sample(n, temperature=1.0, seed=None)`` returns a float32 array (n, d)
    of raw points (no clipping); ``temperature`` scales the base or prior
    standard deviation. ``point_shape`` is (d,).
    """

    def sample(self, n, temperature=1.0, seed=None):
        raise NotImplementedError


class ClassConditional:
    """Mixin for ``keras.Model`` subclasses with an optional class-conditional form: ``num_classes`` (None when
    unconditional). ``fit`` and ``evaluate`` on ``(images, labels)`` data hand the pair to ``call`` as its inputs
    (Keras would pass the labels as targets); an unconditional model gets the data as Keras passes it."""

    def _labels_as_inputs(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if getattr(self, "num_classes", None) is not None and y is not None:
            return ((x, y),)
        return data

    # JAX's fit calls ``train_step(state, data)``, the other backends ``train_step(data)``: the data comes last.
    def train_step(self, *args):
        return super().train_step(*args[:-1], self._labels_as_inputs(args[-1]))

    def test_step(self, *args):
        return super().test_step(*args[:-1], self._labels_as_inputs(args[-1]))


class StepCounted:
    """Mixin for ``keras.Model`` subclasses whose training noise is seeded from the optimizer's step counter
    (``_training_step``). On JAX the variable itself is emptied while ``fit`` runs, and a compiled step would keep
    the value it was traced with, so ``train_step`` reads the counter from the state ``fit`` carries; a subclass may
    also rewrite that state before the step (``_jax_training_state``). List it before ``ClassConditional``."""

    def train_step(self, *args):
        if backend.name() != "jax":
            return super().train_step(*args)
        state, data = args
        optimizer_values = dict(zip(map(id, self.optimizer.variables), state[2]))
        self.untracked.training_step = optimizer_values[id(self.optimizer.iterations)]
        try:
            return super().train_step(self._jax_training_state(state, data), data)
        finally:
            self.untracked.training_step = None

    def _jax_training_state(self, state, data):
        """JAX's training state for this step (the state itself unless a subclass needs more)."""
        return state

    def _training_step(self):
        """The optimizer's step counter: on JAX inside ``fit``, the value ``fit``'s state carries."""
        step = getattr(self.untracked, "training_step", None)
        return self.optimizer.iterations if step is None else step


class DensityModel:
    """Mixin for models with a likelihood: ``log_prob(x)`` is log p(x) in nats per example, shape (n,).

    Models whose likelihood is estimated document what they return (the VAE: an importance-sampled lower bound).
    """

    def log_prob(self, x):
        raise NotImplementedError
