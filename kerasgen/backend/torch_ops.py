"""The PyTorch side of ``kerasgen.backend``: a seed is a pair of ints in an int64 tensor that seeds a
``torch.Generator`` for each draw; functions run eagerly."""

import torch

from kerasgen.backend.portable_ops import argmax, bias_add, gather, replica_noise, scale_for_replicas  # noqa: F401

_MIX = 0x9E3779B97F4A7C15  # splitmix64's increment: derived seeds stay far apart


def get_device():
    """Where Keras's torch backend puts tensors: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_pair(seed):
    return torch.tensor([seed, 0], dtype=torch.int64)


def _mix(*values):
    state = 0
    for value in values:
        state = (state * 6364136223846793005 + int(value) + _MIX) % 2**64
        state ^= state >> 31
    return state % 2**63


def _generator(seed):
    a, b = (int(value) for value in seed)
    generator = torch.Generator(device=get_device())
    generator.manual_seed(_mix(a, b))
    return generator


def split_seed(seed, count):
    a, b = (int(value) for value in seed)
    return [torch.tensor([_mix(a, b, index, 1) % 2**31, _mix(a, b, index, 2) % 2**31]) for index in range(count)]


def fold_in(seed, data):
    a, b = (int(value) for value in seed)
    return torch.tensor([_mix(a, b, int(data), 3) % 2**31, _mix(a, b, int(data), 4) % 2**31])


def normal(shape, seed, dtype):
    return torch.randn(tuple(int(s) for s in shape), generator=_generator(seed), device=get_device(),
                       dtype=getattr(torch, dtype))


def uniform(shape, seed, dtype):
    return torch.rand(tuple(int(s) for s in shape), generator=_generator(seed), device=get_device(),
                      dtype=getattr(torch, dtype))


def uniform_int(shape, seed, low, high):
    return torch.randint(int(low), int(high), tuple(int(s) for s in shape), generator=_generator(seed),
                         device=get_device(), dtype=torch.int32)


def categorical(logits, seed):
    probabilities = torch.softmax(torch.as_tensor(logits).float(), dim=-1)
    return torch.multinomial(probabilities, 1, generator=_generator(seed))[:, 0].to(torch.int32)


def has_gpu():
    return torch.cuda.is_available()


def compiled(fn):
    return fn



def compiled_with_variables(fn, variables):
    return fn


def value_and_input_gradient(fn, x):
    x = x.detach().requires_grad_(True)
    value = fn(x)
    (gradient,) = torch.autograd.grad(value.float().sum(), x, create_graph=True)  # differentiable in its turn
    return value, gradient
