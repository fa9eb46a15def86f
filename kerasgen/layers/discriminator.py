"""A discriminator's view of the batch around an image: the minibatch standard deviation feature."""

import keras
from keras import ops

from kerasgen.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasgen")
class MinibatchStddev(keras.layers.Layer):
    """Appends one feature map: the mean standard deviation of the features over the image's group (Karras et al.,
    2018).

    The batch is cut into groups of ``group_size`` consecutive images (the last group may be smaller); each
    feature's standard deviation over a group, averaged over the features, becomes a constant channel of every image
    of that group. A generator that draws the same image again and again gives its fakes a smaller spread than real
    images have, which the discriminator can then see: a cheap guard against mode collapse. Groups keep a step the
    same on one device and across replicas (each replica's batch holds whole groups when its size is a multiple of
    ``group_size``). Computed in float32 whatever the policy; no weights.
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_positive_int(group_size, "group_size")
        self.epsilon = epsilon

    def call(self, x):
        flat = ops.reshape(ops.cast(x, "float32"), [ops.shape(x)[0], -1])
        group = ops.arange(ops.shape(x)[0]) // self.group_size
        same = ops.cast(ops.equal(group[:, None], group[None, :]), "float32")  # (batch, batch): same group
        count = ops.sum(same, axis=1, keepdims=True)
        mean = ops.matmul(same, flat) / count
        variance = ops.matmul(same, ops.square(flat - mean)) / count
        spread = ops.mean(ops.sqrt(variance + self.epsilon), axis=1)  # (batch,): its group's spread
        channel = ops.ones_like(x[..., :1]) * ops.cast(ops.reshape(spread, [-1] + [1] * (len(x.shape) - 1)), x.dtype)
        return ops.concatenate([x, channel], axis=-1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}
