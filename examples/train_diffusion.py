"""Train a denoising diffusion model on MNIST with plain model.fit, then sample it with DDIM and DDPM.

    KERASGEN_DATA_DIR=/path/to/data python examples/train_diffusion.py --epochs 10 --logdir runs/diffusion
    tensorboard --logdir runs/diffusion     # loss curve and a grid of samples per epoch

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch
(the EMA weights are model weights, so they resume too).
"""

import argparse

import keras

import kerasgen as kg
from kerasgen.images import image_grid, save_png


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--logdir", default="runs/diffusion")
    parser.add_argument("--out", default="diffusion-mnist.keras")
    args = parser.parse_args()

    kg.precision.set_policy("auto")  # mixed_bfloat16 on CPUs with bf16, mixed_float16 on GPUs

    images, _ = kg.data.load_image_arrays("mnist", "train")
    train = kg.data.image_batches(images, batch_size=args.batch_size)

    # v prediction, as the zoo entry: its DDIM 50-step samples scored a Frechet distance of 14.5 against
    # 26.8 for the same recipe predicting the noise.
    model = kg.models.DiffusionModel(image_shape=(28, 28, 1), widths=(32, 64, 96), block_depth=2, prediction="v")
    steps = args.epochs * int(train.cardinality())
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.1, warmup_target=1e-3, warmup_steps=500)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=1.0))
    model.build((None, 28, 28, 1))  # before BackupAndRestore restores into it

    model.fit(
        train,
        epochs=args.epochs,
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
            # Sampling costs about as much as a few dozen training steps: one grid per epoch.
            kg.callbacks.TemperatureSampler(temperatures=(1.0,), log_dir=args.logdir),
        ],
    )
    model.save(args.out)
    # One network, two samplers: 50 deterministic DDIM steps, or the full 1000-step DDPM chain (20x slower).
    for sampler, steps in (("ddim", 50), ("ddpm", 1000)):
        samples = model.sample(16, steps=steps, sampler=sampler, seed=0, progress=progress_bar(f"{sampler} sampling"))
        save_png(image_grid(samples), f"{args.logdir}/final_{sampler}_{steps}.png")


def progress_bar(label):
    def report(step, steps):
        print(f"\r{label}: step {step}/{steps}", end="\n" if step == steps else "", flush=True)

    return report


if __name__ == "__main__":
    main()
