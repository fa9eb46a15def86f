"""Building blocks shared by the model families, registered for safe ``.keras`` loading."""

from kerasgen.layers.attention import CachedCausalSelfAttention, PositionEmbedding, TransformerBlock
from kerasgen.layers.embedding import TiedLogits

__all__ = ["CachedCausalSelfAttention", "PositionEmbedding", "TiedLogits", "TransformerBlock"]
