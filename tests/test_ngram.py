"""The n-gram baseline: interpolated Kneser-Ney probabilities that sum to 1, a hand-counted figure, the order chosen
on validation text, seeded generation, files, and the evaluation key that puts it beside a text card's figure."""

import math

import numpy as np
import pytest
from conftest import TEXT

from kerasgen import evaluation
from kerasgen.models import NGramModel
from kerasgen.text import CharTokenizer, WordTokenizer


@pytest.mark.parametrize("level", ["char", "word"])
def test_every_distribution_sums_to_one_over_the_vocabulary(level):
    tokenizer = CharTokenizer.from_text(TEXT) if level == "char" else WordTokenizer.from_text(TEXT)
    model = NGramModel.fit(tokenizer, TEXT, order=4)
    rng = np.random.default_rng(0)
    for _ in range(50):  # random contexts: seen, unseen, shorter than the order, empty
        context = rng.integers(0, tokenizer.vocab_size, rng.integers(0, 6))
        p = model.distribution(context)
        assert p.shape == (tokenizer.vocab_size,) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        token = int(rng.integers(0, tokenizer.vocab_size))
        assert model.probability(context, token) == pytest.approx(p[token], abs=1e-15)


def test_a_bigram_figure_on_a_tiny_corpus_matches_a_hand_count():
    tokenizer = CharTokenizer.from_text("ab")  # ids: 0 the unknown character, a 1, b 2
    model = NGramModel.fit(tokenizer, "abab", order=2)
    # Bigrams ab x2, ba x1: D2 = n1 / (n1 + 2 n2) = 1 / 3. Continuation counts of a and b: 1 each (n1 = 2, n2 = 0,
    # D1 = 1), so the order-1 distribution is uniform over the 3 ids.
    p_b_after_a = (2 - 1 / 3) / 2 + (1 / 3) * 1 / 2 * (1 / 3)  # 8/9
    p_a_after_b = (1 - 1 / 3) / 1 + (1 / 3) * 1 / 1 * (1 / 3)  # 7/9
    assert model.probability([1], 2) == pytest.approx(8 / 9) == pytest.approx(p_b_after_a)
    assert model.probability([2], 1) == pytest.approx(7 / 9) == pytest.approx(p_a_after_b)
    assert model.probability([1], 1) == pytest.approx(1 / 18)
    assert model.nll("abab") == pytest.approx(-(2 * math.log(8 / 9) + math.log(7 / 9)) / 3)


def test_the_order_is_chosen_on_validation_text_and_generation_is_seeded(tmp_path):
    train, validation = TEXT[: len(TEXT) * 3 // 4], TEXT[len(TEXT) * 3 // 4 :]
    tokenizer = CharTokenizer.from_text(TEXT)
    model = NGramModel.fit(tokenizer, train, validation=validation, max_order=6)
    assert model.order == min(model.validation_nll, key=model.validation_nll.get)
    assert model.validation_nll[model.order] < model.validation_nll[1] - 1  # context helps on this repetitive text
    assert model.nll(validation) == pytest.approx(model.validation_nll[model.order])
    text = model.generate("First", max_new_tokens=40, temperature=0.8, seed=3)
    assert text.startswith("First") and len(text) == 45 and text == model.generate("First", 40, 0.8, seed=3)
    assert model.generate("First", 40, temperature=0, seed=1) == model.generate("First", 40, temperature=0, seed=2)
    path = tmp_path / "ngram.npz"
    model.save(path)
    loaded = NGramModel.load(path)
    assert loaded.order == model.order and loaded.nll(validation) == model.nll(validation)
    assert loaded.generate("First", 40, 0.8, seed=3) == text
    with pytest.raises(ValueError, match="give validation="):
        NGramModel.fit(tokenizer, train)


def test_the_baseline_figure_counts_the_train_split_on_the_card_models_tokenizer(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 3)

    class Card:  # the figure reads only the model's tokenizer
        tokenizer = CharTokenizer.from_text(TEXT)

    from kerasgen import data

    train, validation = data.load_text(str(corpus), "train"), data.load_text(str(corpus), "validation")
    expected = NGramModel.fit(Card.tokenizer, train, validation=validation, max_order=5)
    spec = {"key": "ngram_baseline", "args": {"dataset": str(corpus), "split": "validation", "max_order": 5}}
    assert evaluation.measure(Card(), spec) == pytest.approx(expected.validation_nll[expected.order])
    spec["args"]["measure"] = "perplexity"
    assert evaluation.measure(Card(), spec) == pytest.approx(math.exp(expected.validation_nll[expected.order]))
