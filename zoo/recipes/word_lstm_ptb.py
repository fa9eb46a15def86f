"""Reproduce zoo entry word-lstm-ptb (Penn Treebank, Mikolov's preprocessing, 10,000-word vocabulary).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/word_lstm_ptb.py [--epochs N]

Resumable: a killed run started again with the same command continues from its
last finished epoch (checkpoint in runs/word-lstm-ptb/backup). PTB is
research-only text: the entry ships weights and vocabulary, never the text.
"""

from kerasgen.training import run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "word-lstm-ptb",
        "lstm",
        "ptb (Mikolov's Penn Treebank: trained on train, metric on test)",
        {"key": "perplexity", "name": "test perplexity", "args": {"dataset": "ptb", "split": "test", "seq_len": 35}},
        "2-layer LSTM, 200 units, tied 200-d embeddings, dropout 0.3, Adam 2e-3, clipnorm 5, 35-word windows, "
        "batch 32. Ships weights and the 10,000-word vocabulary only, never the text.",
        __file__,
        default_epochs=15,
        text="ptb",
        level="word",
        max_vocab=10000,
        batch_size=32,
        seq_len=35,
        learning_rate=2e-3,
        model_kwargs={"embedding_dim": 200, "units": 200, "num_layers": 2, "dropout": 0.3, "tie_embeddings": True},
        prompt="the company said",
    )
