"""The model zoo: cards, checksums, loading and publishing.

Each entry is ``zoo/<name>.keras`` beside ``zoo/<name>.json``, its card::

    name, family, dataset, file, sha256, parameters,
    metric {name, value, ...evaluation arguments}, command, training_time, hardware, notes

``load`` verifies the sha256 before it loads with ``safe_mode=True``.
"""

import difflib
import hashlib
import json
import os
from pathlib import Path

from kerasgen.checks import InvalidArgument, KerasgenError

ZOO_DIR_ENV = "KERASGEN_ZOO_DIR"


class ChecksumError(InvalidArgument):
    """A zoo file does not match the sha256 on its card."""


class UnknownModelError(KerasgenError, KeyError, ValueError):
    """No zoo entry has this name (a KeyError, and a ValueError like every other bad argument)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def zoo_dir():
    """Where the zoo lives: ``$KERASGEN_ZOO_DIR``, the installed package data, or the checkout's ``zoo/``."""
    if os.environ.get(ZOO_DIR_ENV):
        return Path(os.environ[ZOO_DIR_ENV])
    try:
        import kerasgen.zoo_files as installed

        return Path(installed.__file__).parent
    except ImportError:
        return Path(__file__).resolve().parent.parent / "zoo"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cards():
    root = zoo_dir()
    cards = {}
    for path in sorted(root.glob("*.json")):
        card = json.loads(path.read_text())
        cards[card["name"]] = card
    return cards


def list():  # noqa: A001 - the public name the zoo is known by
    """All cards, sorted by name, each with its file size in bytes as ``size``."""
    entries = []
    for card in _cards().values():
        path = zoo_dir() / card["file"]
        entries.append({**card, "size": path.stat().st_size if path.exists() else None})
    return entries


def names():
    return sorted(_cards())


def info(name):
    """The card of ``name``; an unknown name is a KeyError listing the closest names."""
    cards = _cards()
    if name not in cards:
        close = difflib.get_close_matches(str(name), cards, n=3, cutoff=0.3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(sorted(cards)) or 'none'}"
        raise UnknownModelError(f"unknown zoo model {name!r}{hint}")
    return cards[name]


def path(name):
    """Path of the entry's ``.keras`` file, after checking it matches its card's sha256."""
    card = info(name)
    file = zoo_dir() / card["file"]
    if not file.exists():
        raise FileNotFoundError(f"zoo file {file} named by the card of {name!r} is missing")
    actual = sha256(file)
    if actual != card["sha256"] and not _finish_publish(name, actual):
        raise ChecksumError(
            f"zoo file {file} has sha256 {actual[:12]}..., its card records {card['sha256'][:12]}...: "
            "the file was changed or corrupted"
        )
    return file


def load(name):
    """The model of zoo entry ``name`` (sha256 verified, loaded with ``safe_mode=True``)."""
    return _load_file(path(name))


def load_model(name_or_path):
    """A zoo entry by name, or any ``.keras`` file by path (loaded with ``safe_mode=True``)."""
    text = str(name_or_path)
    if text.endswith(".keras"):
        file = Path(text)
        if not file.is_file():
            raise FileNotFoundError(f"model file {file} does not exist")
        return _load_file(file)
    if os.sep in text or Path(text).is_file():
        raise InvalidArgument(f"model file {text} is not a .keras file (kerasgen saves and loads models as .keras)")
    return load(text)


def _load_file(file):
    """A ``.keras`` file loaded with ``safe_mode=True``; one-line ValueErrors for files keras cannot or may not load."""
    import zipfile

    import keras

    import kerasgen.models  # noqa: F401 - registers the classes the file names
    from kerasgen.saving import float32_copy

    if not zipfile.is_zipfile(file):
        raise InvalidArgument(f"model file {file} is not a .keras archive: it is truncated, corrupted or "
                              "another format")
    try:
        model = keras.saving.load_model(file, safe_mode=True)
    except (ValueError, TypeError) as error:  # keras's words for a file it cannot rebuild
        if "safe_mode" in str(error):  # a Lambda layer or another piece of arbitrary code
            raise InvalidArgument(f"model file {file} is refused: it holds Python code (such as a Lambda layer), "
                                  "which loading with safe_mode=True does not run; use registered layers") from None
        if isinstance(error, KerasgenError):
            raise
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InvalidArgument(f"model file {file} cannot be loaded: {first_line}") from error
    # Files stored in float16 (the zoo's storage="float16") or saved under a mixed policy run as float32 models.
    return float32_copy(model)


def publish(model, name, card, directory=None, storage="float32"):
    """Write ``model`` as zoo entry ``name``, then its card with sha256 and size.

    ``card`` holds the rest of the card (family, dataset, metric, command, ...).
    ``storage`` is the weights' dtype in the file: ``float32``, or ``float16``
    for half the size (``load`` returns a float32 model either way; measure the
    card's figure on the loaded file). The file holds no optimizer state. Both files are written to temporary
    names and renamed, so an interrupted publish never leaves a half-written entry.
    """
    from kerasgen.saving import policy_copy, staged_save

    if storage not in ("float32", "float16"):
        raise InvalidArgument(f"storage must be 'float32' or 'float16', got {storage!r}")
    root = Path(directory) if directory else zoo_dir()
    root.mkdir(parents=True, exist_ok=True)
    exported = policy_copy(model, storage, fresh=True)  # uncompiled: the weights without optimizer state
    file = root / f"{name}.keras"
    # The new card is staged before the weights are renamed into place and renamed right after; a kill
    # between the two renames is finished by the next ``path(name)`` (see ``_finish_publish``).
    with staged_save(exported, file) as staged:
        full = {
            "name": name,
            **card,
            "file": file.name,
            "sha256": sha256(staged),
            "parameters": int(exported.count_params()),
            "storage": storage,
        }
        pending = _stage_card(full, root)
    os.replace(pending, root / f"{name}.json")
    return full


def write_card(card, directory=None):
    """Write ``<name>.json`` through a temporary file and a rename; returns the card."""
    root = Path(directory) if directory else zoo_dir()
    os.replace(_stage_card(card, root), root / f"{card['name']}.json")
    return card


def _stage_card(card, root):
    pending = Path(root) / f".{card['name']}.json.tmp"
    with open(pending, "w") as f:
        f.write(json.dumps(card, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return pending


def _finish_publish(name, actual_sha256):
    """Complete a publish killed between renaming the weights and the card; True if that explains the mismatch."""
    pending = zoo_dir() / f".{name}.json.tmp"
    try:
        card = json.loads(pending.read_text())
        if card.get("name") != name or card.get("sha256") != actual_sha256:
            return False
        os.replace(pending, zoo_dir() / f"{name}.json")
    except (OSError, ValueError):
        return False
    return True
