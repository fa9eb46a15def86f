"""The README's zoo table is the one the zoo's own cards produce."""

import re
from pathlib import Path

from kerasgen import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_zoo_table_matches_the_cards(capsys, monkeypatch):
    monkeypatch.setenv("KERASGEN_ZOO_DIR", str(README.parent / "zoo"))
    assert cli.main(["zoo", "list", "--markdown"]) == 0
    table = capsys.readouterr().out.strip()
    assert table.count("\n") >= 2, "the zoo has entries, so the table has rows"
    readme_table = re.search(r"^\| name \| family .*?(?=\n\n)", README.read_text(), flags=re.M | re.S).group(0)
    assert readme_table.strip() == table
