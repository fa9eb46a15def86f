"""Reproduce zoo entry word-lstm-ptb (Penn Treebank, Mikolov's preprocessing; 10,000-word vocabulary).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/word_lstm_ptb.py [--epochs N]

Resumable: a killed run started again with the same command continues from its
last finished epoch (checkpoint in runs/word-lstm-ptb/backup). PTB is
research-only text: the entry ships weights and vocabulary, never the text.
"""

import argparse
import platform

import kerasgen as kg
from kerasgen import training

NAME = "word-lstm-ptb"
METRIC = {"key": "perplexity", "name": "test perplexity", "args": {"dataset": "ptb", "split": "test", "seq_len": 35}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--logdir", default=f"runs/{NAME}")
    args = parser.parse_args()
    model, history = training.train_text(
        "lstm",
        "ptb",
        level="word",
        max_vocab=10000,
        epochs=args.epochs,
        batch_size=32,
        seq_len=35,
        learning_rate=2e-3,
        model_kwargs={"embedding_dim": 200, "units": 200, "num_layers": 2, "dropout": 0.3, "tie_embeddings": True},
        logdir=args.logdir,
        prompt="the company said",
    )
    value = kg.metrics.evaluate(model, METRIC["key"], **METRIC["args"])
    card = kg.zoo.publish(
        model,
        NAME,
        {
            "family": "lstm",
            "dataset": "ptb (Mikolov's Penn Treebank: train; metric on test)",
            "metric": {**METRIC, "value": round(value, 3)},
            "command": f"python zoo/recipes/word_lstm_ptb.py --epochs {args.epochs}",
            "training_time": f"{history.seconds / 60:.0f} min for the last session of the run ({len(history.epoch)} epochs), policy {history.policy}",
            "hardware": f"{platform.processor() or platform.machine()} CPU, 2 cores, no GPU",
            "notes": "2-layer LSTM, 200 units, tied 200-d embeddings, dropout 0.3, Adam 2e-3, clipnorm 5, 35-word windows, batch 32. Ships weights and the 10,000-word vocabulary only.",
        },
    )
    print(card)


if __name__ == "__main__":
    main()
