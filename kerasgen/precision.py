"""Mixed-precision policy selection (the loss scaling a custom train step needs is ``kerasgen.models.optimizers``).

Models keep their outputs that feed losses in float32 (``dtype="float32"`` on
the last layer), so every policy below trains with float32 losses.
"""

import keras

from kerasgen import backend
from kerasgen.checks import InvalidArgument

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16", "bfloat16", "float16")


def cpu_supports_bfloat16():
    """True when the CPU has native bf16 arithmetic (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_policy():
    """``mixed_float16`` where a GPU is visible, ``mixed_bfloat16`` on bf16 CPUs, else ``float32``."""
    if backend.has_gpu():
        return "mixed_float16"
    if cpu_supports_bfloat16():
        return "mixed_bfloat16"
    return "float32"


def set_policy(name="auto"):
    """Set the global Keras dtype policy and return its name (``auto`` picks one for this machine)."""
    if name == "auto":
        name = auto_policy()
    if name not in POLICIES:
        raise InvalidArgument(f"policy must be 'auto' or one of {', '.join(POLICIES)}; got {name!r}")
    keras.mixed_precision.set_dtype_policy(name)
    return name
