"""Reproduce zoo entry word-lstm-ptb (Penn Treebank, Mikolov's preprocessing, 10,000-word vocabulary).

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/word_lstm_ptb.py [--epochs N]

Resumable: a killed run started again with the same command continues from its
last finished epoch (checkpoint in runs/word-lstm-ptb/backup). PTB is
research-only text: the entry ships weights and vocabulary, never the text.
"""

from kerasgen.recipes import ngram_baseline_spec, run_zoo_recipe

if __name__ == "__main__":
    run_zoo_recipe(
        "word-lstm-ptb",
        "lstm",
        "ptb (Mikolov's Penn Treebank: trained on train, metric on test)",
        {"key": "perplexity", "name": "test perplexity",
         "args": {"dataset": "ptb", "split": "test", "seq_len": 35, "batch_size": 16, "carry_state": True},
         "procedure": "the test text read as 16 contiguous streams, 35 words at a time, LSTM state carried "
                      "across chunks (Zaremba et al.'s protocol)"},
        "2-layer LSTM, 300 units, tied 300-d embeddings (initialised uniform +-0.1), dropout 0.4 on the "
        "non-recurrent connections (the embeddings, between the layers, before the output: Zaremba et al.'s "
        "regularisation); plain SGD at rate 1 per time step (35 on the mean loss of 35-word chunks), the gradient "
        "clipped as a whole to norm 5 per time step (5/35 on the mean), 6 epochs at that rate then divided by 1.5 "
        "every epoch, 14 epochs; truncated backpropagation through time: 20 contiguous streams, 35 words per step, "
        "LSTM state carried from batch to batch and reset each epoch. Issue 27: replaces the first entry (2x200, no "
        "dropout, Zaremba et al.'s small recipe with 20-word steps over 13 epochs; test perplexity 108.64) with "
        "their medium model's dropout and 35-word steps at a smaller size (their medium: 650 units, dropout 0.5, "
        "39 epochs) and a schedule shortened to fit a few hours of this CPU. Ships weights and the 10,000-word "
        "vocabulary only, never the text.",
        __file__,
        figures=[ngram_baseline_spec("ptb", "test", "test perplexity", max_order=5, measure="perplexity")],
        default_epochs=14,
        text="ptb",
        level="word",
        max_vocab=10000,
        batch_size=20,
        seq_len=35,
        optimizer="sgd",
        learning_rate=35.0,
        global_clipnorm=5 / 35,
        schedule={epoch: 35.0 / 1.5 ** (epoch - 5) for epoch in range(6, 14)},
        carry_state=True,
        policy="float32",
        model_kwargs={"embedding_dim": 300, "units": 300, "num_layers": 2, "dropout": 0.4, "tie_embeddings": True},
        prompt="the company said",
        storage="float16",
    )
