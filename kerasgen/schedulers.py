"""Diffusion samplers as objects apart from the network, as in diffusers: one trained network, several schedulers.

A scheduler says which timesteps a chain of ``steps`` visits (``timesteps``) and
makes one update x_t -> x_prev (``step``) from the clean image and noise that the
network's prediction implies at x_t, given the noise schedule's ``alpha_bar`` at t
and at the next timestep visited (1 after the last). ``DiffusionModel.sample``
takes a scheduler or its name::

    model.sample(16, sampler=DDIMScheduler(eta=0.5))   # the same as sampler="ddim", eta=0.5
    DDIMScheduler.from_config(DDIMScheduler(eta=0.5).get_config())   # == DDIMScheduler(eta=0.5)
"""

import numpy as np
from keras import ops

from kerasgen.checks import InvalidArgument, WrongType, check_real

SPACINGS = ("trailing",)


def sampling_timesteps(steps, timesteps):
    """``steps`` evenly spaced timesteps, descending from ``timesteps - 1`` (the "trailing" spacing).

    ``steps == timesteps`` is the full chain T-1, ..., 0; fewer steps stride it.
    Starting at the last timestep means sampling starts from pure noise.
    """
    return np.array([(steps - i) * timesteps // steps - 1 for i in range(steps)], np.int32)


def ddim_step(x0, predicted_noise, alpha_bar, alpha_bar_prev, eta, noise):
    """One DDIM update to x_prev (Song et al., 2021, eq. 12) from the clean image and noise estimated at x_t.

    ``eta=0`` is deterministic, 1 is DDPM.
    """
    sigma = eta * ops.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev))
    direction = ops.sqrt(ops.maximum(1 - alpha_bar_prev - sigma**2, 0.0)) * predicted_noise
    return ops.sqrt(alpha_bar_prev) * x0 + direction + sigma * noise


def ddpm_step(x, x0, alpha_bar, alpha_bar_prev, noise):
    """One ancestral DDPM update: a draw from the posterior q(x_prev | x_t, x_0) at the estimated clean image x0.

    With strided timesteps the step's beta is ``1 - alpha_bar / alpha_bar_prev``;
    the variance is the posterior's (beta tilde), zero on the last step.
    """
    beta = 1 - alpha_bar / alpha_bar_prev
    mean = (ops.sqrt(alpha_bar_prev) * beta * x0 + ops.sqrt(1 - beta) * (1 - alpha_bar_prev) * x) / (1 - alpha_bar)
    return mean + ops.sqrt(beta * (1 - alpha_bar_prev) / (1 - alpha_bar)) * noise


class Scheduler:
    """What every scheduler offers: ``timesteps``, ``step``, ``eta``, and a config that rebuilds it.

    ``eta`` is the share of the posterior's noise an update adds (0: none, 1: DDPM's).
    ``step`` also takes it as an argument, so that the compiled sampling loop can feed it
    as a tensor; schedulers whose update has a fixed noise ignore that argument.
    Schedulers with equal configs are equal (and hash alike), so a model can cache one
    compiled step per scheduler.
    """

    name = None
    settings = ()  # the constructor's arguments, all kept in the config

    def timesteps(self, steps, train_timesteps):
        """The ``steps`` timesteps to visit, descending, for a schedule of ``train_timesteps``: int32 array."""
        return sampling_timesteps(steps, train_timesteps)

    def step(self, x, x0, predicted_noise, alpha_bar, alpha_bar_prev, noise, eta=None):
        """x_prev from x_t (``x``), the clean image and noise estimated there, and standard normal ``noise``."""
        raise NotImplementedError

    def get_config(self):
        return {name: getattr(self, name) for name in self.settings}

    @classmethod
    def from_config(cls, config):
        _check_settings(cls, config)
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class DDPMScheduler(Scheduler):
    """Ancestral sampling (Ho et al., 2020): each update draws from the posterior at the estimated clean image.

    It equals DDIM with ``eta=1`` (``eta`` is fixed, not a setting); ``steps`` equal to
    the model's ``timesteps`` is the full chain, fewer steps stride it.

    Example:
    >>> model.sample(16, steps=1000, sampler=DDPMScheduler(), seed=0)
    """

    name = "ddpm"
    eta = 1.0

    def step(self, x, x0, predicted_noise, alpha_bar, alpha_bar_prev, noise, eta=None):
        return ddpm_step(x, x0, alpha_bar, alpha_bar_prev, noise)


class DDIMScheduler(Scheduler):
    """DDIM (Song et al., 2021): with ``eta=0`` deterministic given the initial noise, so few steps suffice.

    Args:
        eta: the share of the posterior's noise each update adds, in [0, 1]; 1 draws like DDPM.
        spacing: how the timesteps are spread: ``"trailing"``, evenly from the last
            timestep (pure noise) down.

    Example:
    >>> model.sample(16, steps=50, sampler=DDIMScheduler(eta=0.5), seed=0)
    """

    name = "ddim"
    settings = ("eta", "spacing")

    def __init__(self, eta=0.0, spacing="trailing"):
        self.eta = check_real(eta, "eta", 0, 1)
        if spacing not in SPACINGS:
            raise InvalidArgument(f"spacing must be one of {', '.join(SPACINGS)}; got {spacing!r}")
        self.spacing = spacing

    def step(self, x, x0, predicted_noise, alpha_bar, alpha_bar_prev, noise, eta=None):
        return ddim_step(x0, predicted_noise, alpha_bar, alpha_bar_prev, self.eta if eta is None else eta, noise)


SCHEDULERS = {scheduler.name: scheduler for scheduler in (DDIMScheduler, DDPMScheduler)}


def from_name(name, **settings):
    """The scheduler called ``name`` ("ddim" or "ddpm") with ``settings``, e.g. ``from_name("ddim", eta=0.5)``."""
    if not isinstance(name, str):
        raise WrongType(f"sampler must be a name ({', '.join(SCHEDULERS)}) or a scheduler, got {type(name).__name__}")
    if name not in SCHEDULERS:
        raise InvalidArgument(f"sampler must be one of {', '.join(SCHEDULERS)} or a scheduler; got {name!r}")
    return SCHEDULERS[name].from_config(settings)


def get(sampler, **settings):
    """``sampler`` if it is a scheduler (``settings`` must then be empty), else ``from_name(sampler, **settings)``."""
    if isinstance(sampler, Scheduler):
        if settings:
            setting = next(iter(settings))
            raise InvalidArgument(
                f"{setting} is a setting of the scheduler object: give {type(sampler).__name__}({setting}=...) "
                f"as the sampler, not {setting}= beside it"
            )
        return sampler
    return from_name(sampler, **settings)


def _check_settings(scheduler_class, settings):
    """One line naming the first of ``settings`` that ``scheduler_class`` does not take, and who takes it."""
    for key in settings:
        if key not in scheduler_class.settings:
            takers = [name for name, other in SCHEDULERS.items() if key in other.settings]
            where = f"sampler {' or '.join(map(repr, takers))} only" if takers else "no sampler"
            raise InvalidArgument(f"{key} applies to {where}, not {scheduler_class.name!r}")
