"""kerasgen.text: character and word tokenizers, the out-of-vocabulary rule, serialization, continuation."""

import collections
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgen.text import OOV_ID, CharTokenizer, WordTokenizer

PTB_LIKE = " the cat sat on the mat \n the dog sat \n a cat ran \n"
NORMALISED = "the cat sat on the mat\nthe dog sat\na cat ran\n"


def assert_ids(ids, length=None):
    assert isinstance(ids, np.ndarray)
    assert ids.dtype == np.int32
    assert ids.ndim == 1
    if length is not None:
        assert len(ids) == length


# --- characters -------------------------------------------------------------------------------------------------


def test_char_vocabulary_is_the_sorted_character_set_after_the_oov_id(text):
    tok = CharTokenizer.from_text(text)
    assert tok.vocabulary == sorted(set(text))
    assert tok.vocab_size == len(set(text)) + 1
    assert OOV_ID == 0
    ids = tok.encode(text)
    assert_ids(ids, len(text))
    # Character i of the sorted set has id i + 1: id 0 is reserved.
    expected = np.array([sorted(set(text)).index(c) + 1 for c in text], np.int32)
    np.testing.assert_array_equal(ids, expected)
    assert ids.min() >= 1 and ids.max() == tok.vocab_size - 1


def test_char_round_trip(text):
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    snippet = "Speak, speak.\n"
    assert tok.decode(tok.encode(snippet)) == snippet
    assert tok.decode(tok.encode("")) == ""
    assert_ids(tok.encode(""), 0)
    np.testing.assert_array_equal(CharTokenizer.from_text("cab").encode("abcab"), [1, 2, 3, 1, 2])
    assert tok.boundary_id == tok.encode("\n")[0] != 0


def test_char_unseen_characters_map_to_zero_and_decode_to_replacement_character():
    tok = CharTokenizer.from_text("abc")
    ids = tok.encode("abxc")
    assert_ids(ids)
    np.testing.assert_array_equal(ids, [1, 2, 0, 3])
    assert tok.decode(ids) == "ab\ufffdc"
    assert tok.oov_token == "\ufffd"
    # Never raises on unseen input, whatever it holds.
    for unseen in ("é", "日本語", "🙂👍", "\x00\t\r", "\ufffd", "Z" * 1000):
        ids = tok.encode(unseen)
        assert_ids(ids, len(unseen))
        assert (ids == 0).all()
        assert tok.decode(ids) == "\ufffd" * len(unseen)


def test_char_from_text_drops_the_replacement_character_from_the_vocabulary():
    tok = CharTokenizer.from_text("a\ufffdb")
    assert tok.vocabulary == ["a", "b"]
    np.testing.assert_array_equal(tok.encode("a\ufffdb"), [1, 0, 2])
    assert tok.decode(tok.encode("a\ufffdb")) == "a\ufffdb"


def test_char_handles_non_ascii_vocabulary():
    sample = "naïve café — 日本 🙂\n"
    tok = CharTokenizer.from_text(sample)
    assert tok.decode(tok.encode(sample)) == sample
    assert (tok.encode(sample) != 0).all()


# --- words ------------------------------------------------------------------------------------------------------


def test_word_vocabulary_is_ranked_by_frequency_then_alphabetically():
    tok = WordTokenizer.from_text("the cat sat\nthe dog sat\n")
    # the: 2, sat: 2, <eos>: 2, cat: 1, dog: 1; ties in code-point order ("<" sorts before letters).
    assert tok.vocabulary == ["<eos>", "sat", "the", "cat", "dog"]
    assert tok.vocab_size == 6
    np.testing.assert_array_equal(tok.encode("the cat sat\n"), [3, 4, 2, 1])
    assert tok.boundary_id == 1


