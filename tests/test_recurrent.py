"""The recurrent text family's two cells: a GRU generates with its state carried exactly as its full forward pass
reads the sequence, trains from the command line, carries state across batches and round-trips like the LSTM."""

import keras
import numpy as np
import pytest
from conftest import TEXT

import kerasgen as kg
from kerasgen import cli


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_generation_with_carried_state_equals_the_full_sequence_forward_pass(cell):
    keras.utils.set_random_seed(0)
    tokenizer = kg.text.CharTokenizer.from_text(TEXT)
    model = kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=2, cell=cell)
    model.compile(optimizer="adam")
    ids = tokenizer.encode(TEXT)
    model.fit(ids[:320].reshape(20, 16), ids[1:321].reshape(20, 16), epochs=3, verbose=0)
    prompt = "First Cit"
    # One cell step from the prompt's state gives the logits the full pass gives at the next position.
    prompt_ids = tokenizer.encode(prompt)[None]
    logits, states = model(prompt_ids, return_state=True)
    assert len(states) == 2 and len(states[0]) == (2 if cell == "lstm" else 1)
    token = np.array([int(np.argmax(logits[0, -1]))], np.int32)
    stepped, _ = model._step(keras.ops.convert_to_tensor(token), states)
    full = model(np.concatenate([prompt_ids, token[None]], axis=1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(stepped)[0], keras.ops.convert_to_numpy(full)[0, -1],
                               atol=1e-5)
    # Greedy generation (the compiled loop) picks, token after token, the full pass's argmax.
    generated = model.generate(prompt, max_new_tokens=12, temperature=0)
    expected = list(tokenizer.encode(prompt))
    for _ in range(12):
        expected.append(int(np.argmax(keras.ops.convert_to_numpy(model(np.array([expected], np.int32)))[0, -1])))
    assert generated == tokenizer.decode(np.array(expected))


def test_a_gru_trains_from_the_command_line_with_carried_state_and_reloads(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "gru.keras"
    assert cli.main(["train", "lstm", "--cell", "gru", "--text", str(corpus), "--epochs", "2", "--seq-len", "8",
                     "--batch-size", "4", "--embedding-dim", "8", "--units", "16", "--num-layers", "1",
                     "--carry-state", "--policy", "float32", "--out", str(out)]) == 0
    model = keras.saving.load_model(out, safe_mode=True)
    assert model.cell == "gru" and isinstance(model.lstm_layers[0], keras.layers.GRU)
    assert model.generate("First", max_new_tokens=5, seed=0) == model.generate("First", max_new_tokens=5, seed=0)
    tuned, _ = kg.training.train_text("lstm", str(corpus), init=str(out), epochs=1, steps_per_epoch=1, seq_len=8,
                                      batch_size=4, verbose=0, policy="float32")
    assert tuned.cell == "gru"
    capsys.readouterr()
    assert cli.main(["train", "lstm", "--cell", "rnn", "--text", str(corpus)]) == 2
    assert "cell must be one of lstm, gru, got 'rnn'" in capsys.readouterr().err
