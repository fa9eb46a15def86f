"""Run kerasgen on the current Keras backend and compare the zoo's outputs with TensorFlow's.

    KERAS_BACKEND=jax python tests/backend_check.py REFERENCE.npz REPORT.json

``REFERENCE.npz`` holds ``families.forward_outputs`` of every zoo entry computed on TensorFlow (keys
``<entry>/<output>``). For each entry this loads the zoo file (checksum, safe mode), compares its outputs, and
generates or samples; then it trains small models with ``fit`` on numpy arrays (``check_training``). The report says, per entry, the
largest difference relative to max(1, |TensorFlow's value|), and whether TensorFlow was ever imported.
"""

import json
import sys
import time

import keras
import numpy as np


def check_entries(reference):
    from kerasgen import families, zoo
    from kerasgen.models import ImageClassifier, ImageGenerator, PointGenerator, TextGenerator

    report = {}
    for name in zoo.names():
        model = zoo.load(name)
        outputs = families.forward_outputs(zoo.info(name)["family"], model)
        worst = 0.0
        for key, value in outputs.items():
            expected = reference[f"{name}/{key}"]
            worst = max(worst, float(np.max(np.abs(value - expected) / np.maximum(1.0, np.abs(expected)))))
        start = time.perf_counter()
        if isinstance(model, TextGenerator):
            produced = model.generate("the ", max_new_tokens=20, temperature=0.8, seed=0)
            ok = isinstance(produced, str) and len(produced) > len("the ")
        elif isinstance(model, (ImageGenerator, PointGenerator)):
            produced = model.sample(4, seed=0)
            ok = produced.shape[0] == 4 and bool(np.all(np.isfinite(produced)))
        elif isinstance(model, ImageClassifier):
            produced = model.predict_classes(np.zeros((4, *model.image_shape), np.float32))
            ok = produced.shape == (4,)
        else:
            raise TypeError(f"{name}: a {type(model).__name__} serves no protocol")
        report[name] = {"relative_difference": worst, "generated": bool(ok),
                        "seconds": round(time.perf_counter() - start, 2)}
    return report


def check_training():
    """Small models trained with ``fit`` on numpy arrays: a classifier learns bars; a conditional DCGAN's two
    optimizers both step and its discriminator loss falls; each reloads with its optimizer state."""
    from helpers import bars, dcgan_ema_steps, dcgan_r1_check
    from kerasgen.models import DCGAN, ImageClassifier

    images, labels = bars(512, seed=0)
    keras.utils.set_random_seed(0)
    classifier = ImageClassifier(image_shape=(8, 8, 1), num_classes=2, feature_dim=16)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    history = classifier.fit(images, labels, epochs=4, batch_size=64, verbose=0).history
    report = {"classifier": {"first_loss": history["loss"][0], "last_loss": history["loss"][-1],
                             "accuracy": float(np.mean(classifier.predict_classes(images) == labels))}}
    gan = DCGAN(image_shape=(8, 8, 1), latent_dim=8, filters=8, num_classes=2)
    gan.build()
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    history = gan.fit(images, labels, epochs=6, batch_size=64, verbose=0).history
    gan.save("dcgan.keras")
    loaded = keras.saving.load_model("dcgan.keras", safe_mode=True)
    report["dcgan"] = {"first_loss": history["d_loss"][0], "last_loss": history["d_loss"][-1],
                       "steps": [int(gan.d_optimizer.iterations), int(gan.g_optimizer.iterations)],
                       "reloaded_steps": [int(loaded.d_optimizer.iterations), int(loaded.g_optimizer.iterations)],
                       "reloaded_sample_equal": bool(np.array_equal(gan.sample(4, seed=1, labels=1),
                                                                    loaded.sample(4, seed=1, labels=1)))}
    gan = DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, ema_decay=0.5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    report["dcgan_ema"] = dcgan_ema_steps(gan, images[:16])
    report["dcgan_r1"] = dcgan_r1_check()
    return report


def main(reference_path, report_path):
    import kerasgen  # noqa: F401 - registers the classes the zoo's files name

    reference = np.load(reference_path)
    report = {"backend": keras.backend.backend(), "entries": check_entries(reference),
              "training": check_training()}
    report["tensorflow_imported"] = "tensorflow" in sys.modules
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
