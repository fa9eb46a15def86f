"""Small models and files the tests share."""

import numpy as np

import kerasgen as kg


def tiny_lstm(text, level="char", fit_steps=0):
    tokenizer = (
        kg.text.CharTokenizer.from_text(text) if level == "char" else kg.text.WordTokenizer.from_text(text, max_vocab=50)
    )
    model = kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=1)
    model.compile(optimizer="adam")
    ids = tokenizer.encode(text)
    x = ids[: 8 * 16].reshape(8, 16)
    y = ids[1 : 8 * 16 + 1].reshape(8, 16)
    if fit_steps:
        model.fit(x, y, batch_size=8, epochs=fit_steps, verbose=0)
    else:
        model(x[:1])
    return model


def tfevents_records(log_dir):
    """(tag, step, plugin, value) of every summary under ``log_dir``."""
    from pathlib import Path

    import tensorflow as tf

    records = []
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor) if value.HasField("tensor") else np.array(value.simple_value)
                records.append((value.tag, event.step, value.metadata.plugin_data.plugin_name, tensor))
    return records


def bars(count, seed=0):
    """Two classes of 8x8 images: a horizontal bar (0) or a vertical bar (1) at a random place."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 8, 8, 1), np.float32)
    labels = rng.integers(0, 2, count)
    for image, label, place in zip(images, labels, rng.integers(0, 8, count)):
        if label:
            image[:, place] = 1
        else:
            image[place, :] = 1
    return images, labels


def assert_usage_error(capsys, argv, fragment):
    """``kerasgen argv`` exits with status 2 and one ``kerasgen: error: ...`` line holding ``fragment``."""
    from kerasgen import cli

    assert cli.main([str(arg) for arg in argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kerasgen: error: "), captured.err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in captured.out + captured.err


def dcgan_ema_steps(gan, images, labels=None):
    """Train ``gan`` (a DCGAN with ``ema_decay``) two single steps on ``images`` (one batch); return how far its EMA
    generator is from the generator's weights after the first step (0: the first step copies them), from
    ``decay * first + (1 - decay) * second`` after the second (0: it averages) and from the second step's weights
    (not 0: it lags behind). Every weight counts, batch normalisation's moving moments too."""
    def one_step():
        gan.fit(images, labels, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
        return gan.generator.get_weights(), gan.ema_generator.get_weights()

    first, first_ema = one_step()
    second, second_ema = one_step()
    decay = gan.ema_decay
    return {
        "copied": max(float(np.abs(e - w).max()) for e, w in zip(first_ema, first)),
        "averaged": max(float(np.abs(e - (decay * a + (1 - decay) * b)).max())
                        for e, a, b in zip(second_ema, first, second)),
        "lag": max(float(np.abs(e - w).max()) for e, w in zip(second_ema, second)),
    }
