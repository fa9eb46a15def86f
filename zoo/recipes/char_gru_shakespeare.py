"""Reproduce zoo entry char-gru-shakespeare: char-lstm-shakespeare's recipe with GRU cells.

    KERASGEN_DATA_DIR=/path/to/data python zoo/recipes/char_gru_shakespeare.py [--epochs N]

Same data, size, schedule and number of epochs as char-lstm-shakespeare, with ``cell="gru"`` (a GRU layer has three
quarters of an LSTM layer's weights). Resumable: a killed run started again with the same command continues from its
last checkpoint (in runs/char-gru-shakespeare/backup).
"""

from char_lstm_shakespeare import run  # the recipe beside this file

if __name__ == "__main__":
    run(
        "char-gru-shakespeare",
        __file__,
        notes="2-layer GRU, 384 units, embedding 64, dropout 0.2, Adam 2e-3 divided by 4 at half and by 16 at three "
              "quarters of the epochs, clipnorm 5, 128-character windows, batch 64: char-lstm-shakespeare's recipe "
              "with GRU cells, trained for the same 30 epochs at about the same time per epoch.",
        cell="gru",
        storage="float16",
    )
