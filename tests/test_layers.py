"""The README's layer table is the truth: every kerasgen module imports only from its own layer and those above it
in the table, and every module has a row."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kerasgen"


def layer_table(readme):
    """[(layer, [module patterns])] in the table's order; a pattern ending in "/" is a package and what it holds."""
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| layer")]
    table = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if set(cells[0]) <= {"-", " "}:
            continue
        patterns = re.findall(r"`([\w./]+)`", cells[1])
        if "the `kerasgen` package" in cells[1]:
            patterns.append("kerasgen")
        table.append((cells[0], [p for p in patterns if not p.endswith(".py")]))
    return table


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path):
    """The kerasgen modules ``path`` imports, anywhere in it (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kerasgen":
            if node.module != "kerasgen":
                found.add(node.module)
                continue
            for alias in node.names:  # a module of the package, or one of its attributes (__version__)
                submodule = PACKAGE / alias.name
                is_module = submodule.is_dir() or submodule.with_suffix(".py").is_file()
                found.add(f"kerasgen.{alias.name}" if is_module else "kerasgen")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "kerasgen"}
    return found


def layer_of(module, table):
    """The table position of ``module`` (``kerasgen.x.y``), or None when no row names it."""
    short = module[len("kerasgen."):] if module != "kerasgen" else "kerasgen"
    for index, (_, patterns) in enumerate(table):
        for pattern in patterns:
            package = pattern.rstrip("/")
            if short == pattern or (pattern.endswith("/") and (short == package or short.startswith(package + "."))):
                return index
    return None


def violations(table, modules):
    """Lines naming each import that goes down the table, and each module without a row."""
    found = []
    for module, path in modules.items():
        own = layer_of(module, table)
        if own is None:
            found.append(f"{module} has no row in the README's layer table")
            continue
        for target in sorted(imports(path)):
            if target == "kerasgen.zoo_files":  # the zoo's data files, packaged as a module
                continue
            theirs = layer_of(target, table)
            if theirs is None or theirs > own:
                found.append(f"{module} ({table[own][0]}) imports {target} "
                             f"({'no row' if theirs is None else table[theirs][0]})")
    return found


def test_every_module_imports_only_its_own_layer_and_those_above_it():
    table = layer_table((ROOT / "README.md").read_text())
    assert [name for name, _ in table] == ["foundation", "data and sampling", "building blocks", "models", "storage",
                                           "training", "evaluation", "entry points"]
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    assert len(modules) > 40
    assert violations(table, modules) == []


def test_the_check_fails_when_a_model_imports_the_training_layer(tmp_path):
    table = layer_table((ROOT / "README.md").read_text())
    model = tmp_path / "kerasgen" / "models" / "bad.py"
    model.parent.mkdir(parents=True)
    model.write_text("from kerasgen import backend, distribute\n\ndef noise():\n    from kerasgen.zoo import load\n")
    found = violations(table, {"kerasgen.models.bad": model, "kerasgen.nowhere": model})
    assert found == ["kerasgen.models.bad (models) imports kerasgen.distribute (training)",
                     "kerasgen.models.bad (models) imports kerasgen.zoo (storage)",
                     "kerasgen.nowhere has no row in the README's layer table"]
