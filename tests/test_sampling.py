"""kerasgen.sampling: greedy, temperature, top-k and nucleus sampling, seeds, compiled loops, argument checks."""

import math

import numpy as np
import pytest
import tensorflow as tf

from kerasgen.sampling import check_sampling_args, next_tokens, seed_pair


def softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def seed(a, b=0):
    return tf.constant([a, b], tf.int32)


def frequencies(tokens, vocab):
    return np.bincount(np.asarray(tokens), minlength=vocab) / len(tokens)


def nucleus(probs, top_p):
    """Smallest set of most likely token ids whose total probability reaches top_p (numpy, float64)."""
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    size = int(np.searchsorted(cumulative, top_p, side="left")) + 1
    return set(order[:size].tolist()), cumulative


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- greedy -----------------------------------------------------------------------------------------------------


def test_temperature_zero_is_argmax_for_every_row(rng):
    logits = rng.normal(scale=3.0, size=(64, 50)).astype(np.float32)
    expected = logits.argmax(axis=-1)
    tokens = next_tokens(tf.constant(logits), temperature=0.0, seed=seed(7))
    assert tokens.dtype == tf.int32
    assert tokens.shape == (64,)
    np.testing.assert_array_equal(tokens.numpy(), expected)
    # Greedy ignores the seed, and a tensor temperature of 0 is greedy too.
    np.testing.assert_array_equal(next_tokens(logits, 0.0, seed=seed(99)).numpy(), expected)
    np.testing.assert_array_equal(next_tokens(logits, tf.constant(0.0), seed=seed(3)).numpy(), expected)


def test_temperature_zero_with_top_k_and_top_p_is_still_argmax(rng):
    logits = rng.normal(scale=2.0, size=(32, 20)).astype(np.float32)
    tokens = next_tokens(logits, 0, top_k=5, top_p=0.5, seed=seed(1))
    np.testing.assert_array_equal(tokens.numpy(), logits.argmax(axis=-1))


def test_integer_and_float16_logits_are_accepted(rng):
    logits = rng.normal(scale=3.0, size=(16, 12))
    np.testing.assert_array_equal(
        next_tokens(tf.constant(logits, tf.float16), 0.0).numpy(), logits.astype(np.float16).argmax(-1)
    )
    ints = rng.integers(-50, 50, size=(16, 12))
    ints[:, 0] = 100  # unique maximum
    np.testing.assert_array_equal(next_tokens(tf.constant(ints, tf.int32), 0.0).numpy(), np.zeros(16))


# --- top-k ------------------------------------------------------------------------------------------------------


def test_top_k_samples_only_from_the_k_largest_of_each_row(rng):
    rows, vocab, k, draws = 8, 30, 5, 500
    base = rng.normal(scale=1.0, size=(rows, vocab)).astype(np.float32)
    logits = np.repeat(base, draws, axis=0)  # 4000 rows, 500 copies of each distinct row
    tokens = next_tokens(logits, 1.0, top_k=k, seed=seed(11)).numpy().reshape(rows, draws)
    for row in range(rows):
        allowed = set(np.argsort(-base[row])[:k].tolist())
        seen = set(tokens[row].tolist())
        assert seen <= allowed, f"row {row}: {sorted(seen - allowed)} are outside the top {k}"
        # With mild logits every kept token is drawn in 500 tries: the filter does not collapse to fewer.
        assert seen == allowed


def test_top_k_frequencies_match_the_renormalised_softmax(rng):
    vocab, k, draws = 12, 4, 20000
    logits = rng.normal(size=vocab).astype(np.float32)
    top = np.argsort(-logits)[:k]
    expected = np.zeros(vocab)
    expected[top] = softmax(logits[top])
    tokens = next_tokens(np.tile(logits, (draws, 1)), 1.0, top_k=k, seed=seed(5)).numpy()
    assert np.abs(frequencies(tokens, vocab) - expected).max() < 0.02


def test_top_k_one_is_argmax_at_any_temperature(rng):
    logits = rng.normal(scale=0.5, size=(200, 40)).astype(np.float32)
    for temperature in (1.0, 3.0):
        tokens = next_tokens(logits, temperature, top_k=1, seed=seed(2))
        np.testing.assert_array_equal(tokens.numpy(), logits.argmax(axis=-1))


