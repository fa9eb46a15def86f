"""Tokens per second of DecoderTransformer.generate (KV cache) for 512 new tokens, against two baselines.

    bash bench/gpt_generation.sh          # sets up bench/.venv with keras-hub, then runs this file

1. The same weights, recomputing the full (cropped) context for every new token: nanoGPT's and keras-io's way,
   with the forward pass compiled by tf.function. Target: cache >= 10x.
2. KerasHub's GPT2CausalLM.generate on a randomly initialised GPT-2 of the same size (layers, heads, width,
   vocabulary). keras-hub is installed in the benchmark's environment only. Target: >= 1.0x.
All three run at batch 1 from the same prompt, in one process, after one warm-up call each.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasgen import startup  # noqa: E402


def timed(fn):
    fn()  # warm-up: tracing and compilation are not counted
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def recompute_generate(model, prompt_ids, new_tokens):
    import numpy as np
    import tensorflow as tf

    from kerasgen import sampling

    forward = tf.function(lambda ids: model(ids)[:, -1], reduce_retracing=True)
    ids = list(prompt_ids)
    for step in range(new_tokens):
        logits = forward(tf.constant([ids[-model.max_length :]]))
        ids.append(int(sampling.next_tokens(logits, 1.0, seed=np.array([0, step], np.int32))[0]))
    return ids


def keras_hub_generate_fn(model, prompt_ids, new_tokens):
    import keras_hub
    import numpy as np

    total = len(prompt_ids) + new_tokens
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=model.tokenizer.vocab_size,
        num_layers=model.num_layers,
        num_heads=model.num_heads,
        hidden_dim=model.embedding_dim,
        intermediate_dim=4 * model.embedding_dim,
        max_sequence_length=total,
    )
    lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    lm.compile(sampler=keras_hub.samplers.RandomSampler())
    token_ids = np.zeros((1, total), np.int32)
    token_ids[0, : len(prompt_ids)] = prompt_ids
    padding_mask = np.zeros((1, total), bool)
    padding_mask[0, : len(prompt_ids)] = True
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    return lambda: lm.generate(inputs, stop_token_ids=None), backbone.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt-shakespeare-char", help="zoo name or .keras file")
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--skip-keras-hub", action="store_true")
    parser.add_argument("--random", action="store_true", help="the zoo architecture with random weights (no zoo file)")
    args = parser.parse_args()
    startup.quiet_tensorflow()
    from kerasgen import zoo

    if args.random:  # speed does not depend on the weights: the zoo architecture, randomly initialised
        import string

        import numpy as np

        import kerasgen as kg

        tokenizer = kg.text.CharTokenizer.from_text(string.ascii_letters + " \n!$&',-.3:;?")  # Tiny Shakespeare's 65
        model = kg.models.DecoderTransformer(tokenizer, max_length=256, num_layers=4, num_heads=4, embedding_dim=256)
        model(np.zeros((1, 1), np.int32))
        args.model = "random gpt-shakespeare-char architecture"
    else:
        model = zoo.load_model(args.model)
    prompt_ids = model.tokenizer.encode(args.prompt)
    n = args.new_tokens
    cached = timed(lambda: model.generate(args.prompt, max_new_tokens=n, temperature=1.0, seed=0))
    recompute = timed(lambda: recompute_generate(model, prompt_ids, n))
    print(f"model {args.model}: {model.count_params():,} parameters, max_length {model.max_length}, {n} new tokens")
    print(f"kerasgen generate (KV cache):        {n / cached:9.1f} tokens/s")
    print(f"recompute full context each token:   {n / recompute:9.1f} tokens/s")
    print(f"cache / recompute:                   {recompute / cached:9.1f}x  (target >= 10x)")
    if not args.skip_keras_hub:
        generate, hub_params = keras_hub_generate_fn(model, prompt_ids, n)
        hub = timed(generate)
        print(f"KerasHub GPT2CausalLM.generate:      {n / hub:9.1f} tokens/s ({hub_params:,} parameters)")
        print(f"kerasgen / KerasHub:                 {hub / cached:9.1f}x  (target >= 1.0x)")


if __name__ == "__main__":
    main()
