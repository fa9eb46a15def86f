"""Model families. Each is a subclassed ``keras.Model`` registered for ``.keras`` loading; ``NGramModel`` is the
classic n-gram baseline beside the text families (numpy, not a ``keras.Model``)."""

from kerasgen.models.base import DensityModel, ImageGenerator, PointGenerator, TextGenerator
from kerasgen.models.classifier import ImageClassifier
from kerasgen.models.dcgan import DCGAN
from kerasgen.models.diffusion import DiffusionModel
from kerasgen.models.lstm import LSTMGenerator
from kerasgen.models.ngram import NGramModel
from kerasgen.models.realnvp import RealNVP
from kerasgen.models.transformer import DecoderTransformer
from kerasgen.models.vae import VAE

__all__ = [
    "DCGAN",
    "DensityModel",
    "DecoderTransformer",
    "DiffusionModel",
    "ImageClassifier",
    "ImageGenerator",
    "LSTMGenerator",
    "NGramModel",
    "PointGenerator",
    "RealNVP",
    "TextGenerator",
    "VAE",
]
