"""Out-of-vocabulary handling: unseen tokens, prompt warnings, and growing a trained model's vocabulary."""

import warnings

import keras
import numpy as np
import pytest
from conftest import TEXT
from helpers import tiny_lstm

import kerasgen as kg
from kerasgen.text import CharTokenizer, WordTokenizer

NEW_CHARS = ["1", "2", "=", "#"]
WITH_NEW_CHARS = "All: 1 = 2 # 21 == 12 #\n" * 4


def recorded(call):
    """Run ``call()`` and return every UserWarning it raised, none filtered out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [warning for warning in caught if issubclass(warning.category, UserWarning)]


def tiny_gpt(tie_embeddings=True):
    tokenizer = CharTokenizer.from_text(TEXT)
    model = kg.models.DecoderTransformer(
        tokenizer, max_length=16, num_layers=1, num_heads=2, embedding_dim=8, tie_embeddings=tie_embeddings
    )
    model.compile(optimizer="adam")
    ids = tokenizer.encode(TEXT)
    model.fit(ids[: 4 * 16].reshape(4, 16), ids[1 : 4 * 16 + 1].reshape(4, 16), batch_size=4, epochs=1, verbose=0)
    return model


def tiny_tied_lstm():
    tokenizer = CharTokenizer.from_text(TEXT)
    model = kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=1, tie_embeddings=True)
    model.compile(optimizer="adam")
    ids = tokenizer.encode(TEXT)
    model.fit(ids[: 4 * 16].reshape(4, 16), ids[1 : 4 * 16 + 1].reshape(4, 16), batch_size=4, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def lstm():
    return tiny_lstm(TEXT, fit_steps=1)


@pytest.fixture(scope="module")
def gpt():
    return tiny_gpt()


# --- tokenizers -----------------------------------------------------------------------------------------------------


def test_char_unseen_tokens_are_distinct_in_first_seen_order_and_share_counts_repeats():
    tok = CharTokenizer.from_text("abc ab\n")
    assert tok.unseen_tokens("a1b2=1\ufffd") == ["1", "2", "="]  # the replacement character is the unknown token
    assert tok.unknown_share("a1b2=1\ufffd") == pytest.approx(4 / 7)
    assert tok.unseen_tokens("cab") == [] and tok.unknown_share("cab") == 0.0
    assert tok.unseen_tokens("") == [] and tok.unknown_share("") == 0.0


def test_word_unseen_tokens_and_share():
    tok = WordTokenizer.from_text("the cat sat\nthe dog sat\n")
    assert tok.unseen_tokens("the bird sat on the bird <unk>") == ["bird", "on"]
    assert tok.unknown_share("the bird sat on the bird <unk>") == pytest.approx(3 / 7)
    assert WordTokenizer.from_text("the cat").unseen_tokens("the\ncat") == ["<eos>"]


@pytest.mark.parametrize("bad", [123, None])
def test_unseen_tokens_rejects_non_str(bad):
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer.from_text("abc").unseen_tokens(bad)
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer.from_text("abc").unknown_share(bad)


def test_char_extended_keeps_old_ids_and_appends_new_tokens_once():
    tok = CharTokenizer.from_text(TEXT)
    bigger = tok.extended(["1", "a", "1", "\ufffd", "2"])  # known, repeated and unknown-token entries are ignored
    assert type(bigger) is CharTokenizer and bigger is not tok
    assert bigger.vocabulary == tok.vocabulary + ["1", "2"]
    np.testing.assert_array_equal(bigger.encode(TEXT), tok.encode(TEXT))
    np.testing.assert_array_equal(bigger.encode("12"), [tok.vocab_size, tok.vocab_size + 1])
    assert bigger.decode(bigger.encode("All: 21")) == "All: 21"
    assert bigger.unseen_tokens("1 2 3") == ["3"]
    assert tok.vocab_size == len(tok.vocabulary) + 1  # the original is unchanged


def test_word_extended_keeps_old_ids():
    tok = WordTokenizer.from_text("the cat sat\nthe dog sat\n")
    bigger = tok.extended(["bird", "cat", "on"])
    assert type(bigger) is WordTokenizer
    assert bigger.vocabulary == tok.vocabulary + ["bird", "on"]
    np.testing.assert_array_equal(bigger.encode("the cat sat"), tok.encode("the cat sat"))
    np.testing.assert_array_equal(bigger.encode("bird on"), [tok.vocab_size, tok.vocab_size + 1])


@pytest.mark.parametrize(
    "tok, new_tokens, error, match",
    [
        (CharTokenizer.from_text("abc"), "xyz", TypeError, "list of str"),
        (CharTokenizer.from_text("abc"), ["xy"], ValueError, "'xy' is not a single char token"),
        (CharTokenizer.from_text("abc"), [""], ValueError, "not a single char token"),
        (CharTokenizer.from_text("abc"), [1], ValueError, "not a single char token"),
        (WordTokenizer.from_text("a b"), ["two words"], ValueError, "not a single word token"),
        (WordTokenizer.from_text("a b"), ["\n"], ValueError, "not a single word token"),
    ],
)
def test_extended_rejects_what_is_not_a_list_of_single_tokens(tok, new_tokens, error, match):
    with pytest.raises(error, match=match):
        tok.extended(new_tokens)


# --- warnings from generate -----------------------------------------------------------------------------------------


def test_generate_warns_once_naming_unseen_characters_at_the_caller(lstm):
    caught = recorded(lambda: lstm.generate(["All: x=1#", "All: 1#"], max_new_tokens=2, seed=0))
    assert len(caught) == 1
    warning = caught[0]
    assert warning.category is UserWarning
    assert warning.filename == __file__  # stacklevel points at the caller of generate
    message = str(warning.message)
    assert "'x', '=', '1', '#'" in message
    assert "unknown token '\ufffd'" in message


def test_generate_does_not_warn_for_known_characters(lstm):
    assert recorded(lambda: lstm.generate("All: speak", max_new_tokens=2, seed=0)) == []


def test_unseen_warning_lists_twenty_tokens_then_a_count(lstm):
    unseen = "".join(chr(0x4E00 + i) for i in range(25))
    [warning] = recorded(lambda: lstm.generate(unseen, max_new_tokens=1, seed=0))
    message = str(warning.message)
    assert repr(unseen[19]) in message and repr(unseen[20]) not in message
    assert message.endswith("and 5 more")


def test_gpt_warns_once_when_a_prompt_is_longer_than_its_context(gpt):
    long_prompt = "First Citizen:\nBefore"  # 21 characters, max_length 16
    [warning] = recorded(lambda: gpt.generate(long_prompt, max_new_tokens=2, seed=0))
    assert warning.category is UserWarning and warning.filename == __file__
    assert str(warning.message) == "the prompt is 21 tokens long; only its last 16 tokens condition the continuation"

    [warning] = recorded(lambda: gpt.generate([long_prompt, long_prompt + " we", "All:"], max_new_tokens=2, seed=0))
    assert "the longest prompt is 24 tokens long" in str(warning.message)


def test_gpt_does_not_warn_for_prompts_that_fit(gpt):
    assert recorded(lambda: gpt.generate(["All:", "First Citizen:\nB"], max_new_tokens=20, seed=0)) == []


# --- extending a model's vocabulary ---------------------------------------------------------------------------------


def weight_values(model):
    return {w.path: w.numpy() for w in model.weights}


@pytest.mark.parametrize(
    "make",
    [lambda: tiny_lstm(TEXT, fit_steps=1), tiny_tied_lstm, tiny_gpt, lambda: tiny_gpt(tie_embeddings=False)],
    ids=["lstm", "lstm-tied", "gpt-tied", "gpt-untied"],
)
def test_extend_vocabulary_keeps_old_behaviour_and_learns_new_tokens(make, tmp_path):
    model = make()
    old_size = model.tokenizer.vocab_size
    before = weight_values(model)
    extended = model.extend_vocabulary(NEW_CHARS)

    assert type(extended) is type(model) and extended.built and not extended.compiled
    assert extended.tokenizer.vocabulary == model.tokenizer.vocabulary + NEW_CHARS
    config, new_config = model.get_config(), extended.get_config()
    assert config.pop("tokenizer") != new_config.pop("tokenizer") and config == new_config

    after = weight_values(extended)
    assert list(after) == list(before)
    grown = 0
    for path, old in before.items():
        new = after[path]
        np.testing.assert_array_equal(new[tuple(slice(0, n) for n in old.shape)], old, err_msg=path)
        if new.shape != old.shape:
            grown += 1
            assert [b - a for a, b in zip(old.shape, new.shape)].count(len(NEW_CHARS)) == 1, path
    assert grown == (2 if model.tie_embeddings else 3)  # embedding, output bias, and the output kernel when untied
    embedding = extended.token_embeddings().numpy()
    assert np.all(np.abs(embedding[old_size:]) < 0.5) and np.any(embedding[old_size:] != 0)  # the layer's initializer
    np.testing.assert_array_equal(after[extended.head.bias.path][old_size:], 0.0)
    for path, value in weight_values(model).items():  # the original model is untouched
        np.testing.assert_array_equal(value, before[path], err_msg=path)

    old_input = model.tokenizer.encode(TEXT[:16])[None]
    np.testing.assert_allclose(extended(old_input)[..., :old_size], model(old_input), atol=1e-6)
    new_ids = extended.tokenizer.encode("12=#")
    np.testing.assert_array_equal(new_ids, np.arange(old_size, old_size + 4))
    np.testing.assert_array_equal(extended.token_embeddings().numpy()[new_ids], embedding[old_size:])

    path = tmp_path / "extended.keras"
    extended.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.tokenizer.vocabulary == extended.tokenizer.vocabulary
    mixed_input = extended.tokenizer.encode("All: 1 = 2 #")[None]
    np.testing.assert_allclose(loaded(mixed_input), extended(mixed_input), atol=1e-6)

    ids = extended.tokenizer.encode(WITH_NEW_CHARS)
    x, y = ids[: 4 * 16].reshape(4, 16), ids[1 : 4 * 16 + 1].reshape(4, 16)
    extended.compile(optimizer="adam")
    history = extended.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(extended.token_embeddings().numpy()[old_size:], embedding[old_size:])
    assert recorded(lambda: extended.generate("All: 1 = 2", max_new_tokens=2, seed=0)) == []


def test_extend_vocabulary_from_text_adds_its_unseen_tokens_in_first_seen_order(lstm):
    extended = lstm.extend_vocabulary(text="All: x = 1 # 2x")
    assert extended.tokenizer.vocabulary[len(lstm.tokenizer.vocabulary) :] == ["x", "=", "1", "#", "2"]


def test_extend_vocabulary_of_a_word_model():
    model = tiny_lstm(TEXT, level="word")
    extended = model.extend_vocabulary(["proceeding", "famished"])
    assert extended.tokenizer.vocabulary == model.tokenizer.vocabulary + ["proceeding", "famished"]
    old_input = model.tokenizer.encode("All: Speak, speak.")[None]
    np.testing.assert_allclose(extended(old_input)[..., : model.tokenizer.vocab_size], model(old_input), atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"tokens": ["1"], "text": "1"}])
def test_extend_vocabulary_needs_exactly_one_of_tokens_and_text(lstm, kwargs):
    with pytest.raises(TypeError, match="exactly one of tokens"):
        lstm.extend_vocabulary(**kwargs)


def test_extend_vocabulary_keeps_the_models_dtype_policy():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    model = tiny_lstm(TEXT, fit_steps=1)
    keras.mixed_precision.set_dtype_policy("float32")
    extended = model.extend_vocabulary(NEW_CHARS)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert extended.dtype_policy.name == "mixed_bfloat16"
    assert extended.embedding.compute_dtype == "bfloat16" and extended.embedding.embeddings.dtype == "float32"
    old_input = model.tokenizer.encode(TEXT[:16])[None]
    np.testing.assert_allclose(extended(old_input)[..., : model.tokenizer.vocab_size], model(old_input), atol=1e-6)