def test_word_round_trip_of_ptb_like_lines():
    tok = WordTokenizer.from_text(PTB_LIKE)
    ids = tok.encode(PTB_LIKE)
    assert_ids(ids, len(PTB_LIKE.split()) + PTB_LIKE.count("\n"))
    assert (ids != 0).all()
    # Words are joined by one space, <eos> becomes a line break; PTB's leading and trailing spaces go.
    assert tok.decode(ids) == NORMALISED
    assert tok.decode(tok.encode(NORMALISED)) == NORMALISED
    eos = tok.encode("\n")
    np.testing.assert_array_equal(eos, [tok.boundary_id])
    assert tok.decode(eos) == "\n"
    assert tok.decode(tok.encode("the cat\n\nsat")) == "the cat\n\nsat"
    # Runs of spaces and tabs are single separators.
    assert tok.decode(tok.encode("the   cat\tsat")) == "the cat sat"
    assert tok.decode(tok.encode("")) == ""


def test_word_unseen_words_map_to_zero_and_decode_to_unk():
    tok = WordTokenizer.from_text("the cat sat\nthe dog sat\n")
    ids = tok.encode("the cat ran")
    np.testing.assert_array_equal(ids, [3, 4, 0])
    assert tok.decode(ids) == "the cat <unk>"
    assert tok.oov_token == "<unk>"
    # Words are kept as written: no lower-casing.
    np.testing.assert_array_equal(tok.encode("The CAT"), [0, 0])
    for unseen in ("zebra", "日本語 🙂", "x" * 500, "sat. the,"):
        ids = tok.encode(unseen)
        assert_ids(ids, len(unseen.split()))
        assert (ids == 0).all()


def test_ptb_unk_word_is_the_oov_id_itself():
    tok = WordTokenizer.from_text(" a <unk> b \n <unk> <unk> c \n")
    assert "<unk>" not in tok.vocabulary
    np.testing.assert_array_equal(tok.encode("<unk>"), [0])
    ids = tok.encode(" a <unk> b \n")
    assert ids[1] == 0 and (np.delete(ids, 1) != 0).all()
    assert tok.decode(ids) == "a <unk> b\n"


def test_max_vocab_keeps_the_most_frequent_tokens_plus_unk():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    weights = np.arange(40, 0, -1, dtype=float) ** 2  # distinct expected frequencies
    lines = [" ".join(rng.choice(words, size=12, p=weights / weights.sum())) for _ in range(300)]
    corpus = "\n".join(lines) + "\n"
    counts = collections.Counter(corpus.split())
    counts["<eos>"] = corpus.count("\n")
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    for n in (2, 5, 17):
        tok = WordTokenizer.from_text(corpus, max_vocab=n)
        assert tok.vocab_size == n
        assert tok.vocabulary == ranked[: n - 1]
        dropped = ranked[n - 1]
        assert tok.encode(dropped)[0] == 0
        assert (tok.encode(" ".join(ranked[: n - 1])) != 0).all()
    # A max_vocab above the number of distinct tokens keeps them all.
    assert WordTokenizer.from_text(corpus, max_vocab=10_000).vocab_size == len(counts) + 1


def test_max_vocab_breaks_ties_alphabetically_and_ignores_unk():
    tok = WordTokenizer.from_text("b a c <unk> <unk> <unk>", max_vocab=3)
    assert tok.vocabulary == ["a", "b"]
    assert tok.vocab_size == 3
    np.testing.assert_array_equal(tok.encode("a b c <unk>"), [1, 2, 0, 0])


# --- serialization ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, sample", [(CharTokenizer, "Hello, world!\nbye"), (WordTokenizer, PTB_LIKE)])
def test_get_config_from_config_round_trip(cls, sample):
    tok = cls.from_text(sample)
    config = tok.get_config()
    config = json.loads(json.dumps(config))  # plain JSON, as in a .keras file
    again = cls.from_config(config)
    assert type(again) is cls
    assert again.vocabulary == tok.vocabulary
    assert again.vocab_size == tok.vocab_size
    probe = sample + " unseen ✓"
    np.testing.assert_array_equal(again.encode(probe), tok.encode(probe))
    assert again.decode(tok.encode(probe)) == tok.decode(tok.encode(probe))


