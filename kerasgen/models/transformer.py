"""Decoder-only transformer (GPT) with key/value-cached compiled generation."""

import keras
from keras import ops

from kerasgen import backend, sampling
from kerasgen.checks import InvalidArgument, check_positive_int, check_real
from kerasgen.layers import CachedCausalSelfAttention, PositionEmbedding, TiedLogits, TransformerBlock
from kerasgen.layers.attention import layer_norm, norm_weights
from kerasgen.models.base import TextGenerator


@keras.saving.register_keras_serializable(package="kerasgen")
class DecoderTransformer(TextGenerator, keras.Model):
    """GPT: token + position embedding, pre-LayerNorm causal blocks, final LayerNorm, output projection.

    ``model(token_ids)`` gives float32 logits for sequences of up to
    ``max_length`` tokens. ``generate`` fills a key/value cache of static size
    ``max_length`` from the prompt in one pass, then runs one cached step per
    token inside a single compiled loop (``backend.compiled``).

    Context rule: the model sees at most ``max_length`` tokens. A longer prompt
    keeps its most recent ``max_length`` tokens (``generate`` warns). When
    generation fills the context, it restarts from the most recent
    ``max_length // 2`` tokens (one pass refills the cache) and continues; the
    returned text is never cut.

    Example:
    >>> gpt = DecoderTransformer(tok, max_length=128, num_layers=2, num_heads=2, embedding_dim=64)
    >>> gpt.compile(optimizer="adam")
    >>> gpt.fit(kerasgen.data.text_windows(text, tok, seq_len=128, batch_size=32), epochs=1)
    >>> gpt.generate("ROMEO:", max_new_tokens=100, temperature=0.8, top_k=40, seed=0)
    """

    def __init__(
        self, tokenizer, max_length=256, num_layers=4, num_heads=4, embedding_dim=256, dropout=0.0,
        tie_embeddings=True, **kwargs,
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.max_length = check_positive_int(max_length, "max_length", 2)
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if embedding_dim % num_heads:
            raise InvalidArgument(f"embedding_dim ({embedding_dim}) must be divisible by num_heads ({num_heads})")
        self.dropout = check_real(dropout, "dropout", 0, 1, open_above=True)
        self.tie_embeddings = bool(tie_embeddings)
        self.token_embedding = keras.layers.Embedding(
            tokenizer.vocab_size, embedding_dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(max_length, name="position_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.blocks = [TransformerBlock(num_heads, dropout=dropout, name=f"block_{i}") for i in range(num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        if tie_embeddings:
            self.head = TiedLogits(tokenizer.vocab_size, name="logits")
        else:
            self.head = keras.layers.Dense(tokenizer.vocab_size, dtype="float32", name="logits")

    @property
    def context_length(self):
        return self.max_length

    def call(self, token_ids, training=False):
        length = token_ids.shape[1]
        if length is not None and length > self.max_length:
            raise InvalidArgument(f"sequences are {length} tokens long; this model reads at most "
                                  f"max_length={self.max_length}")
        x = self.embedding_dropout(self.position_embedding(self.token_embedding(token_ids)), training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self._logits(x)

    def _logits(self, x):
        x = self.final_norm(x)
        return self.head(x, self.token_embedding.embeddings) if self.tie_embeddings else self.head(x)

    def token_embeddings(self):
        return self.token_embedding.embeddings

    def _prefill(self, token_ids):
        """Run a context from position 0: last-position logits and the cache, padded to max_length."""
        x = self.position_embedding(self.token_embedding(token_ids))
        pad = [[0, self.max_length - ops.shape(token_ids)[1]], [0, 0], [0, 0]]
        cache = []
        for block in self.blocks:
            x, k, v = block(x, return_kv=True)  # (length, batch, dim)
            shape = (self.max_length, ops.shape(k)[1], k.shape[2])
            cache.append((ops.reshape(ops.pad(k, pad), shape), ops.reshape(ops.pad(v, pad), shape)))
        return self._logits(x[:, -1:])[:, 0], cache

    def _step_weights(self):
        """Every weight the cached step reads, as tensors: read once per ``generate`` call, not once per token."""
        dtype = self.compute_dtype
        embeddings = ops.cast(self.token_embedding.embeddings, dtype)
        if self.tie_embeddings:
            head = (ops.transpose(embeddings), ops.cast(self.head.bias, "float32"))
        else:
            head = (ops.cast(self.head.kernel, self.head.compute_dtype), ops.cast(self.head.bias, "float32"))
        return {
            "embeddings": embeddings,
            "positions": ops.cast(self.position_embedding.positions, dtype),
            "blocks": [block.step_weights() for block in self.blocks],
            "final_norm": norm_weights(self.final_norm),
            "head": head,
        }

    def _decode_step(self, token, cache, index, weights):
        """Logits (batch, vocab) after new tokens (batch,) at position ``index``, and the updated cache."""
        x = backend.gather(weights["embeddings"], token) + weights["positions"][index]  # (batch, dim)
        write, bias = CachedCausalSelfAttention.step_masks(index, self.max_length)
        new_cache = []
        for block, (k, v), block_weights in zip(self.blocks, cache, weights["blocks"]):
            x, k, v = block.step(x, k, v, write, bias, block_weights)
            new_cache.append((k, v))
        kernel, head_bias = weights["head"]
        x = layer_norm(x, *weights["final_norm"])
        return ops.cast(ops.matmul(ops.cast(x, kernel.dtype), kernel), "float32") + head_bias, new_cache

    def generate_ids(self, prompt_ids, max_new_tokens, temperature, top_k, top_p, seed):
        return super().generate_ids(prompt_ids[:, -self.max_length :], max_new_tokens, temperature, top_k, top_p, seed)

    def _loop_fn(self, top_k, use_top_p):
        max_length, keep = self.max_length, self.max_length // 2

        def loop(prompt_ids, steps, temperature, top_p, seed):
            weights = self._step_weights()

            def emit(step, tokens, last):
                """Choose the token of ``step`` from the logits ``last`` and write it into ``tokens`` (steps, batch)."""
                token = sampling.next_tokens(
                    last, temperature, top_k, top_p if use_top_p else None, backend.fold_in(seed, step)
                )
                return token, ops.scatter_update(tokens, ops.reshape(step, (1, 1)), token[None])

            def cached_step(step, index, tokens, context, last, cache):
                token, tokens = emit(step, tokens, last)
                context = ops.where(ops.arange(max_length)[None] == index, token[:, None], context)
                last, cache = self._decode_step(token, cache, index, weights)
                return step + 1, index + 1, tokens, context, last, cache

            def restart(step, index, tokens, context, last, cache):
                """Context full: continue from the most recent ``keep`` tokens (one pass refills the cache)."""
                token, tokens = emit(step, tokens, last)
                recent = ops.concatenate([context[:, max_length - keep + 1 :], token[:, None]], axis=1)
                last, cache = self._prefill(recent)
                context = ops.pad(recent, [[0, 0], [0, max_length - keep]])
                return step + 1, ops.convert_to_tensor(keep, "int32"), tokens, context, last, cache

            def segment(*state):
                # Cached steps until the context is full: a plain loop body, no branch per token.
                state = ops.while_loop(
                    lambda step, index, *_: ops.logical_and(step < steps, index < max_length), cached_step, state
                )
                return ops.cond(state[0] < steps, lambda: restart(*state), lambda: state)

            last, cache = self._prefill(prompt_ids)
            length = ops.shape(prompt_ids)[1]
            state = (
                ops.convert_to_tensor(0, "int32"),
                ops.convert_to_tensor(length, "int32"),
                ops.zeros((steps, ops.shape(prompt_ids)[0]), "int32"),
                ops.pad(prompt_ids, [[0, 0], [0, max_length - length]]),
                last,
                cache,
            )
            state = ops.while_loop(lambda step, *_: step < steps, segment, state)
            return ops.transpose(state[2])

        return loop

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            embedding_dim=self.embedding_dim,
            dropout=self.dropout,
            tie_embeddings=self.tie_embeddings,
        )
        return config
