"""Building blocks shared by the model families, registered for safe ``.keras`` loading."""

from kerasgen.layers.attention import CachedCausalSelfAttention, PositionEmbedding, TransformerBlock
from kerasgen.layers.coupling import ActNorm, AffineCoupling, Squeeze
from kerasgen.layers.discriminator import MinibatchStddev
from kerasgen.layers.embedding import TiedLogits
from kerasgen.layers.unet import GroupNorm, ResidualBlock, SinusoidalEmbedding, SpatialSelfAttention, UNet, Upsample

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "CachedCausalSelfAttention",
    "GroupNorm",
    "MinibatchStddev",
    "PositionEmbedding",
    "ResidualBlock",
    "SinusoidalEmbedding",
    "SpatialSelfAttention",
    "Squeeze",
    "TiedLogits",
    "TransformerBlock",
    "UNet",
    "Upsample",
]
