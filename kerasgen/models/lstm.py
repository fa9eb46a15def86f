"""Recurrent language model, LSTM or GRU cells, at character or word level (the tokenizer decides)."""

import keras
from keras import ops

from kerasgen import backend, sampling
from kerasgen.checks import InvalidArgument, check_positive_int, check_real
from kerasgen.layers import TiedLogits
from kerasgen.models.base import TextGenerator

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
STATES = {"lstm": 2, "gru": 1}  # state vectors per layer: (h, c) or h


@keras.saving.register_keras_serializable(package="kerasgen")
class LSTMGenerator(TextGenerator, keras.Model):
    """Stacked recurrent next-token model (LSTM or GRU cells) with stateful compiled generation.

    ``model(token_ids)`` gives float32 logits for every position. ``generate``
    reads the prompt in one pass, then runs one cell step per new token
    with the recurrent state carried, inside a single compiled loop
    (``backend.compiled``). ``cell="gru"`` stacks GRUs (Cho et al., 2014; one state vector per layer instead of
    the LSTM's two); the recurrent layers are ``lstm_layers`` either way (the zoo files' name).

    Example:
    >>> tok = kerasgen.text.CharTokenizer.from_text(text)
    >>> lm = LSTMGenerator(tok, embedding_dim=64, units=128, num_layers=1)
    >>> lm.compile(optimizer="adam")
    >>> lm.fit(kerasgen.data.text_windows(text, tok, seq_len=64, batch_size=32), epochs=1)
    >>> lm.generate("ROMEO:", max_new_tokens=50, temperature=0.8, seed=0)
    """

    def __init__(
        self, tokenizer, embedding_dim=256, units=512, num_layers=2, dropout=0.0, tie_embeddings=False, cell="lstm",
        **kwargs
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.units = check_positive_int(units, "units")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.dropout = check_real(dropout, "dropout", 0, 1, open_above=True)
        self.tie_embeddings = bool(tie_embeddings)
        if cell not in CELLS:
            raise InvalidArgument(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.cell = cell
        # Tied embeddings also score the outputs: keras's default +-0.05 init leaves the logits so flat that a
        # word-level model sits at the unigram loss for most of an epoch; +-0.1 (Zaremba et al.) does not.
        initializer = keras.initializers.RandomUniform(-0.1, 0.1) if tie_embeddings else "uniform"
        self.embedding = keras.layers.Embedding(
            tokenizer.vocab_size, embedding_dim, embeddings_initializer=initializer, name="embedding"
        )
        self.lstm_layers = [
            CELLS[cell](units, return_sequences=True, return_state=True, name=f"{cell}_{i}") for i in range(num_layers)
        ]
        self.untracked.carried_state = None  # (h, c) or (h,) variables per layer while carrying, see carry_state
        self.dropout_layer = keras.layers.Dropout(dropout)
        if tie_embeddings:
            # The last LSTM's output is projected to the embedding width, then scored against the embeddings.
            self.projection = None if units == embedding_dim else keras.layers.Dense(embedding_dim, name="projection")
            self.head = TiedLogits(tokenizer.vocab_size, name="logits")
        else:
            self.head = keras.layers.Dense(tokenizer.vocab_size, dtype="float32", name="logits")

    def carry_state(self, batch_size):
        """Train by truncated backpropagation through time on contiguous batches (``data.text_streams``).

        From now on every training call (``fit``) starts from the state the
        previous training batch ended in, instead of zeros, as in Zaremba et
        al.; gradients stop at the batch boundary. ``reset_carried_state()``
        zeros it (``kerasgen.callbacks.ResetCarriedState`` does so at each epoch).
        ``batch_size`` is fixed while carrying; ``carry_state(None)`` goes back
        to independent windows. Inference and evaluation are unaffected. The
        carried state is not part of the model's weights and is never saved.
        TensorFlow backend only: the state is assigned inside the compiled
        train step, which JAX's stateless training does not allow.
        """
        self.train_function = None  # a traced train step bakes the choice in: trace again
        if batch_size is None:
            self.untracked.carried_state = None
            return
        batch_size = check_positive_int(batch_size, "batch_size")
        if backend.name() != "tensorflow":
            raise NotImplementedError(f"carry_state runs on the tensorflow backend, not {backend.name()}")
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
        if strategy.num_replicas_in_sync > 1:
            raise InvalidArgument("carry_state trains on one device: each replica would need its own streams")
        dtype = self.compute_dtype
        self.untracked.carried_state = [
            tuple(tf.Variable(tf.zeros([batch_size, self.units], dtype), trainable=False)
                  for _ in range(STATES[self.cell]))
            for _ in self.lstm_layers
        ]

    def reset_carried_state(self):
        """Zero the carried training state (``carry_state``), e.g. at the start of each epoch."""
        for state in self.untracked.carried_state or []:
            for variable in state:
                variable.assign(ops.zeros_like(variable))

    def call(self, token_ids, training=False, initial_state=None, return_state=False):
        carried = self.untracked.carried_state
        carrying = (
            carried is not None and training and initial_state is None and not keras.backend.is_keras_tensor(token_ids)
        )
        if carrying:  # only on TensorFlow (see carry_state)
            import tensorflow as tf

            batch = carried[0][0].shape[0]
            message = f"carry_state was set for batches of {batch}; every training batch must have that size"
            if token_ids.shape[0] is not None and token_ids.shape[0] != batch:
                raise InvalidArgument(f"{message} (got {token_ids.shape[0]})")
            with tf.control_dependencies([tf.debugging.assert_equal(tf.shape(token_ids)[0], batch, message=message)]):
                token_ids = tf.identity(token_ids)  # everything downstream waits for the check
            initial_state = [tuple(tf.convert_to_tensor(v) for v in state) for state in carried]
        x = self.embedding(token_ids)
        states = []
        for i, layer in enumerate(self.lstm_layers):
            x = self.dropout_layer(x, training=training)
            start = None if initial_state is None else list(initial_state[i])
            x, *state = layer(x, initial_state=start, training=training)
            states.append(tuple(state))  # (h, c) for an LSTM, (h,) for a GRU
        logits = self._logits(self.dropout_layer(x, training=training))
        if carrying:
            for variables, state in zip(carried, states):
                for variable, value in zip(variables, state):
                    variable.assign(ops.stop_gradient(ops.cast(value, variable.dtype)))
        return (logits, states) if return_state else logits

    def _logits(self, x):
        if not self.tie_embeddings:
            return self.head(x)
        if self.projection is not None:
            x = self.projection(x)
        return self.head(x, self.embedding.embeddings)

    def token_embeddings(self):
        return self.embedding.embeddings

    def _step(self, token, states):
        """One token through the cells: (batch,) ids -> float32 logits (batch, vocab), new states."""
        x = self.embedding(token)
        new_states = []
        for layer, state in zip(self.lstm_layers, states):
            x, state = layer.cell(x, list(state))
            new_states.append(tuple(state) if isinstance(state, (list, tuple)) else (state,))
        return self._logits(x), new_states

    def _loop_fn(self, top_k, use_top_p):
        def loop(prompt_ids, steps, temperature, top_p, seed):
            def step_fn(step, carried):
                tokens, last, states = carried
                token = sampling.next_tokens(
                    last, temperature, top_k, top_p if use_top_p else None, backend.fold_in(seed, step)
                )
                tokens = ops.scatter_update(tokens, ops.reshape(step, (1, 1)), token[None])
                last, states = self._step(token, states)
                return tokens, last, states

            logits, states = self(prompt_ids, return_state=True)
            tokens = ops.zeros((steps, ops.shape(prompt_ids)[0]), "int32")  # (steps, batch): one row per step
            tokens, _, _ = ops.fori_loop(0, steps, step_fn, (tokens, logits[:, -1], states))
            return ops.transpose(tokens)

        return loop

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dim=self.embedding_dim,
            units=self.units,
            num_layers=self.num_layers,
            dropout=self.dropout,
            tie_embeddings=self.tie_embeddings,
            cell=self.cell,
        )
        return config
