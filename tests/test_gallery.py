"""The README's gallery (docs/gallery, written by examples/gallery.py) covers the zoo: a picture per image model and a
text sample per text model, no file of an entry the zoo lacks, every file small and shown in the README."""

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasgen.models  # noqa: F401 - registers the classes the zoo's files name
from kerasgen import zoo
from kerasgen.models import ImageGenerator, TextGenerator

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
MAX_PNG_BYTES = 60 * 1024


@pytest.fixture(autouse=True)
def checkout_zoo(monkeypatch):
    monkeypatch.setenv(zoo.ZOO_DIR_ENV, str(ROOT / "zoo"))


def gallery_files():
    files = sorted(GALLERY.glob("*")) if GALLERY.is_dir() else []
    assert files, f"{GALLERY} is empty or missing: run python examples/gallery.py"
    return files


def model_class(name):
    """The class a zoo entry's file loads as, read from the archive's config without loading the weights."""
    with zipfile.ZipFile(zoo.zoo_dir() / zoo.info(name)["file"]) as archive:
        registered_name = json.loads(archive.read("config.json"))["registered_name"]
    cls = keras.saving.get_registered_object(registered_name)
    assert isinstance(cls, type), f"{name}: {registered_name} is no registered class"
    return cls


def test_every_zoo_generator_has_its_sample_in_the_gallery():
    from PIL import Image

    kinds = set()
    for name in zoo.names():
        cls = model_class(name)
        if issubclass(cls, TextGenerator):
            kinds.add("text")
            sample = GALLERY / f"{name}.txt"
            assert sample.is_file(), f"{name} has no text sample {sample}: run python examples/gallery.py"
            assert 100 < len(sample.read_text()) < 1000, name
        elif issubclass(cls, ImageGenerator):
            kinds.add("image")
            picture = GALLERY / f"{name}.png"
            assert picture.is_file(), f"{name} has no picture {picture}: run python examples/gallery.py"
            ink = np.mean(np.asarray(Image.open(picture)) < 128)
            assert 0 < ink < 0.9, f"{name}: the picture is blank or all ink"
    assert kinds == {"text", "image"}, "the zoo has text and image generators, so the gallery shows both"


def test_every_gallery_file_belongs_to_a_zoo_entry():
    names = set(zoo.names())
    for file in gallery_files():
        assert file.stem in names and file.suffix in (".png", ".txt"), f"{file.name} belongs to no zoo entry"


def test_gallery_pictures_are_small():
    pictures = [file for file in gallery_files() if file.suffix == ".png"]
    assert pictures
    for picture in pictures:
        assert picture.stat().st_size < MAX_PNG_BYTES, f"{picture.name} is {picture.stat().st_size} bytes"


def test_readme_shows_every_gallery_file():
    readme = (ROOT / "README.md").read_text()
    for file in gallery_files():
        assert f"docs/gallery/{file.name}" in readme, f"the README does not link {file.name}"
        if file.suffix == ".txt":
            assert f"```text\n{file.read_text()}```" in readme, f"the README does not quote {file.name} as it is"
