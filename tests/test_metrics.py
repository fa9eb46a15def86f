"""Text metrics: windowed and state-carrying negative log-likelihood."""

import numpy as np
import pytest
import tensorflow as tf

import kerasgen as kg
from helpers import tiny_lstm


def _manual_stream_nll(model, text, streams):
    """Reference: each stream read in one call from the zero state, losses summed by hand."""
    ids = model.tokenizer.encode(text)
    length = (len(ids) - 1) // streams
    x = ids[: streams * length].reshape(streams, length)
    y = ids[1 : streams * length + 1].reshape(streams, length)
    logits = model(x)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
    return float(tf.reduce_mean(losses))


def test_carried_state_nll_equals_reading_each_stream_in_one_pass(text):
    model = tiny_lstm(text, fit_steps=3)
    expected = _manual_stream_nll(model, text, streams=4)
    chunked = kg.metrics.text_nll(model, text, seq_len=7, batch_size=4, carry_state=True)
    assert chunked == pytest.approx(expected, rel=1e-5)


def test_carried_state_differs_from_independent_windows(text):
    model = tiny_lstm(text, fit_steps=3)
    carried = kg.metrics.text_nll(model, text, seq_len=7, batch_size=4, carry_state=True)
    windowed = kg.metrics.text_nll(model, text, seq_len=7, batch_size=4)
    assert carried != pytest.approx(windowed, rel=1e-4)
    assert kg.metrics.perplexity(model, text, seq_len=7, batch_size=4, carry_state=True) == pytest.approx(
        np.exp(carried), rel=1e-9
    )


def test_carry_state_is_refused_for_models_without_state(text):
    tokenizer = kg.text.CharTokenizer.from_text(text)
    model = kg.models.DecoderTransformer(tokenizer, max_length=16, num_layers=1, num_heads=1, embedding_dim=8)
    with pytest.raises(ValueError, match="carry_state"):
        kg.metrics.text_nll(model, text, seq_len=8, batch_size=2, carry_state=True)


def test_carry_state_rejects_text_too_short_for_the_streams():
    model = tiny_lstm("abcdefgh abcdefgh abcdefgh " * 6)
    with pytest.raises(ValueError, match="too short"):
        kg.metrics.text_nll(model, "abc", seq_len=4, batch_size=8, carry_state=True)
