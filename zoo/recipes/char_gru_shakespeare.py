"""Reproduce zoo entry char-gru-shakespeare: char-lstm-shakespeare's recipe with GRU cells.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/char_gru_shakespeare.py [--epochs N]

Same data, size, schedule and number of epochs as char-lstm-shakespeare, with ``cell="gru"`` (a GRU layer has three
quarters of an LSTM layer's weights). Resumable: a killed run started again with the same command continues from its
last checkpoint (in runs/char-gru-shakespeare/backup).
"""

from kerasgen.recipes import ngram_baseline_spec, run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "char-gru-shakespeare",
        "lstm",
        "tiny_shakespeare (first 90% of characters; validation = last 10%)",
        {"key": "text_nll", "name": "validation loss (nats/char)",
         "args": {"dataset": "tiny_shakespeare", "split": "validation", "seq_len": 256}},
        "2-layer GRU, 384 units, embedding 64, dropout 0.2, Adam 2e-3 divided by 4 at half and by 16 at three "
        "quarters of the epochs, clipnorm 5, 128-character windows, batch 64: char-lstm-shakespeare's recipe with "
        "GRU cells, trained for the same 30 epochs at about the same time per epoch.",
        __file__,
        figures=[ngram_baseline_spec("tiny_shakespeare", "validation", "validation loss (nats/char)")],
        default_epochs=30,
        storage="float16",
        text="tiny_shakespeare",
        level="char",
        batch_size=64,
        seq_len=128,
        learning_rate=2e-3,
        schedule="step",
        model_kwargs={"embedding_dim": 64, "units": 384, "num_layers": 2, "dropout": 0.2, "cell": "gru"},
        prompt="ROMEO:",
    )
