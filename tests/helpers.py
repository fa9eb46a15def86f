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


def tiny_r1_gan(r1_penalty):
    """An 8x8 DCGAN with an R1 penalty of ``r1_penalty``, compiled with plain SGD."""
    import keras

    gan = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, r1_penalty=r1_penalty)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
    return gan


def dcgan_r1_check(eps=1e-3):
    """The R1 penalty of ``tiny_r1_gan``'s discriminator on four random images, as the model computes it and by
    central differences of the discriminator's logits (float64 sums); and how far one training step with the
    penalty moves the discriminator's weights from the same step without it (0: the penalty's gradient did not
    reach them). Random images: no pre-activation sits on a LeakyReLU kink, where differences would mislead."""
    import keras
    from keras import ops

    images = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)

    keras.utils.set_random_seed(0)
    gan = tiny_r1_gan(10.0)
    _, penalty = gan._judge_real(ops.convert_to_tensor(images), None)
    flat = images.reshape(len(images), -1).astype(np.float32)
    gradient = np.zeros(flat.shape, np.float64)
    for pixel in range(flat.shape[1]):  # the discriminator judges each image alone: one pixel of all at once
        for sign in (1, -1):
            moved = flat.copy()
            moved[:, pixel] += sign * eps
            logits = gan._discriminate(ops.convert_to_tensor(moved.reshape(images.shape)), None, True)
            gradient[:, pixel] += sign * np.asarray(ops.convert_to_numpy(logits), np.float64)[:, 0] / (2 * eps)
    weights = {}
    for gamma in (0.0, 10.0):
        keras.utils.set_random_seed(0)
        gan = tiny_r1_gan(gamma)
        gan.fit(images, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
        weights[gamma] = gan.discriminator.get_weights()
    return {"penalty": float(ops.convert_to_numpy(penalty)),
            "estimate": float(0.5 * 10.0 * np.mean(np.sum(gradient**2, axis=1))),
            "step_difference": max(float(np.abs(a - b).max()) for a, b in zip(weights[0.0], weights[10.0]))}
