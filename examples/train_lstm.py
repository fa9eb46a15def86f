"""Train a character-level LSTM on Tiny Shakespeare with plain model.fit.

    KERASGEN_DATA_DIR=/path/to/data python examples/train_lstm.py --epochs 5 --logdir runs/lstm
    tensorboard --logdir runs/lstm     # loss curves, samples per temperature, the embedding projector

Stop it at any time and run it again: BackupAndRestore resumes from the last finished epoch.
"""

import argparse

import keras

import kerasgen as kg


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--logdir", default="runs/lstm")
    parser.add_argument("--out", default="char-lstm.keras")
    args = parser.parse_args()

    kg.precision.set_policy("auto")  # mixed_bfloat16 on CPUs with bf16, mixed_float16 on GPUs

    train_text = kg.data.load_text("tiny_shakespeare", "train")
    validation_text = kg.data.load_text("tiny_shakespeare", "validation")
    tokenizer = kg.text.CharTokenizer.from_text(train_text)
    train = kg.data.text_windows(train_text, tokenizer, seq_len=128, batch_size=64)
    validation = kg.data.text_windows(validation_text, tokenizer, seq_len=128, batch_size=64, shuffle=False)

    model = kg.models.LSTMGenerator(tokenizer, embedding_dim=64, units=384, num_layers=2, dropout=0.2)
    model.compile(optimizer=keras.optimizers.Adam(2e-3, clipnorm=5.0))
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
    print(model.generate(["ROMEO:", "JULIET:"], max_new_tokens=300, temperature=0.8, seed=0))


if __name__ == "__main__":
    main()
