"""Next-token choice from logits, shared by every text model.

``next_tokens`` is written in ``keras.ops`` and stateless (the seed is a tensor, see ``kerasgen.backend``), so it
runs inside a compiled generation loop on any backend; ``check_sampling_args`` validates the Python-side arguments
once, before the loop starts.
"""

import numpy as np
from keras import ops

from kerasgen import backend
from kerasgen.checks import check_positive_int, check_real

MAX_TEMPERATURE = 1000.0  # already uniform sampling for any sensible logits; huge values overflow float32 (NaN)


def check_temperature(temperature, note=""):
    """``temperature`` as a float in [0, MAX_TEMPERATURE]; TypeError/ValueError naming it otherwise."""
    return check_real(temperature, "temperature", 0, MAX_TEMPERATURE, note=note)


def check_sampling_args(temperature=1.0, top_k=None, top_p=None):
    """Raise ValueError/TypeError for arguments ``next_tokens`` cannot honour."""
    check_temperature(temperature, " (0 means greedy)")
    if top_k is not None:
        check_positive_int(top_k, "top_k")
    if top_p is not None:
        check_real(top_p, "top_p", 0, 1, open_below=True, note=" or None")


seed_pair = backend.seed_pair


def _dynamic(value):
    return ops.is_tensor(value) or isinstance(value, np.ndarray)


def next_tokens(logits, temperature=1.0, top_k=None, top_p=None, seed=(0, 0)):
    """Choose one token id per row of ``logits`` (batch, vocab).

    Args:
        logits: float tensor (batch, vocab).
        temperature: 0 picks the argmax (greedy); otherwise logits are divided
            by it before sampling. A Python number or a scalar tensor.
        top_k: keep only the ``top_k`` most likely tokens (None: all). A Python
            int, or an int scalar tensor where 0 keeps all (a served model's input).
        top_p: keep the smallest set of most likely tokens whose probability
            reaches ``top_p`` (nucleus sampling; None: all; a scalar tensor: 1
            keeps all).
        seed: shape-(2,) int32 tensor; the same seed gives the same choice.

    Returns:
        int32 tensor (batch,).
    """
    # A tensor temperature, top_k or top_p (a compiled loop, a served model's inputs) is checked by the caller;
    # everything else is checked here.
    check_sampling_args(
        1.0 if _dynamic(temperature) else temperature, None if _dynamic(top_k) else top_k,
        None if _dynamic(top_p) else top_p,
    )
    logits = ops.cast(logits, "float32")
    greedy = backend.argmax(logits)
    temperature = ops.cast(temperature, "float32")
    scaled = logits / ops.maximum(temperature, 1e-6)
    if _dynamic(top_k):  # 0 keeps every token; the same cut as the static top_k below
        ordered = ops.flip(ops.sort(scaled, axis=-1), axis=-1)
        kth = ops.clip(ops.cast(top_k, "int32"), 1, ops.shape(scaled)[-1]) - 1
        kth_largest = ops.take_along_axis(ordered, ops.full((ops.shape(scaled)[0], 1), kth, "int32"), axis=-1)
        scaled = ops.where((top_k > 0) & (scaled < kth_largest), -np.inf, scaled)
    elif top_k is not None and (logits.shape[-1] is None or top_k < logits.shape[-1]):
        kth_largest = ops.top_k(scaled, k=top_k, sorted=True)[0][:, -1:]
        scaled = ops.where(scaled < kth_largest, -np.inf, scaled)
    if top_p is not None:
        ordered = ops.flip(ops.sort(scaled, axis=-1), axis=-1)
        probabilities = ops.softmax(ordered, axis=-1)
        mass_before = ops.cumsum(probabilities, axis=-1) - probabilities
        # The last kept token is the first whose preceding mass reaches top_p.
        kept = ops.cast(mass_before < top_p, "int32")
        cutoff = ops.take_along_axis(ordered, ops.sum(kept, axis=-1, keepdims=True) - 1, axis=-1)
        cut = scaled < cutoff
        scaled = ops.where((top_p < 1) & cut if _dynamic(top_p) else cut, -np.inf, scaled)
    sampled = backend.categorical(scaled, seed)
    return ops.where(temperature > 0, sampled, greedy)
