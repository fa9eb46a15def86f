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


def test_demo_writes_text_or_a_picture_for_every_zoo_entry_and_the_classifiers_verdicts(tmp_path):
    import kerasgen

    env = {**os.environ, "PYTHONPATH": str(Path(kerasgen.__file__).parents[1])}  # the kerasgen under test
    result = subprocess.run([sys.executable, str(README.parent / "examples" / "demo.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    verdict = r"(\d+)/(\d+) \(\d+%\) with probability >= 0\.9; per class 0-9:((?: +\d+){10})$"
    for entry in zoo.list():
        text, picture = tmp_path / f"{entry['name']}.txt", tmp_path / f"{entry['name']}.png"
        if entry["family"] == "classifier":  # an evaluation network: it judges its data set's image models' samples
            assert not picture.exists()
            assert f"=== {entry['name']}: a classifier of (28, 28, 1) images into 10 classes" in result.stdout
            dataset = entry["dataset"].split(" ")[0]
            judged = {}
            for line in text.read_text().splitlines()[1:]:
                if line == "no image model's samples fit it":
                    break
                name, rest = line.split(maxsplit=1)
                confident, total, counts = map(str.split, re.fullmatch(verdict, rest).groups())
                conditional = getattr(zoo.load(name), "num_classes", None) is not None
                assert int(total[0]) == (80 if conditional else 64), line  # 8 of each of 10 classes, or 64
                assert sum(map(int, counts)) == int(total[0]) and 0 <= int(confident[0]) <= int(total[0]), line
                assert line in result.stdout, "the demo prints the verdicts it writes"
                judged[name] = int(confident[0]) / int(total[0])
            grids = {other["name"] for other in zoo.list() if other["dataset"].split(" ")[0] == dataset
                     and (tmp_path / f"{other['name']}.png").exists()}
            assert set(judged) == grids and "realnvp-moons" not in judged, "every image model of its data set, no other"
            if entry["name"] == "mnist-classifier":
                assert judged["diffusion-mnist"] > judged["realnvp-mnist"], "the best model's digits look most like digits"
        elif entry["family"] in ("lstm", "gpt"):
            assert len(text.read_text().split()) > 20, entry["name"]
        else:
            image = np.asarray(Image.open(picture))
            assert image.shape[0] > 28 and 0 < np.mean(image < 128) < 0.9, entry["name"]  # not blank, not all ink


def test_the_shipped_zoo_stays_under_60_mb(monkeypatch):
    """The repository stays small: every entry's weights and card together under 60 MB (issue 27's budget)."""
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(README.parent / "zoo"))
    entries = zoo.list()
    assert entries and all(entry["size"] for entry in entries), "every card names a weights file that is there"
    cards = sum(path.stat().st_size for path in (README.parent / "zoo").glob("*.json"))
    total = sum(entry["size"] for entry in entries) + cards
    assert total < 60 * 10**6, f"the zoo's {len(entries)} entries take {total / 1e6:.1f} MB"
