"""Train a DCGAN on MNIST with plain model.fit (two optimizers, one train_step).

    KERASGEN_DATA_DIR=/path/to/data python examples/train_dcgan.py --epochs 20 --logdir runs/dcgan
    tensorboard --logdir runs/dcgan     # discriminator and generator losses, sample grids per temperature

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch.
"""

import argparse

import keras

import kerasgen as kg


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--logdir", default="runs/dcgan")
    parser.add_argument("--out", default="dcgan.keras")
    args = parser.parse_args()

    kg.precision.set_policy("auto")  # under mixed_float16 both optimizers are loss-scaled
    train, _ = kg.data.load_image_arrays("mnist", "train")
    images = kg.data.image_batches(train, batch_size=128)

    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=128)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    gan.build()
    gan.fit(
        images,
        epochs=args.epochs,
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
            kg.callbacks.TemperatureSampler(temperatures=(0.7, 1.0), log_dir=args.logdir),
        ],
    )
    gan.save(args.out)
    kg.images.save_png(kg.images.image_grid(gan.sample(64, seed=0)), "dcgan-samples.png")


if __name__ == "__main__":
    main()
