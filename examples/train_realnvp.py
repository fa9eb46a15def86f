"""Train a RealNVP normalizing flow on MNIST (or 2-D two moons) with plain model.fit.

    KERASGEN_DATA_DIR=/path/to/data python examples/train_realnvp.py --epochs 5 --logdir runs/realnvp
    python examples/train_realnvp.py --moons --epochs 30 --logdir runs/moons
    tensorboard --logdir runs/realnvp     # loss and bits/dim curves, samples at temperatures 0.7 and 1.0

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch.
"""

import argparse
import os

import keras
import numpy as np

import kerasgen as kg
from kerasgen.images import save_png
from kerasgen.models.realnvp import RealNVP
from kerasgen.toy_data import make_moons


def train_mnist(args):
    kg.precision.set_policy("auto")  # mixed_bfloat16 on CPUs with bf16, mixed_float16 on GPUs

    train_images, _ = kg.data.load_image_arrays("mnist", "train")
    test_images, _ = kg.data.load_image_arrays("mnist", "test")
    train = kg.data.image_batches(train_images, batch_size=64)
    if args.steps_per_epoch:  # shorter epochs draw from one endless stream
        train = train.repeat()
    validation = kg.data.image_batches(test_images, batch_size=256, shuffle=False)

    model = RealNVP(input_shape=(28, 28, 1), num_scales=2, hidden_units=32, num_blocks=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=100.0))
    model.build()  # before BackupAndRestore restores into it

    model.fit(
        train,
        validation_data=validation,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
            kg.callbacks.TemperatureSampler(temperatures=(0.7, 1.0), log_dir=args.logdir),
        ],
    )
    model.save(args.out or "realnvp-mnist.keras")
    print(f"test bits/dim: {model.bits_per_dim(test_images):.3f}")


def train_moons(args):
    points = make_moons(8192, noise=0.05, seed=0)
    model = RealNVP(input_shape=(2,), num_couplings=8, hidden_units=64, num_blocks=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build()  # before BackupAndRestore restores into it

    model.fit(
        points,
        batch_size=256,
        epochs=args.epochs,
        validation_data=(make_moons(2048, noise=0.05, seed=1),),
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
        ],
    )
    model.save(args.out or "realnvp-moons.keras")
    # Samples as a 2-D histogram image: dark where the flow puts its points.
    samples = model.sample(20_000, seed=0)
    counts, _, _ = np.histogram2d(samples[:, 1], samples[:, 0], bins=200, range=[[-3, 3], [-3, 3]])
    image = np.flipud(1.0 - counts / counts.max())
    path = save_png(np.round(255 * image).astype(np.uint8)[..., None], os.path.join(args.logdir, "samples.png"))
    print(f"mean log-likelihood {float(np.mean(model.log_prob(points))):.3f} nats; samples in {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moons", action="store_true", help="train on 2-D two moons instead of MNIST")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="MNIST batches per epoch (default: all)")
    parser.add_argument("--logdir", default="runs/realnvp")
    parser.add_argument("--out", default=None, help="default: realnvp-mnist.keras or realnvp-moons.keras")
    args = parser.parse_args()
    if args.moons:
        train_moons(args)
    else:
        train_mnist(args)


if __name__ == "__main__":
    main()