def test_top_k_at_least_vocab_size_keeps_everything(rng):
    vocab, draws = 6, 20000
    logits = rng.normal(size=vocab).astype(np.float32)
    for k in (vocab, vocab + 10):
        tokens = next_tokens(np.tile(logits, (draws, 1)), 1.0, top_k=k, seed=seed(8)).numpy()
        assert np.abs(frequencies(tokens, vocab) - softmax(logits)).max() < 0.02


# --- top-p (nucleus) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("top_p", [0.3, 0.6, 0.9])
def test_top_p_samples_stay_inside_the_nucleus(rng, top_p):
    rows, vocab, draws = 6, 25, 700
    base = rng.normal(scale=1.5, size=(rows, vocab)).astype(np.float32)
    tokens = next_tokens(np.repeat(base, draws, axis=0), 1.0, top_p=top_p, seed=seed(21)).numpy()
    tokens = tokens.reshape(rows, draws)
    for row in range(rows):
        probs = softmax(base[row])
        allowed, cumulative = nucleus(probs, top_p)
        # The boundary is unambiguous in float32: no cumulative mass lies right at top_p.
        assert np.abs(cumulative - top_p).min() > 1e-4
        seen = set(tokens[row].tolist())
        assert seen <= allowed, f"row {row}, top_p={top_p}: {sorted(seen - allowed)} are outside the nucleus"
        assert allowed & seen, "nothing sampled"


def test_top_p_frequencies_match_the_renormalised_nucleus(rng):
    vocab, top_p, draws = 10, 0.8, 20000
    logits = rng.normal(scale=1.2, size=vocab).astype(np.float32)
    probs = softmax(logits)
    allowed, cumulative = nucleus(probs, top_p)
    assert np.abs(cumulative - top_p).min() > 1e-4
    assert 1 < len(allowed) < vocab  # the filter actually removes something, and keeps a real choice
    expected = np.zeros(vocab)
    kept = sorted(allowed)
    expected[kept] = probs[kept] / probs[kept].sum()
    tokens = next_tokens(np.tile(logits, (draws, 1)), 1.0, top_p=top_p, seed=seed(4)).numpy()
    assert np.abs(frequencies(tokens, vocab) - expected).max() < 0.02


def test_top_p_below_the_top_probability_is_greedy():
    logits = np.zeros((500, 8), np.float32)
    logits[:, 3] = 4.0  # p(3) is about 0.89
    tokens = next_tokens(logits, 1.0, top_p=0.5, seed=seed(6)).numpy()
    assert (tokens == 3).all()


def test_top_p_one_keeps_the_full_distribution(rng):
    vocab, draws = 8, 20000
    logits = rng.normal(size=vocab).astype(np.float32)
    tokens = next_tokens(np.tile(logits, (draws, 1)), 1.0, top_p=1.0, seed=seed(9)).numpy()
    assert np.abs(frequencies(tokens, vocab) - softmax(logits)).max() < 0.02


def test_top_k_and_top_p_combine(rng):
    # top_k first, then the nucleus of what is left (renormalised).
    vocab, k, top_p, draws = 15, 6, 0.7, 4000
    logits = rng.normal(scale=1.0, size=vocab).astype(np.float32)
    top = np.argsort(-logits)[:k]
    restricted = np.zeros(vocab)
    restricted[top] = softmax(logits[top])
    allowed, cumulative = nucleus(restricted, top_p)
    assert np.abs(cumulative - top_p).min() > 1e-4
    tokens = next_tokens(np.tile(logits, (draws, 1)), 1.0, top_k=k, top_p=top_p, seed=seed(12)).numpy()
    assert set(tokens.tolist()) == allowed


# --- temperature ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5])
def test_frequencies_match_softmax_of_logits_over_temperature(temperature):
    logits = np.array([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, 1.5], np.float32)
    vocab, draws = len(logits), 20000
    expected = softmax(logits / temperature)
    tokens = next_tokens(np.tile(logits, (draws, 1)), temperature, seed=seed(31)).numpy()
    observed = frequencies(tokens, vocab)
    assert np.abs(observed - expected).max() < 0.02
    # Chi-square goodness of fit, 7 degrees of freedom: the 99.99th percentile is about 29.9.
    chi2 = (((observed - expected) * draws) ** 2 / (expected * draws)).sum()
    assert chi2 < 30.0
    if temperature != 1.0:
        # The test can tell temperatures apart: plain softmax is far from the scaled one.
        assert np.abs(observed - softmax(logits)).max() > 0.05


