"""Regenerate the README's gallery in docs/gallery: the demo's samples, with text samples a few hundred characters
long. Fixed seeds make every file the same on every run.

    python examples/gallery.py [--out docs/gallery]
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
# The gallery shows this checkout's zoo, drawn by this checkout's kerasgen, whatever copy of the package is installed.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KERASGEN_ZOO_DIR", str(ROOT / "zoo"))

from demo import write_samples  # noqa: E402  (the demo beside this file: the gallery is its samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(GALLERY), help="the gallery folder")
    args = parser.parse_args()
    from kerasgen import zoo

    out = Path(args.out)
    write_samples(out, max_new_chars=300, max_new_words=50)
    names = set(zoo.names())
    strays = sorted(path.name for path in out.iterdir() if path.stem not in names)
    if strays:
        print(f"\nthese files in {out} belong to no zoo entry; remove them: {', '.join(strays)}")
    total = sum(path.stat().st_size for path in out.iterdir())
    print(f"\nwrote the gallery to {out}/ ({total / 1024:.0f} KB); the README's zoo section shows it")


if __name__ == "__main__":
    main()
