"""DecoderTransformer: cached generation is exact, and the context rule holds past max_length."""

import numpy as np
import pytest

import kerasgen as kg


@pytest.fixture(scope="module")
def gpt():
    from conftest import TEXT

    tokenizer = kg.text.CharTokenizer.from_text(TEXT)
    model = kg.models.DecoderTransformer(tokenizer, max_length=16, num_layers=2, num_heads=2, embedding_dim=16)
    ids = tokenizer.encode(TEXT)
    x, y = ids[: 16 * 24].reshape(24, 16), ids[1 : 16 * 24 + 1].reshape(24, 16)
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=8, epochs=4, verbose=0)  # trained a little, so argmaxes are not ties
    return model


def reference_greedy(model, prompt_ids, count):
    """What the documented rule predicts, from full uncached forward passes."""
    max_length, keep = model.max_length, model.max_length // 2
    context, out = list(prompt_ids[-max_length:]), []
    for _ in range(count):
        token = int(np.argmax(model(np.array([context]))[0, -1]))
        out.append(token)
        context = context[-(keep - 1) :] + [token] if len(context) == max_length else context + [token]
    return out


@pytest.mark.parametrize("prompt", ["All:", "Citizen:\nYou"])
def test_cached_greedy_generation_equals_full_forward_argmax(gpt, prompt):
    prompt_ids = list(gpt.tokenizer.encode(prompt))
    count = gpt.max_length - len(prompt_ids)  # fills the context exactly, no restart
    generated = gpt.generate(prompt, max_new_tokens=count, temperature=0)
    new_ids = list(gpt.tokenizer.encode(generated)[len(prompt_ids) :])
    assert new_ids == reference_greedy(gpt, prompt_ids, count)


def test_generation_past_max_length_and_long_prompts_follow_the_rule(gpt):
    long_prompt = "Before we proceed any further, hear me speak."  # 46 characters > max_length 16
    prompt_ids = list(gpt.tokenizer.encode(long_prompt))
    generated = gpt.generate(long_prompt, max_new_tokens=3 * gpt.max_length, temperature=0)
    assert generated.startswith(long_prompt)
    new_ids = list(gpt.tokenizer.encode(generated)[len(prompt_ids) :])
    assert new_ids == reference_greedy(gpt, prompt_ids, 3 * gpt.max_length)


def test_batched_prompts_match_single_prompts(gpt):
    prompts = ["All:", "You ", "Firs", "All:Speak"]
    together = gpt.generate(prompts, max_new_tokens=20, temperature=0)
    assert together == [gpt.generate(p, max_new_tokens=20, temperature=0) for p in prompts]


def test_forward_longer_than_max_length_is_a_clear_error(gpt):
    with pytest.raises(ValueError, match="max_length=16"):
        gpt(np.zeros((1, 17), np.int32))


def test_heads_must_divide_width():
    tokenizer = kg.text.CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        kg.models.DecoderTransformer(tokenizer, embedding_dim=10, num_heads=3)