@pytest.mark.parametrize("cls, sample", [(CharTokenizer, "Hello, world!\nbye"), (WordTokenizer, PTB_LIKE)])
def test_keras_serialize_deserialize_round_trip(cls, sample):
    tok = cls.from_text(sample)
    serialized = keras.saving.serialize_keras_object(tok)
    assert serialized["registered_name"] == f"kerasgen>{cls.__name__}"
    serialized = json.loads(json.dumps(serialized))
    again = keras.saving.deserialize_keras_object(serialized)
    assert type(again) is cls
    assert again.vocabulary == tok.vocabulary
    np.testing.assert_array_equal(again.encode(sample + " ?"), tok.encode(sample + " ?"))
    assert keras.saving.get_registered_object(f"kerasgen>{cls.__name__}") is cls


# --- continuation -----------------------------------------------------------------------------------------------


def test_char_continue_text_concatenates():
    tok = CharTokenizer.from_text("abc \n")
    assert tok.continue_text("ab", tok.encode("c")) == "abc"
    assert tok.continue_text("ab", tok.encode(" c")) == "ab c"
    assert tok.continue_text("", tok.encode("abc")) == "abc"
    assert tok.continue_text("ab", []) == "ab"


def test_word_continue_text_inserts_one_space_unless_whitespace_separates():
    tok = WordTokenizer.from_text("the cat sat\nthe dog sat\n")
    sat = tok.encode("sat")
    assert tok.continue_text("the cat", sat) == "the cat sat"
    assert tok.continue_text("the cat ", sat) == "the cat sat"
    assert tok.continue_text("the cat\n", sat) == "the cat\nsat"
    assert tok.continue_text("the cat", tok.encode("\nthe dog")) == "the cat\nthe dog"
    assert tok.continue_text("", sat) == "sat"
    assert tok.continue_text("the cat", []) == "the cat"
    assert tok.continue_text("the", tok.encode("cat sat")) == "the cat sat"


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [CharTokenizer, WordTokenizer])
def test_from_text_rejects_empty_text(cls):
    with pytest.raises(ValueError, match="text"):
        cls.from_text("")
    with pytest.raises(ValueError, match="text"):
        cls.from_text(None)


def test_word_from_text_rejects_text_without_words():
    with pytest.raises(ValueError, match="word"):
        WordTokenizer.from_text(" \n\t \n")


@pytest.mark.parametrize("cls, sample", [(CharTokenizer, "abc"), (WordTokenizer, "a b c")])
def test_decode_rejects_out_of_range_ids(cls, sample):
    tok = cls.from_text(sample)
    for bad in ([tok.vocab_size], [1, -1], [0, 10**6]):
        with pytest.raises(ValueError, match="ids"):
            tok.decode(bad)
    with pytest.raises(ValueError, match="ids"):
        tok.decode(np.zeros((2, 2), np.int32))
    # The largest valid id and a tensor both decode.
    assert tok.decode(tf.constant([tok.vocab_size - 1])) == tok.vocabulary[-1]


@pytest.mark.parametrize("cls, sample", [(CharTokenizer, "abc"), (WordTokenizer, "a b c")])
@pytest.mark.parametrize("bad", [b"abc", None, ["a", "b"], 3, np.array(["a"])])
def test_encode_rejects_non_str(cls, sample, bad):
    with pytest.raises(TypeError, match="str"):
        cls.from_text(sample).encode(bad)


@pytest.mark.parametrize("max_vocab", [1, 0, -3, 2.5, "10"])
def test_max_vocab_below_two_or_not_an_int_is_rejected(max_vocab):
    with pytest.raises(ValueError, match="max_vocab"):
        WordTokenizer.from_text("a b c", max_vocab=max_vocab)


def test_max_vocab_two_keeps_one_word():
    tok = WordTokenizer.from_text("a a b", max_vocab=2)
    assert tok.vocabulary == ["a"] and tok.vocab_size == 2


@pytest.mark.parametrize(
    "cls, vocabulary, match",
    [
        (CharTokenizer, [], "empty"),
        (CharTokenizer, ["a", "a"], "duplicate"),
        (CharTokenizer, ["a", "\ufffd"], "out-of-vocabulary"),
        (WordTokenizer, ["a", "<unk>"], "out-of-vocabulary"),
    ],
)
def test_constructor_rejects_bad_vocabularies(cls, vocabulary, match):
    with pytest.raises(ValueError, match=match):
        cls(vocabulary)
