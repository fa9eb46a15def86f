"""Characters per second of LSTMGenerator.generate against the naive per-character predict loop.

    python bench/lstm_generation.py [--model char-lstm-shakespeare] [--new-tokens 500]

Same weights, same machine, one run. The naive method is the keras-io example's:
for every new character, ``model.predict`` over the whole window (prompt and
text so far, at most ``--window`` characters), then sample from the last logits.
Prints characters/second for each and the two ratios:
compiled batch 1 / naive batch 1 (target >= 200x), compiled batch 64 / compiled batch 1 (target >= 10x).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasgen import startup  # noqa: E402


def compiled_rate(model, batch, new_tokens, prompt):
    prompts = [prompt] * batch
    model.generate(prompts, max_new_tokens=new_tokens, temperature=1.0, seed=0)  # trace once
    start = time.perf_counter()
    model.generate(prompts, max_new_tokens=new_tokens, temperature=1.0, seed=1)
    return batch * new_tokens / (time.perf_counter() - start)


def naive_rate(model, new_tokens, prompt, window):
    import numpy as np

    from kerasgen import sampling

    ids = list(model.tokenizer.encode(prompt))
    model.predict(np.array([ids[-window:]]), verbose=0)  # warm up
    start = time.perf_counter()
    for step in range(new_tokens):
        logits = model.predict(np.array([ids[-window:]]), verbose=0)[:, -1]
        ids.append(int(sampling.next_tokens(logits, 1.0, seed=np.array([0, step], np.int32))[0]))
    return new_tokens / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="char-lstm-shakespeare", help="zoo name or .keras file")
    parser.add_argument("--new-tokens", type=int, default=500)
    parser.add_argument("--naive-tokens", type=int, default=100, help="the naive loop is slow: time fewer")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--prompt", default="ROMEO:")
    args = parser.parse_args()
    startup.quiet_tensorflow()
    from kerasgen import zoo

    model = zoo.load_model(args.model)
    naive = naive_rate(model, args.naive_tokens, args.prompt, args.window)
    batch1 = compiled_rate(model, 1, args.new_tokens, args.prompt)
    batch64 = compiled_rate(model, 64, args.new_tokens, args.prompt)
    print(f"model {args.model}: {model.count_params():,} parameters")
    print(f"naive predict per character, batch 1: {naive:10.1f} chars/s")
    print(f"compiled generate, batch 1:          {batch1:10.1f} chars/s")
    print(f"compiled generate, batch 64:         {batch64:10.1f} chars/s")
    print(f"compiled / naive at batch 1:         {batch1 / naive:10.1f}x  (target >= 200x)")
    print(f"batch 64 / batch 1:                  {batch64 / batch1:10.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
