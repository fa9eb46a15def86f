"""One training run's settings, validated once: ``RunConfig``.

The command line, the zoo recipes and Python callers all build a ``RunConfig`` and hand it to ``training.train``;
every check of a setting lives here, so each caller reports a bad one the same way. ``RunConfig`` is a frozen
dataclass: ``dataclasses.replace(config, epochs=3)`` (or ``config.replace(epochs=3)``) gives a validated variant.

Defaults that depend on the data a family reads (batch size, gradient clipping, sampling temperatures) come from
``families.RUN_DEFAULTS``; a field left at None (``"auto"`` for ``clipnorm`` and ``checkpoint_every``) takes them.
"""

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from kerasgen import families
from kerasgen.checks import InvalidArgument, check_positive_int, check_real, parse_duration
from kerasgen.training.schedules import EPOCH_SCHEDULES, OPTIMIZERS, STEP_SCHEDULES, check_rate_changes

LEVELS = ("char", "word")
POINT_SETS = ("moons",)
CHECKPOINT_EVERY = 600.0  # seconds between checkpoints within an epoch, unless told otherwise


class ConfigError(InvalidArgument):
    """A bad setting of a run. Its message names settings as ``{field}``, spelled as the caller spells them:
    ``str(error)`` uses the Python names, ``error.spelled(flags)`` a command line's flags."""

    def __init__(self, template):
        self.template = template
        super().__init__(self.spelled(lambda name: name))

    def spelled(self, spell):
        """The message with each ``{field}`` written as ``spell(field)``."""
        return re.sub(r"\{(\w+)\}", lambda m: spell(m[1]) if m[1] in _FIELDS else m[0], self.template)

    def as_flags(self, flags=None):
        """The message as a command line says it: ``max_time`` as ``--max-time``, unless ``flags`` names another."""
        return self.spelled(lambda name: (flags or {}).get(name, "--" + name.replace("_", "-")))


