"""Sampling many images in seeded chunks, and the on-disk cache that lets a long measurement resume.

``sample_in_chunks(model, n, seed, chunk)`` draws ``model.sample`` chunk by chunk (chunk i seeded ``seed + i``), so
the first images of a larger set are those of a smaller one; within a ``sample_cache(directory)`` scope each seeded
chunk is kept on disk and reused.
"""

import contextlib
import hashlib
import inspect
import json
import os

import numpy as np

from kerasgen.checks import check_positive_int


def samples_in_steps(model):
    """True when ``model.sample`` runs many compiled steps and reports them to a ``progress(step, steps)`` (diffusion)."""
    return "progress" in inspect.signature(model.sample).parameters


_SAMPLE_CACHE = []  # the directories of the enclosing ``sample_cache`` scopes, innermost last


@contextlib.contextmanager
def sample_cache(directory):
    """Within this scope, ``sample_in_chunks`` keeps each seeded chunk it draws in ``directory`` and reuses it.

    A chunk is keyed by the model's class and weights, its seed, size, labels and sampling settings, so a
    measurement that draws for hours (60,000 diffusion samples, say) resumes where it stopped after a crash, and
    two measurements drawing the same samples draw them once. Unseeded draws are never cached.
    """
    os.makedirs(directory, exist_ok=True)
    _SAMPLE_CACHE.append(directory)
    try:
        yield directory
    finally:
        _SAMPLE_CACHE.pop()


def _weights_fingerprint(model):
    """The model's class and its weights' shapes and values, in order: not their paths, which hold the names Keras
    numbers per process (``vae_1``), so the same file loaded twice in one process has one fingerprint."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{value.dtype} {value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _chunk_key(fingerprint, seed, size, labels, sample_args):
    settings = {key: value for key, value in sample_args.items() if key not in ("progress", "labels")}
    settings = json.dumps(settings, sort_keys=True, default=repr)
    digest = hashlib.sha256(f"{fingerprint} {seed} {size} {settings}".encode())
    if labels is not None:
        digest.update(np.asarray(labels, np.int64).tobytes())
    return digest.hexdigest()[:32]


def sample_in_chunks(model, n, seed=None, chunk=256, progress=None, labels=None, **sample_args):
    """``model.sample(n, ...)`` drawn in chunks of ``chunk`` (chunk i seeded ``seed + i``).

    ``labels`` (one per image, for a class-conditional model) are passed on chunk by chunk. Within a
    ``sample_cache`` scope, seeded chunks are kept on disk and reused.

    ``progress(done, n)`` is called after each chunk, or after every step for a
    model that samples in steps (its ``sample`` takes a ``progress(step, steps)``,
    as diffusion does): ``done`` then counts a chunk's images in proportion to its
    steps. Returns one float32 array.
    """
    n = check_positive_int(n, "n")
    stepwise = progress is not None and samples_in_steps(model)
    reported = [0]

    def report(done):  # each count once: many steps of a small chunk map to the same count of images
        if done > reported[0]:
            reported[0] = done
            progress(done, n)

    cache = _SAMPLE_CACHE[-1] if _SAMPLE_CACHE and seed is not None else None
    fingerprint = _weights_fingerprint(model) if cache else None
    parts, reused = [], 0
    for index, start in enumerate(range(0, n, chunk)):
        chunk_seed, size = None if seed is None else seed + index, min(chunk, n - start)
        chunk_labels = None if labels is None else np.asarray(labels)[start : start + size]
        path = None
        if cache:
            key = _chunk_key(fingerprint, chunk_seed, size, chunk_labels, sample_args)
            path = os.path.join(cache, f"{key}.npy")
            if os.path.exists(path):
                parts.append(np.load(path))
                reused += 1
                if progress:
                    report(start + size)
                continue
        if stepwise:
            def step_progress(step, steps, done=start, size=size):
                report(done + size * step // steps)

            sample_args["progress"] = step_progress
        if labels is not None:
            sample_args["labels"] = chunk_labels
        parts.append(np.asarray(model.sample(size, seed=chunk_seed, **sample_args), np.float32))
        if path:
            partial = f"{path}.{os.getpid()}.partial.npy"
            np.save(partial, parts[-1])
            os.replace(partial, path)
        if progress:
            report(start + size)
    if reused:
        print(f"reused {reused} of {len(parts)} chunks of samples already drawn (cache: {cache})")
    return np.concatenate(parts)
