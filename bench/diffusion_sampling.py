"""DDIM vs DDPM on one trained network, and the compiled denoising loop vs a per-step ``model.predict`` loop.

    KERASGEN_DATA_DIR=/path/to/data python bench/diffusion_sampling.py [--model diffusion-mnist]

1. Wall time for 64 images: DDIM 50 steps vs DDPM 1000 steps (target: DDIM >= 15x faster), and the
   classifier-feature Frechet distance of each on ``--samples`` samples (target: within 10% of each other),
   for deterministic DDIM (``eta=0``, the default) and for stochastic DDIM (``eta=1``, same cost per step).
2. 50 DDIM steps with kerasgen's loop (one compiled call per step) vs the same update driven by
   ``model.predict`` on a functional wrapper of the same EMA network per step (keras-io's way), at the batch
   sizes of ``--predict-batches`` (target: >= 3x).
Every timing is the best of ``--repeats`` calls after one warm-up call (on a shared host one call's wall time
can vary 1.6x from run to run), same weights, one process, every loop under the dtype policy ``--policy``
(default ``auto``: what kerasgen trains with on this machine, ``mixed_bfloat16`` on a bf16 CPU; ``float32`` is
how ``kerasgen sample`` loads a zoo file). The timings come first, then the Frechet distances. ``--random``
times the ``--model`` file's architecture with fresh random weights (Frechet distances are then skipped, as
with ``--samples 0``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasgen import startup  # noqa: E402


def timed(fn, repeats):
    """The shortest wall time of ``repeats`` calls of ``fn``, after a warm-up call (tracing is not counted)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def predict_loop(model, n, steps, seed=0, x=None):
    """DDIM (eta 0) with one ``keras.Model.predict`` per step and the update in numpy (from noise ``x`` if given)."""
    import keras
    import numpy as np

    from kerasgen.models.diffusion import sampling_timesteps

    if "predict_net" not in model.__dict__:
        images = keras.Input(model.image_shape)
        timesteps = keras.Input((), dtype="int32")
        model.__dict__["predict_net"] = keras.Model([images, timesteps], model.ema_network(images, timesteps))
    net = model.__dict__["predict_net"]
    alpha_bars = np.asarray(model.alpha_bars, np.float64)
    if x is None:
        x = np.random.default_rng(seed).standard_normal((n, *model.image_shape)).astype(np.float32)
    chain = sampling_timesteps(steps, len(alpha_bars))
    for t, t_prev in zip(chain, list(chain[1:]) + [None]):
        output = net.predict([x, np.full(n, t, np.int32)], verbose=0).astype(np.float64)
        a, a_prev = alpha_bars[t], (1.0 if t_prev is None else alpha_bars[t_prev])
        # As kerasgen.models.diffusion.predict_clean: the clean image from a noise or a v prediction.
        if model.prediction == "v":
            x0 = np.clip(np.sqrt(a) * x - np.sqrt(1 - a) * output, -1, 1)
        else:
            x0 = np.clip((x - np.sqrt(1 - a) * output) / np.sqrt(a), -1, 1)
        eps = (x - np.sqrt(a) * x0) / np.sqrt(1 - a)
        x = (np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps).astype(np.float32)
    return np.clip((x + 1) / 2, 0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion-mnist", help="zoo name or .keras file")
    parser.add_argument("--random", action="store_true", help="the model's architecture with random weights")
    parser.add_argument("--samples", type=int, default=1000,
                        help="samples per sampler for the Frechet distances (0: skip them)")
    parser.add_argument("--policy", default="auto", help="dtype policy of the sampling network: auto, float32, ...")
    parser.add_argument("--predict-batches", default="64,8", help="batch sizes of the compiled-vs-predict comparison")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per loop; the shortest is reported")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    startup.quiet_tensorflow()
    import numpy as np

    import kerasgen as kg
    from kerasgen.models.chunks import sample_in_chunks
    from kerasgen.models.diffusion import make_sampling_step, run_sampler
    from kerasgen.saving import policy_copy

    model = kg.zoo.load_model(args.model)
    if args.random:  # the same architecture, read from the file, with fresh weights
        model = type(model).from_config(model.get_config())
        model.build((None, *model.image_shape))
        args.model = f"{args.model} architecture, random weights"
    policy = kg.precision.auto_policy() if args.policy == "auto" else args.policy
    model = policy_copy(model, policy)
    print(f"model {args.model}: {model.network.count_params():,} parameters per network, policy {policy}; "
          f"timings: best of {args.repeats}")

    ddim = timed(lambda: model.sample(64, steps=50, sampler="ddim", seed=0), args.repeats)
    ddim_eta = timed(lambda: model.sample(64, steps=50, sampler="ddim", eta=1.0, seed=0), args.repeats)
    ddpm = timed(lambda: model.sample(64, steps=1000, sampler="ddpm", seed=0), args.repeats)
    print(f"64 images, DDIM 50 steps:         {ddim:8.2f} s")
    print(f"64 images, DDIM 50 steps, eta 1:  {ddim_eta:8.2f} s")
    print(f"64 images, DDPM 1000 steps:       {ddpm:8.2f} s")
    print(f"DDPM 1000 / DDIM 50 time:         {ddpm / ddim:8.1f}x  (target >= 15x)")
    print(f"DDPM 1000 / DDIM 50 eta 1 time:   {ddpm / ddim_eta:8.1f}x")
    # The two loops run the same update: from the same noise they draw the same images.
    steps = 50
    x = np.random.default_rng(1).standard_normal((4, *model.image_shape)).astype(np.float32)
    step = make_sampling_step(model.ema_network, "ddim", model.prediction)
    compiled_images = (run_sampler(step, x, model.alpha_bars, steps).numpy() + 1) / 2
    gap = np.abs(predict_loop(model, 4, steps, x=x) - compiled_images).max()
    print(f"per-step predict loop vs compiled loop, same noise: largest pixel difference {gap:.4f}")
    for batch in (int(b) for b in args.predict_batches.split(",")):
        compiled = timed(lambda: model.sample(batch, steps=steps, sampler="ddim", seed=0), args.repeats)
        predicted = timed(lambda: predict_loop(model, batch, steps), args.repeats)
        ms_compiled, ms_predicted = 1000 * compiled / steps, 1000 * predicted / steps
        print(f"batch {batch:3d}, {steps} DDIM steps: compiled {compiled:7.2f} s, per-step predict {predicted:7.2f} s, "
              f"ratio {predicted / compiled:5.1f}x  (target >= 3x); per step {ms_compiled:.0f} ms vs "
              f"{ms_predicted:.0f} ms, so predict adds {ms_predicted - ms_compiled:.0f} ms a call")
    if args.samples and not args.random:  # last, as the longest part; the timings above are done by then
        classifier = kg.zoo.load("mnist-classifier")
        real = classifier.features(kg.data.load_image_arrays("mnist", "test")[0].astype(np.float32) / 255.0)
        distances = {}
        for label, sample_args in (("DDPM 1000 steps", dict(steps=1000, sampler="ddpm")),
                                   ("DDIM 50 steps", dict(steps=50, sampler="ddim")),
                                   ("DDIM 50 steps, eta 1", dict(steps=50, sampler="ddim", eta=1.0))):
            fake = sample_in_chunks(model, args.samples, 0, chunk=500, **sample_args)
            distances[label] = kg.metrics.frechet_distance(classifier.features(fake), real)
            print(f"Frechet distance, {label}, {args.samples} samples: {distances[label]:.3f}")
        for label in ("DDIM 50 steps", "DDIM 50 steps, eta 1"):
            change = distances[label] / distances["DDPM 1000 steps"] - 1
            print(f"{label} vs DDPM 1000 distance: {100 * change:+.1f}%  (target within 10%)")


if __name__ == "__main__":
    main()
