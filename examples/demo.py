"""The kerasgen demo: list the zoo, continue a prompt with every text model, draw every image model's samples.

    python examples/demo.py [--out out]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasgen import cli  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="folder for generated text and image grids")
    parser.add_argument("--prompt", default="ROMEO:")
    args = parser.parse_args()
    cli._quiet_tensorflow()
    from kerasgen import zoo
    from kerasgen.images import image_grid, save_png, scatter_image
    from kerasgen.models.base import ImageGenerator, TextGenerator

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cli.main(["zoo", "list"])
    for entry in zoo.list():
        model = zoo.load(entry["name"])
        if isinstance(model, TextGenerator):
            prompt = args.prompt if model.tokenizer.level == "char" else "the company said"
            text = model.generate(prompt, max_new_tokens=300, temperature=0.8, seed=0)
            (out / f"{entry['name']}.txt").write_text(text + "\n")
            print(f"\n=== {entry['name']} (temperature 0.8) ===\n{text}")
        elif isinstance(model, ImageGenerator) and model.image_shape is None:  # a density of 2-D points
            path = save_png(scatter_image(model.sample(2000, temperature=1.0, seed=0)), out / f"{entry['name']}.png")
            print(f"\n=== {entry['name']}: 2000 sampled points in {path} ===")
        elif isinstance(model, ImageGenerator):
            path = save_png(image_grid(model.sample(64, temperature=1.0, seed=0)), out / f"{entry['name']}.png")
            print(f"\n=== {entry['name']}: 64 samples in {path} ===")
    print(f"\nwrote generated text and image grids to {out}/")


if __name__ == "__main__":
    main()
