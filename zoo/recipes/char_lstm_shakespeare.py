"""Reproduce zoo entry char-lstm-shakespeare.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/char_lstm_shakespeare.py [--epochs N]

Resumable: a killed run started again with the same command continues from its
last finished epoch (checkpoint in runs/char-lstm-shakespeare/backup). char_gru_shakespeare.py
runs this recipe with GRU cells.
"""

from kerasgen.recipes import ngram_baseline_spec, run_zoo_recipe

NOTES = ("2-layer LSTM, 384 units, embedding 64, dropout 0.2, Adam 2e-3 divided by 4 at half and by 16 at three "
         "quarters of the epochs, clipnorm 5, 128-character windows, batch 64.")


def run(name, recipe_file, notes=NOTES, cell="lstm", **options):
    """Train and publish ``name`` with this recipe's data, size and schedule and ``cell`` ("lstm" or "gru")."""
    return run_zoo_recipe(
        name,
        "lstm",
        "tiny_shakespeare (first 90% of characters; validation = last 10%)",
        {"key": "text_nll", "name": "validation loss (nats/char)",
         "args": {"dataset": "tiny_shakespeare", "split": "validation", "seq_len": 256}},
        notes,
        recipe_file,
        figures=[ngram_baseline_spec("tiny_shakespeare", "validation", "validation loss (nats/char)")],
        default_epochs=30,
        text="tiny_shakespeare",
        level="char",
        batch_size=64,
        seq_len=128,
        learning_rate=2e-3,
        schedule="step",
        model_kwargs={"embedding_dim": 64, "units": 384, "num_layers": 2, "dropout": 0.2,
                      **({"cell": cell} if cell != "lstm" else {})},
        prompt="ROMEO:",
        **options,
    )


if __name__ == "__main__":
    run("char-lstm-shakespeare", __file__, storage="float16")
