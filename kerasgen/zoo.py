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

ZOO_DIR_ENV = "KERASGEN_ZOO_DIR"


class ChecksumError(ValueError):
    """A zoo file does not match the sha256 on its card."""


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
        raise KeyError(f"unknown zoo model {name!r}{hint}")
    return cards[name]


def path(name):
    """Path of the entry's ``.keras`` file, after checking it matches its card's sha256."""
    card = info(name)
    file = zoo_dir() / card["file"]
    if not file.exists():
        raise FileNotFoundError(f"zoo file {file} named by the card of {name!r} is missing")
    actual = sha256(file)
    if actual != card["sha256"]:
        raise ChecksumError(
            f"zoo file {file} has sha256 {actual[:12]}..., its card records {card['sha256'][:12]}...: "
            "the file was changed or corrupted"
        )
    return file


def load(name):
    """The model of zoo entry ``name`` (sha256 verified, loaded with ``safe_mode=True``)."""
    file = path(name)
    import keras

    import kerasgen.models  # noqa: F401 - registers the classes the file names

    return keras.saving.load_model(file, safe_mode=True)


def load_model(name_or_path):
    """A zoo entry by name, or any ``.keras`` file by path (loaded with ``safe_mode=True``)."""
    if str(name_or_path).endswith(".keras"):
        file = Path(name_or_path)
        if not file.is_file():
            raise FileNotFoundError(f"model file {file} does not exist")
        import keras

        import kerasgen.models  # noqa: F401

        return keras.saving.load_model(file, safe_mode=True)
    return load(name_or_path)


def measure(model, metric, data_dir=None):
    """The value of a card's ``metric`` spec ({key, args}) for ``model``; a named classifier is loaded from the zoo."""
    from kerasgen import metrics

    args = dict(metric.get("args", {}))
    if "classifier" in args:
        args["classifier"] = load(args["classifier"])
    return metrics.evaluate(model, metric["key"], data_dir=data_dir, **args)


def evaluate(name, data_dir=None):
    """Recompute the card's metric; returns (card value, measured value)."""
    card = info(name)
    return card["metric"]["value"], measure(load(name), card["metric"], data_dir)


def publish(model, name, card, directory=None):
    """Write ``model`` as zoo entry ``name`` with float32 weights, then its card with sha256 and size.

    ``card`` holds the rest of the card (family, dataset, metric, command, ...).
    Both files are written to temporary names and renamed, so an interrupted
    publish never leaves a half-written entry.
    """
    from kerasgen.saving import atomic_save, float32_copy

    root = Path(directory) if directory else zoo_dir()
    root.mkdir(parents=True, exist_ok=True)
    exported = float32_copy(model)
    file = root / f"{name}.keras"
    atomic_save(exported, file)
    full = {
        "name": name,
        **card,
        "file": file.name,
        "sha256": sha256(file),
        "parameters": int(exported.count_params()),
    }
    return write_card(full, root)


def write_card(card, directory=None):
    """Write ``<name>.json`` through a temporary file and a rename; returns the card."""
    root = Path(directory) if directory else zoo_dir()
    tmp = root / f".{card['name']}.json.tmp"
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, root / f"{card['name']}.json")
    return card
