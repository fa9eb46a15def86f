"""Model families. Each is a subclassed ``keras.Model`` registered for ``.keras`` loading."""

from kerasgen.models.base import ImageGenerator, TextGenerator
from kerasgen.models.lstm import LSTMGenerator
from kerasgen.models.transformer import DecoderTransformer

__all__ = ["DecoderTransformer", "ImageGenerator", "LSTMGenerator", "TextGenerator"]
