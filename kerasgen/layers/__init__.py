"""Building blocks shared by the model families, registered for safe ``.keras`` loading."""

from kerasgen.layers.embedding import TiedLogits

__all__ = ["TiedLogits"]
