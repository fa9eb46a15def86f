"""The README's zoo table is the one the zoo's own cards produce; its demo command runs over the whole zoo."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from kerasgen import cli, zoo

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_zoo_table_matches_the_cards(capsys, monkeypatch):
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(README.parent / "zoo"))
    assert cli.main(["zoo", "list", "--markdown"]) == 0
    table = capsys.readouterr().out.strip()
    assert table.count("\n") >= 2, "the zoo has entries, so the table has rows"
    readme_table = re.search(r"^\| name \| family .*?(?=\n\n)", README.read_text(), flags=re.M | re.S).group(0)
    assert readme_table.strip() == table


def test_demo_writes_text_or_a_picture_for_every_zoo_entry(tmp_path):
    import kerasgen

    env = {**os.environ, "PYTHONPATH": str(Path(kerasgen.__file__).parents[1])}  # the kerasgen under test
    result = subprocess.run([sys.executable, str(README.parent / "examples" / "demo.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    for entry in zoo.list():
        text, picture = tmp_path / f"{entry['name']}.txt", tmp_path / f"{entry['name']}.png"
        if entry["family"] == "classifier":  # the evaluation network: it generates nothing
            assert not text.exists() and not picture.exists()
        elif entry["family"] in ("lstm", "gpt"):
            assert len(text.read_text().split()) > 20, entry["name"]
        else:
            image = np.asarray(Image.open(picture))
            assert image.shape[0] > 28 and 0 < np.mean(image < 128) < 0.9, entry["name"]  # not blank, not all ink