def test_tensor_temperature_samples_like_a_python_number():
    logits = np.array([1.0, 0.0, -1.0, 2.0], np.float32)
    batch = np.tile(logits, (20000, 1))
    python = next_tokens(batch, 2.0, seed=seed(13)).numpy()
    tensor = next_tokens(batch, tf.constant(2.0), seed=seed(13)).numpy()
    np.testing.assert_array_equal(python, tensor)
    assert np.abs(frequencies(tensor, 4) - softmax(logits / 2.0)).max() < 0.02


@pytest.mark.parametrize("top_k", [1, 3, 7, 50])
def test_a_tensor_top_k_samples_like_the_python_int(rng, top_k):
    logits = rng.normal(size=(4000, 50)).astype(np.float32) * 3
    python = next_tokens(logits, 1.0, top_k, seed=seed(5)).numpy()
    tensor = next_tokens(logits, 1.0, tf.constant(top_k), seed=seed(5)).numpy()
    np.testing.assert_array_equal(python, tensor)


def test_a_tensor_top_k_of_zero_and_top_p_of_one_keep_every_token(rng):
    logits = rng.normal(size=(4000, 50)).astype(np.float32) * 3
    plain = next_tokens(logits, 1.0, seed=seed(6)).numpy()
    kept = next_tokens(logits, 1.0, tf.constant(0), tf.constant(1.0), seed=seed(6)).numpy()
    np.testing.assert_array_equal(plain, kept)
    cut = next_tokens(logits, 1.0, tf.constant(2), tf.constant(0.5), seed=seed(6)).numpy()
    top_two = np.argsort(-logits, axis=-1)[:, :2]
    assert (top_two == cut[:, None]).any(axis=-1).all()
    assert not np.array_equal(plain, cut)


# --- seeds ------------------------------------------------------------------------------------------------------


