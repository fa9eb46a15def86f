"""Reproduce zoo entry char-lstm-shakespeare.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/char_lstm_shakespeare.py [--epochs N]

Resumable: a killed run started again with the same command continues from its
last finished epoch (checkpoint in runs/char-lstm-shakespeare/backup).
"""

import argparse
import platform

import kerasgen as kg
from kerasgen import training

NAME = "char-lstm-shakespeare"
METRIC = {"key": "text_nll", "name": "validation loss (nats/char)", "args": {"dataset": "tiny_shakespeare", "split": "validation", "seq_len": 256}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--logdir", default=f"runs/{NAME}")
    args = parser.parse_args()
    model, history = training.train_text(
        "lstm",
        "tiny_shakespeare",
        level="char",
        epochs=args.epochs,
        batch_size=64,
        seq_len=128,
        learning_rate=2e-3,
        model_kwargs={"embedding_dim": 64, "units": 384, "num_layers": 2, "dropout": 0.2},
        logdir=args.logdir,
        prompt="ROMEO:",
    )
    value = kg.metrics.evaluate(model, METRIC["key"], **METRIC["args"])
    card = kg.zoo.publish(
        model,
        NAME,
        {
            "family": "lstm",
            "dataset": "tiny_shakespeare (first 90% of characters; validation = last 10%)",
            "metric": {**METRIC, "value": round(value, 4)},
            "command": f"python zoo/recipes/char_lstm_shakespeare.py --epochs {args.epochs}",
            "training_time": f"{history.seconds / 60:.0f} min for the last session of the run ({len(history.epoch)} epochs), policy {history.policy}",
            "hardware": f"{platform.processor() or platform.machine()} CPU, 2 cores, no GPU",
            "notes": "2-layer LSTM, 384 units, embedding 64, dropout 0.2, Adam 2e-3, clipnorm 5, 128-character windows, batch 64.",
        },
    )
    print(card)


if __name__ == "__main__":
    main()
