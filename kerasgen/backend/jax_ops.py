"""The JAX side of ``kerasgen.backend``: a seed is a raw uint32 ``jax.random`` key; ``jax.jit``."""

import jax
import jax.numpy as jnp

from kerasgen.backend.portable_ops import argmax, bias_add, gather, replica_noise, scale_for_replicas  # noqa: F401


def seed_pair(seed):
    return jnp.array([seed, 0], jnp.uint32)


def _key(seed):
    return jnp.asarray(seed).astype(jnp.uint32)


def split_seed(seed, count):
    return list(jax.random.split(_key(seed), count))


def fold_in(seed, data):
    return jax.random.fold_in(_key(seed), jnp.asarray(data, jnp.uint32))


def normal(shape, seed, dtype):
    return jax.random.normal(_key(seed), tuple(shape), dtype)


def uniform(shape, seed, dtype):
    return jax.random.uniform(_key(seed), tuple(shape), dtype)


def uniform_int(shape, seed, low, high):
    return jax.random.randint(_key(seed), tuple(shape), low, high, jnp.int32)


def categorical(logits, seed):
    return jax.random.categorical(_key(seed), jnp.asarray(logits, jnp.float32), axis=-1).astype(jnp.int32)


def has_gpu():
    return any(device.platform == "gpu" for device in jax.devices())


def compiled(fn):
    return jax.jit(fn)



def compiled_with_variables(fn, variables):
    import keras

    def stateless(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    jitted = jax.jit(stateless)

    def call(*args):
        return jitted([variable.value for variable in variables], *args)

    return call


def value_and_input_gradient(fn, x):
    value, pullback = jax.vjp(fn, x)
    return value, pullback(jnp.ones_like(value))[0]
