"""Train a character-level GPT (decoder-only transformer) on Tiny Shakespeare with plain model.fit.

    KERASGEN_DATA_DIR=/path/to/data python examples/train_gpt.py --epochs 5 --logdir runs/gpt
    tensorboard --logdir runs/gpt     # loss curves, samples per temperature, the embedding projector

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch.
"""

import argparse

import keras

import kerasgen as kg


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--logdir", default="runs/gpt")
    parser.add_argument("--out", default="char-gpt.keras")
    args = parser.parse_args()

    kg.precision.set_policy("auto")  # mixed_bfloat16 on CPUs with bf16, mixed_float16 on GPUs

    train_text = kg.data.load_text("tiny_shakespeare", "train")
    validation_text = kg.data.load_text("tiny_shakespeare", "validation")
    tokenizer = kg.text.CharTokenizer.from_text(train_text)
    train = kg.data.text_windows(train_text, tokenizer, seq_len=256, batch_size=32)
    validation = kg.data.text_windows(validation_text, tokenizer, seq_len=256, batch_size=32, shuffle=False)

    model = kg.models.DecoderTransformer(
        tokenizer, max_length=256, num_layers=4, num_heads=4, embedding_dim=256, dropout=0.1
    )
    steps = args.epochs * int(train.cardinality())
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.1, warmup_target=1e-3, warmup_steps=200)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0))
    model(next(iter(train))[0])  # build before BackupAndRestore restores into it

    model.fit(
        train,
        validation_data=validation,
        epochs=args.epochs,
        callbacks=[
            keras.callbacks.BackupAndRestore(f"{args.logdir}/backup"),
            keras.callbacks.TensorBoard(args.logdir),
            kg.callbacks.TemperatureSampler(temperatures=(0.5, 0.8, 1.0), prompt="ROMEO:", log_dir=args.logdir),
            kg.callbacks.EmbeddingProjector(args.logdir),
        ],
    )
    model.save(args.out)
    print(model.generate(["ROMEO:", "JULIET:"], max_new_tokens=300, temperature=0.8, top_k=40, seed=0))


if __name__ == "__main__":
    main()