def test_same_seed_same_tokens_different_seed_different_tokens():
    logits = np.zeros((1000, 100), np.float32)  # uniform over 100 tokens
    first = next_tokens(logits, 1.0, seed=seed(1, 2)).numpy()
    again = next_tokens(logits, 1.0, seed=seed(1, 2)).numpy()
    other = next_tokens(logits, 1.0, seed=seed(3, 4)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (first == other).mean() < 0.1  # independent draws agree about 1% of the time
    assert len(set(first.tolist())) > 90  # and they really cover the wide distribution
    # Same with top-k / top-p filtering in the way.
    a = next_tokens(logits + np.arange(100, dtype=np.float32) / 100, 1.0, top_k=50, top_p=0.9, seed=seed(5))
    b = next_tokens(logits + np.arange(100, dtype=np.float32) / 100, 1.0, top_k=50, top_p=0.9, seed=seed(5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_default_seed_is_deterministic_and_seed_pair_builds_valid_seeds():
    logits = np.zeros((200, 50), np.float32)
    np.testing.assert_array_equal(next_tokens(logits).numpy(), next_tokens(logits).numpy())
    pair = seed_pair(42)
    assert pair.dtype == tf.int32 and pair.shape == (2,)
    np.testing.assert_array_equal(pair.numpy(), seed_pair(42).numpy())
    assert not np.array_equal(seed_pair(42).numpy(), seed_pair(43).numpy())
    np.testing.assert_array_equal(
        next_tokens(logits, 1.0, seed=seed_pair(42)).numpy(), next_tokens(logits, 1.0, seed=seed_pair(42)).numpy()
    )
    assert seed_pair(None).shape == (2,)
    with pytest.raises(TypeError, match="seed"):
        seed_pair("42")


# --- compiled loop ----------------------------------------------------------------------------------------------


def test_usable_inside_a_compiled_loop_with_tensor_temperature_and_seed(rng):
    batch, vocab, steps, k = 4, 20, 12, 3
    logits = tf.constant(rng.normal(size=(batch, vocab)).astype(np.float32))

    @tf.function
    def loop(logits, temperature, top_p, seed, steps):
        out = tf.TensorArray(tf.int32, size=steps)
        for step in tf.range(steps):
            step_seed = tf.random.experimental.stateless_fold_in(seed, step)
            out = out.write(step, next_tokens(logits, temperature, top_k=k, top_p=top_p, seed=step_seed))
        return out.stack()

    greedy = loop(logits, tf.constant(0.0), tf.constant(1.0), seed(1, 2), tf.constant(steps)).numpy()
    assert greedy.shape == (steps, batch) and greedy.dtype == np.int32
    np.testing.assert_array_equal(greedy, np.tile(logits.numpy().argmax(-1), (steps, 1)))

    sampled = loop(logits, tf.constant(1.0), tf.constant(1.0), seed(1, 2), tf.constant(steps)).numpy()
    top_k = np.argsort(-logits.numpy(), axis=-1)[:, :k]
    for row in range(batch):
        assert set(sampled[:, row].tolist()) <= set(top_k[row].tolist())
    # Each step folds a different seed in, so the steps do not all repeat one draw.
    assert len({tuple(r) for r in sampled.tolist()}) > 1
    # Same seed, same tokens; and each step equals the eager call with that step's seed.
    np.testing.assert_array_equal(
        sampled, loop(logits, tf.constant(1.0), tf.constant(1.0), seed(1, 2), tf.constant(steps)).numpy()
    )
    for step in range(steps):
        step_seed = tf.random.experimental.stateless_fold_in(seed(1, 2), step)
        np.testing.assert_array_equal(sampled[step], next_tokens(logits, 1.0, top_k=k, seed=step_seed).numpy())
    assert not np.array_equal(
        sampled, loop(logits, tf.constant(1.0), tf.constant(1.0), seed(9, 9), tf.constant(steps)).numpy()
    )

    # A tensor top_p narrows the choice inside the loop too: 1e-6 keeps only the argmax.
    narrow = loop(logits, tf.constant(1.0), tf.constant(1e-6), seed(1, 2), tf.constant(steps)).numpy()
    np.testing.assert_array_equal(narrow, greedy)

    # Changing tensor values does not retrace.
    assert loop.experimental_get_tracing_count() == 1


# --- argument checks --------------------------------------------------------------------------------------------

LOGITS = np.zeros((2, 5), np.float32)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": -1}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"temperature": -math.inf}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": -0.5}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": math.nan}, "top_p"),
    ],
)
def test_out_of_range_arguments_raise_value_error_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        check_sampling_args(**kwargs)
    with pytest.raises(ValueError, match=name):
        next_tokens(LOGITS, **{"temperature": 1.0, **kwargs})


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"temperature": "1.0"}, "temperature"),
        ({"temperature": None}, "temperature"),
        ({"temperature": [1.0]}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_k": "3"}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": "0.9"}, "top_p"),
        ({"top_p": [0.5]}, "top_p"),
    ],
)
def test_non_numeric_arguments_raise_type_error_naming_the_argument(kwargs, name):
    with pytest.raises(TypeError, match=name):
        check_sampling_args(**kwargs)
    with pytest.raises(TypeError, match=name):
        next_tokens(LOGITS, **{"temperature": 1.0, **kwargs})


@pytest.mark.parametrize("kwargs, name", [({"top_k": 0}, "top_k"), ({"top_p": 1.5}, "top_p"), ({"top_p": 0}, "top_p")])
def test_static_arguments_are_checked_even_with_a_tensor_temperature(kwargs, name):
    with pytest.raises(ValueError, match=name):
        next_tokens(LOGITS, tf.constant(1.0), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"temperature": 0},
        {"temperature": 0.0, "top_k": 1, "top_p": 1},
        {"temperature": 1e-3, "top_k": 5, "top_p": 1e-9},
        {"temperature": np.float32(0.7), "top_k": np.int64(3), "top_p": np.float64(0.5)},
        {"temperature": 100, "top_k": None, "top_p": None},
    ],
)
def test_valid_arguments_are_accepted(kwargs):
    assert check_sampling_args(**kwargs) is None
    tokens = next_tokens(LOGITS, **kwargs).numpy()
    assert tokens.shape == (2,) and ((0 <= tokens) & (tokens < 5)).all()
