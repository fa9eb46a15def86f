"""Model families. Each is a subclassed ``keras.Model`` registered for ``.keras`` loading."""

from kerasgen.models.base import DensityModel, ImageGenerator, PointGenerator, TextGenerator
from kerasgen.models.classifier import ImageClassifier
from kerasgen.models.dcgan import DCGAN
from kerasgen.models.diffusion import DiffusionModel
from kerasgen.models.lstm import LSTMGenerator
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
    "PointGenerator",
    "RealNVP",
    "TextGenerator",
    "VAE",
]
