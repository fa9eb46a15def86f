"""Generation speed of the zoo on each Keras backend, side by side (tokens/s, images/s).

    python bench/backend_generation.py [--backends tensorflow jax torch] [--baseline-source DIR] [--repeats 3]

Each backend runs in its own process: tensorflow with this Python, jax and torch with the interpreters named by
KERASGEN_JAX_PYTHON and KERASGEN_TORCH_PYTHON (environments with kerasgen's extras; see the README's Backends
section), falling back to this Python when unset. Every figure is the best of ``--repeats`` timed calls after
one warm-up call (tracing and compilation are not counted).

``--baseline-source DIR`` adds a TensorFlow column measured with kerasgen imported from DIR (another checkout,
for example the last release) and the ratio of this checkout to it, the processes taking turns so that a
busy machine slows both alike.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)

# (zoo entry, what is timed, unit, call); a call takes the model and a seed.
CASES = [
    ("char-lstm-shakespeare", "generate 500 chars, batch 1", "tokens/s", 500,
     lambda m, s: m.generate(["ROMEO:"], max_new_tokens=500, seed=s)),
    ("char-lstm-shakespeare", "generate 200 chars, batch 32", "tokens/s", 200 * 32,
     lambda m, s: m.generate(["ROMEO:"] * 32, max_new_tokens=200, seed=s)),
    ("gpt-shakespeare-char", "generate 200 chars, batch 1", "tokens/s", 200,
     lambda m, s: m.generate(["ROMEO:"], max_new_tokens=200, seed=s)),
    ("gpt-shakespeare-char", "generate 200 chars, batch 32", "tokens/s", 200 * 32,
     lambda m, s: m.generate(["ROMEO:"] * 32, max_new_tokens=200, seed=s)),
    ("word-lstm-ptb", "generate 50 words, batch 8", "tokens/s", 50 * 8,
     lambda m, s: m.generate(["the"] * 8, max_new_tokens=50, seed=s)),
    ("dcgan-mnist", "sample 256", "images/s", 256, lambda m, s: m.sample(256, seed=s)),
    ("vae-mnist", "sample 256", "images/s", 256, lambda m, s: m.sample(256, seed=s)),
    ("realnvp-mnist", "sample 64", "images/s", 64, lambda m, s: m.sample(64, seed=s)),
    ("diffusion-mnist", "sample 32, DDIM 20 steps", "images/s", 32,
     lambda m, s: m.sample(32, seed=s, steps=20)),
]


def worker(repeats, selected):
    """Runs in the measured process: prints one JSON line of {case index: units per second}."""
    from kerasgen import startup

    startup.quiet_tensorflow()
    from kerasgen import zoo

    rates, models = {}, {}
    for index, (name, _, _, units, call) in enumerate(CASES):
        if selected and name not in selected:
            continue
        if name not in models:
            models[name] = zoo.load_model(name)
        model = models[name]
        call(model, 0)  # warm-up
        best = float("inf")
        for repeat in range(repeats):
            start = time.perf_counter()
            call(model, repeat + 1)
            best = min(best, time.perf_counter() - start)
        rates[index] = units / best
    print(json.dumps(rates))


def measure(python, backend, source, repeats, selected):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=source, TF_CPP_MIN_LOG_LEVEL="3")
    command = [python, os.path.abspath(__file__), "--worker", "--repeats", str(repeats)]
    command += ["--models", *selected] if selected else []
    done = subprocess.run(command, env=env, cwd=source, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the {backend} run failed:\n{done.stderr[-3000:]}")
    rates = json.loads(done.stdout.strip().splitlines()[-1])
    return {int(k): v for k, v in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"],
                        choices=["tensorflow", "jax", "torch"])
    parser.add_argument("--baseline-source", help="a checkout whose TensorFlow figures to compare against")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --baseline-source: alternate the two TensorFlow runs this many times each")
    parser.add_argument("--models", nargs="*", default=[], help="zoo names to time (default: all)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.repeats, args.models)

    pythons = {
        "tensorflow": sys.executable,
        "jax": os.environ.get("KERASGEN_JAX_PYTHON", sys.executable),
        "torch": os.environ.get("KERASGEN_TORCH_PYTHON", sys.executable),
    }
    columns = {}
    if args.baseline_source:
        # Take turns, keeping the best of each: a background load then slows both alike.
        ours, base = {}, {}
        for _ in range(args.rounds):
            for store, source in ((base, os.path.abspath(args.baseline_source)), (ours, SOURCE)):
                for index, rate in measure(sys.executable, "tensorflow", source, args.repeats, args.models).items():
                    store[index] = max(store.get(index, 0.0), rate)
        columns["tensorflow (baseline)"] = base
        columns["tensorflow"] = ours
    for backend in args.backends:
        if backend not in columns:
            columns[backend] = measure(pythons[backend], backend, SOURCE, args.repeats, args.models)

    rows = sorted(set().union(*columns.values()))
    header = f"{'zoo entry':24} {'what':30} {'unit':9}" + "".join(f" {c:>22}" for c in columns)
    if args.baseline_source:
        header += f" {'this / baseline':>16}"
    print(header)
    for index in rows:
        name, what, unit, _, _ = CASES[index]
        line = f"{name:24} {what:30} {unit:9}"
        line += "".join(f" {columns[c][index]:22.1f}" if index in columns[c] else f" {'-':>22}" for c in columns)
        if args.baseline_source:
            line += f" {columns['tensorflow'][index] / columns['tensorflow (baseline)'][index]:15.2f}x"
        print(line)


if __name__ == "__main__":
    main()
