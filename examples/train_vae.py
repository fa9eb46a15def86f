"""Train a convolutional VAE on binarised MNIST with plain model.fit.

    KERASGEN_DATA_DIR=/path/to/data python examples/train_vae.py --epochs 10 --logdir runs/vae
    tensorboard --logdir runs/vae     # ELBO terms, sample grids per temperature

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch.
"""

import argparse

import keras
import tensorflow as tf

import kerasgen as kg
from kerasgen.models.vae import binarize


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--logdir", default="runs/vae")
    parser.add_argument("--out", default="vae.keras")
    args = parser.parse_args()

    kg.precision.set_policy("auto")
    train, _ = kg.data.load_image_arrays("mnist", "train")
    test, _ = kg.data.load_image_arrays("mnist", "test")
    # Dynamic binarisation: a new binary image is drawn from the intensities every epoch.
    images = (
        tf.data.Dataset.from_tensor_slices(train.astype("float32") / 255.0)
        .shuffle(60_000)
        .map(lambda x: tf.cast(tf.random.uniform(tf.shape(x)) < x, tf.float32))
        .batch(128)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = binarize(test.astype("float32") / 255.0, seed=0)

    vae = kg.models.VAE(image_shape=(28, 28, 1), latent_dim=32)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.build()
    vae.fit(
        images,
        validation_data=(validation, None),
        epochs=args.epochs,
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
            kg.callbacks.TemperatureSampler(temperatures=(0.7, 1.0), log_dir=args.logdir),
        ],
    )
    vae.save(args.out)
    print(f"test NLL (IWAE, 100 samples, first 1000 images): {vae.nll(validation[:1000], num_samples=100):.2f} nats")


if __name__ == "__main__":
    main()
