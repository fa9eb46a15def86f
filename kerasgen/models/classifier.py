"""A small convolutional image classifier whose penultimate features score generated images."""

import keras
import numpy as np

from kerasgen.checks import check_image_shape, check_images, check_positive_int, check_real
from kerasgen.models.serving import WITH_LITERT, Servable, spec


@keras.saving.register_keras_serializable(package="kerasgen")
class ImageClassifier(Servable, keras.Model):
    """Conv-conv-pool twice, a ``feature_dim`` dense layer (the features), then class logits.

    The features feed ``kerasgen.metrics.frechet_distance`` (the zoo's
    Frechet distance between generated and real images) and the logits the
    class histogram of samples, where mode collapse shows as missing classes.

    Example:
    >>> clf = ImageClassifier(image_shape=(28, 28, 1), num_classes=10)
    >>> clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> clf.fit(train_images, train_labels, epochs=5)
    >>> clf.features(test_images).shape   # (n, 128)
    """

    export_formats = WITH_LITERT

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, feature_dim=128, dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.num_classes = check_positive_int(num_classes, "num_classes", 2)
        self.feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.dropout = check_real(dropout, "dropout", 0, 1, open_above=True)
        conv = lambda filters: keras.layers.Conv2D(filters, 3, padding="same", activation="relu")  # noqa: E731
        self.feature_network = keras.Sequential(
            [
                keras.Input(self.image_shape),
                conv(32), conv(32), keras.layers.MaxPooling2D(),
                conv(64), conv(64), keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dropout(dropout),
                keras.layers.Dense(feature_dim, activation="relu", dtype="float32"),
            ],
            name="features",
        )
        self.classifier_dropout = keras.layers.Dropout(dropout)
        self.head = keras.layers.Dense(num_classes, dtype="float32", name="logits")

    def build(self, input_shape=None):
        self.feature_network.build((None, *self.image_shape))
        self.head.build((None, self.feature_dim))

    def call(self, images, training=False):
        """Class probabilities for float images in [0, 1]."""
        features = self.feature_network(images, training=training)
        return keras.activations.softmax(self.head(self.classifier_dropout(features, training=training)))

    def serving_endpoints(self):
        """``serve(images)`` -> class probabilities, for float32 images in [0, 1]."""
        return {"serve": (lambda images: self(images), [spec((None, *self.image_shape), "float32", "images")])}

    def network_endpoint(self):
        return ("serve", *self.serving_endpoints()["serve"])

    def features(self, images, batch_size=500):
        """Penultimate activations (n, feature_dim) of float images in [0, 1]."""
        images = check_images(images, self.image_shape)
        return np.asarray(self.feature_network.predict(images, batch_size=batch_size, verbose=0), np.float64)

    def probabilities(self, images, batch_size=500):
        """Class probabilities (n, num_classes) of float images in [0, 1]."""
        images = check_images(images, self.image_shape)
        return np.asarray(self.predict(images, batch_size=batch_size, verbose=0), np.float64)

    def predict_classes(self, images, batch_size=500):
        return np.argmax(self.probabilities(images, batch_size), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, num_classes=self.num_classes, feature_dim=self.feature_dim,
            dropout=self.dropout,
        )
        return config
