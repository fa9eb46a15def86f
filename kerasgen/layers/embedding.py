"""Output logits that reuse the token embedding (weight tying)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasgen")
class TiedLogits(keras.layers.Layer):
    """``x @ embeddings.T + bias``: next-token logits from the input embedding matrix.

    Tying halves the parameters of a large-vocabulary model and usually lowers
    its perplexity (Press & Wolf, 2017). Called as ``layer(x, embeddings)``;
    the output is float32 whatever the policy, as losses need.
    """

    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size

    def build(self, x_shape, embeddings_shape=None):
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")

    def call(self, x, embeddings):
        logits = ops.matmul(x, ops.transpose(ops.cast(embeddings, x.dtype)))
        return ops.cast(logits, "float32") + ops.cast(self.bias, "float32")

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}