class ConfigTypeError(ConfigError, TypeError):
    """A setting of the wrong type."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What one ``training.train`` run does; see ``training.train`` for each setting's meaning."""

    family: Any
    data: Any = None
    data_dir: Any = None
    epochs: int = 10
    batch_size: Any = None
    steps_per_epoch: Any = None
    learning_rate: float = 1e-3
    schedule: Any = "constant"
    warmup_steps: int = 0
    optimizer: str = "adam"
    clipnorm: Any = "auto"
    global_clipnorm: Any = None
    weight_decay: float = 0.0
    init: Any = None
    model_kwargs: Any = None
    logdir: Any = None
    backup_dir: Any = None
    out: Any = None
    policy: str = "auto"
    strategy: Any = "default"
    temperatures: Any = None
    prompt: Any = None
    seed: int = 0
    verbose: Any = "auto"
    level: str = "char"
    seq_len: int = 128
    max_vocab: int = 10000
    carry_state: bool = False
    random_offsets: bool = False
    extend_vocabulary: bool = False
    image_size: Any = None
    conditional: bool = False
    max_time: Any = None
    checkpoint_every: Any = "auto"

    def __post_init__(self):
        try:
            self._resolve()
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:  # a check of kerasgen.checks, which names the field
            kind = ConfigTypeError if isinstance(error, TypeError) else ConfigError
            raise kind(_field_names(str(error))) from None

    def replace(self, **changes):
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def kind(self):
        """``families.TEXT``, ``IMAGES`` or ``POINTS``: what the run's data holds."""
        if self.family.kind == families.TEXT:
            return families.TEXT
        return families.POINTS if self.data in POINT_SETS else families.IMAGES

    def _set(self, **values):
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _resolve(self):
        family = families.get(self.family)
        self._set(family=family, data=family.default_data if self.data is None else self.data)
        kind = self.kind
        if not family.reads(kind):
            readers = [name for name in families.names() if families.get(name).reads(kind)]
            raise ConfigError(f"{{data}} {self.data!r} holds {'2-D points' if kind == families.POINTS else 'images'}, "
                              f"which the {family.name} family does not model (use {', '.join(readers) or 'none'})")
        defaults = families.RUN_DEFAULTS[kind]
        self._set(
            epochs=check_positive_int(self.epochs, "epochs"),
            batch_size=check_positive_int(defaults["batch_size"] if self.batch_size is None else self.batch_size,
                                          "batch_size"),
            steps_per_epoch=None if self.steps_per_epoch is None else check_positive_int(self.steps_per_epoch,
                                                                                         "steps_per_epoch"),
            learning_rate=check_real(self.learning_rate, "learning_rate", 0, open_below=True),
            warmup_steps=check_positive_int(self.warmup_steps, "warmup_steps", minimum=0),
            clipnorm=self._clip(defaults["clipnorm"] if self.clipnorm == "auto" else self.clipnorm, "clipnorm"),
            global_clipnorm=self._clip(self.global_clipnorm, "global_clipnorm"),
            weight_decay=check_real(self.weight_decay, "weight_decay", 0),
            temperatures=tuple(check_real(t, "temperatures", 0, open_below=True) for t in
                               (defaults["temperatures"] if self.temperatures is None else self.temperatures)),
            seed=check_positive_int(self.seed, "seed", minimum=0),
            seq_len=check_positive_int(self.seq_len, "seq_len"),
            max_vocab=check_positive_int(self.max_vocab, "max_vocab", minimum=2),
            model_kwargs=dict(self.model_kwargs or {}),
            max_time=None if self.max_time is None else parse_duration(self.max_time, "max_time"),
            checkpoint_every=(CHECKPOINT_EVERY if self.checkpoint_every == "auto" else None
                              if self.checkpoint_every is None else parse_duration(self.checkpoint_every,
                                                                                   "checkpoint_every")),
            backup_dir=self.backup_dir or (os.path.join(self.logdir, "backup") if self.logdir else None),
        )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"{{optimizer}} must be {' or '.join(map(repr, OPTIMIZERS))}, got {self.optimizer!r}")
        self._check_schedule()
        self._check_data_settings()
        if self.conditional and (not family.conditional or kind != families.IMAGES):
            able = [f.name for f in map(families.get, families.names()) if f.conditional]
            raise ConfigError(f"{family.name} on {kind} has no class-conditional form (conditional families: "
                              f"{', '.join(able) or 'none'})")
        if self.out is not None:
            if not str(self.out).endswith(".keras"):
                raise ConfigError(f"{{out}} must be a path ending in .keras, got {str(self.out)!r}")
            check_writable(Path(self.out).parent, "out folder")
        if self.max_time is not None and not self.backup_dir:
            raise ConfigError("{max_time} needs {logdir}: the stopped run's checkpoint goes there")

    @staticmethod
    def _clip(value, name):
        return None if value is None else check_real(value, name, 0, open_below=True)

    def _check_schedule(self):
        schedule = self.schedule
        if isinstance(schedule, dict):
            check_rate_changes(schedule)
        elif not isinstance(schedule, str) or schedule not in (*STEP_SCHEDULES, *EPOCH_SCHEDULES):
            raise ConfigError(f"{{schedule}} must be one of {', '.join((*STEP_SCHEDULES, *EPOCH_SCHEDULES))} or an "
                              f"{{epoch: rate}} dict; got {schedule!r}")
        if schedule != "constant" and not self.family.epoch_schedules:
            raise ConfigError(f"{{schedule}} {schedule!r} needs a single optimizer; {self.family.name} trains "
                              "several (use 'constant')")

    def _check_data_settings(self):
        family = self.family
        if self.kind == families.TEXT:
            if self.level not in LEVELS:
                raise ConfigError(f"{{level}} must be one of {', '.join(LEVELS)}; got {self.level!r}")
            if self.image_size is not None:
                raise ConfigError(f"{{image_size}} applies to image models, not to {family.name}")
            if self.extend_vocabulary and not self.init:
                raise ConfigError("{extend_vocabulary} grows the vocabulary of a text model given by {init}")
            if self.random_offsets and self.carry_state:
                raise ConfigError("{random_offsets} cuts windows anew each epoch; {carry_state} reads contiguous "
                                  "streams instead: choose one")
        else:
            if self.carry_state:
                raise ConfigError(f"{{carry_state}} applies to text models, not to {family.name}")
            if self.random_offsets:
                raise ConfigError(f"{{random_offsets}} applies to text models, not to {family.name}")
            if self.extend_vocabulary:
                raise ConfigError("{extend_vocabulary} grows the vocabulary of a text model given by {init}")
            if self.image_size is not None:
                size = self.image_size
                if isinstance(size, (str, bytes)) or not isinstance(size, (tuple, list)) or len(size) != 2:
                    raise ConfigError(f"{{image_size}} must be (height, width), got {size!r}")
                self._set(image_size=tuple(check_positive_int(s, "image_size") for s in size))


_FIELDS = frozenset(field.name for field in dataclasses.fields(RunConfig))


def _field_names(message):
    """A check's message with the field it names at the start written as ``{field}``."""
    name = message.split(" ", 1)[0]
    return f"{{{name}}}{message[len(name):]}" if name in _FIELDS else message


def check_writable(directory, name="log dir"):
    """``directory`` exists (made if need be) and takes files, or a one-line error naming it."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise InvalidArgument(f"{name} {str(directory)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".kerasgen-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise InvalidArgument(f"{name} {str(directory)!r} is not writable: {error.strerror}") from None
