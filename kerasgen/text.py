"""Tokenizers: text to int32 ids and back, one class per level.

Both share one out-of-vocabulary rule: id 0 is reserved for tokens outside
the vocabulary. Encoding never fails on unseen characters or words; they become
id 0, which decodes to the tokenizer's ``oov_token`` (U+FFFD for characters,
``<unk>`` for words). ``unseen_tokens`` and ``unknown_share`` say how much of a
text falls outside; ``extended`` adds tokens after the old ones (models follow
with ``extend_vocabulary``). The vocabulary is stored in ``get_config()``, so a
model that carries its tokenizer saves and loads it with the weights.
"""

import collections
import re

import keras
import numpy as np

from kerasgen.checks import InvalidArgument, WrongType

OOV_ID = 0


def describe_tokens(tokens, limit=20):
    """The first ``limit`` tokens, repr'd and comma-separated, then "and N more" if there are more."""
    listed = ", ".join(repr(token) for token in tokens[:limit])
    return listed + (f" and {len(tokens) - limit} more" if len(tokens) > limit else "")


class Tokenizer:
    """A fixed vocabulary with a reserved out-of-vocabulary id 0.

    Subclasses say how text splits into tokens (``split``) and how tokens join
    back into text (``join``). Lookup is a dict (no TensorFlow): the ids are those
    of a keras ``StringLookup`` with one out-of-vocabulary index, which earlier
    versions used, so saved models keep their ids.
    """

    level = None
    separator = None
    oov_token = None
    boundary_token = None

    def __init__(self, vocabulary):
        vocabulary = [str(token) for token in vocabulary]
        if not vocabulary:
            raise InvalidArgument("vocabulary must not be empty")
        if len(set(vocabulary)) != len(vocabulary):
            raise InvalidArgument("vocabulary must not contain duplicates")
        if self.oov_token in vocabulary:
            raise InvalidArgument(f"vocabulary must not contain the out-of-vocabulary token {self.oov_token!r}")
        self.vocabulary = vocabulary
        self._ids = {token: index for index, token in enumerate(vocabulary, start=1)}
        self._tokens = np.array([self.oov_token, *vocabulary], dtype=object)

    @property
    def vocab_size(self):
        """Number of ids, the out-of-vocabulary id included."""
        return len(self._tokens)

    @property
    def tokens(self):
        """Every token by id: ``tokens[0]`` is ``oov_token``, then the vocabulary."""
        return self._tokens.tolist()

    @property
    def boundary_id(self):
        """Id of the token that starts generation from an empty prompt."""
        return int(self.encode_tokens([self.boundary_token])[0])

    def split(self, text):
        raise NotImplementedError

    def join(self, tokens):
        raise NotImplementedError

    def encode_tokens(self, tokens):
        """A list of tokens to a 1-D int32 array of ids; unseen tokens become id 0."""
        return np.array([self._ids.get(token, OOV_ID) for token in tokens], np.int32)

    def encode(self, text):
        """Text to a 1-D int32 array of ids; unseen tokens become id 0."""
        return self.encode_tokens(self.split(self._check_text(text)))

    @staticmethod
    def _check_text(text):
        if not isinstance(text, str):
            raise WrongType(f"text must be a str, got {type(text).__name__}")
        return text

    def unseen_tokens(self, text):
        """The distinct tokens of ``text`` outside the vocabulary, in order of first appearance.

        These are the tokens ``encode`` reads as the out-of-vocabulary id 0; the
        ``oov_token`` itself is part of the vocabulary's rule and never listed.
        """
        tokens = self.split(self._check_text(text))
        ids = self.encode_tokens(tokens)
        return list(dict.fromkeys(t for t, i in zip(tokens, ids) if i == OOV_ID and t != self.oov_token))

    def unknown_share(self, text):
        """The fraction of the tokens of ``text`` (repeats counted) outside the vocabulary; 0.0 for empty text."""
        tokens = self.split(self._check_text(text))
        if not tokens:
            return 0.0
        ids = self.encode_tokens(tokens)
        return sum(i == OOV_ID and t != self.oov_token for t, i in zip(tokens, ids)) / len(tokens)

    def extended(self, new_tokens):
        """A new tokenizer of this class: this vocabulary, then ``new_tokens`` (a list of str) in their order.

        Every old id keeps its token. Tokens already known (the ``oov_token``
        included) and repeats are ignored. Each new token must be a single
        token of this level (one character; one word without spaces).
        """
        if isinstance(new_tokens, str) or not isinstance(new_tokens, (list, tuple)):
            raise WrongType(f"new_tokens must be a list of str, got {type(new_tokens).__name__}")
        for token in new_tokens:
            if not isinstance(token, str) or self.split(token) != [token]:
                raise InvalidArgument(f"{token!r} is not a single {self.level} token")
        known = {self.oov_token, *self.vocabulary}
        config = self.get_config()
        config["vocabulary"] = self.vocabulary + [t for t in dict.fromkeys(new_tokens) if t not in known]
        return type(self).from_config(config)

    def decode(self, ids):
        """A 1-D sequence of ids back to text."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise InvalidArgument(f"ids must be 1-D, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise InvalidArgument(f"ids must lie in [0, {self.vocab_size}), got values in [{ids.min()}, {ids.max()}]")
        return self.join(self._tokens[ids.astype(np.int64)].tolist())

    def continue_text(self, prompt, ids):
        """``prompt`` followed by the decoded ``ids``, separated as the level requires."""
        text = self.decode(ids)
        if self.separator and prompt and text and not prompt[-1].isspace() and not text[0].isspace():
            return prompt + self.separator + text
        return prompt + text

    def get_config(self):
        return {"vocabulary": list(self.vocabulary)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


@keras.saving.register_keras_serializable(package="kerasgen")
class CharTokenizer(Tokenizer):
    """Character-level tokenizer: every Unicode character is a token.

    Example:
    >>> tok = CharTokenizer.from_text("hello world")
    >>> tok.decode(tok.encode("hello"))
    'hello'
    """

    level = "char"
    separator = ""
    oov_token = "\ufffd"
    boundary_token = "\n"

    @classmethod
    def from_text(cls, text):
        """The sorted set of characters in ``text`` is the vocabulary."""
        if not isinstance(text, str) or not text:
            raise InvalidArgument("text must be a non-empty str")
        return cls(sorted(set(text) - {cls.oov_token}))

    def split(self, text):
        return list(text)

    def join(self, tokens):
        return "".join(tokens)


@keras.saving.register_keras_serializable(package="kerasgen")
class WordTokenizer(Tokenizer):
    """Word-level tokenizer: words are runs of non-space characters.

    Each line break is the token ``<eos>`` (decoded back to a line break), so
    line-per-sentence corpora such as Penn Treebank keep their sentence ends.
    Words are kept as written (no lower-casing). ``<unk>`` in the text is the
    out-of-vocabulary token itself.

    Example:
    >>> tok = WordTokenizer.from_text("the cat sat\\nthe dog sat\\n", max_vocab=10)
    >>> tok.decode(tok.encode("the cat ran"))
    'the cat <unk>'
    """

    level = "word"
    separator = " "
    oov_token = "<unk>"
    boundary_token = "<eos>"

    @classmethod
    def from_text(cls, text, max_vocab=None):
        """The ``max_vocab - 1`` most frequent tokens (ties alphabetical) plus ``<unk>``."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument("text must be a non-empty str with at least one word")
        if max_vocab is not None and (not isinstance(max_vocab, int) or max_vocab < 2):
            raise InvalidArgument(f"max_vocab must be an int >= 2 or None, got {max_vocab!r}")
        counts = collections.Counter(cls.split(cls, text))
        counts.pop(cls.oov_token, None)
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if max_vocab is not None:
            ranked = ranked[: max_vocab - 1]
        return cls(ranked)

    def split(self, text):
        return [self.boundary_token if t == "\n" else t for t in re.findall(r"[^\s]+|\n", text)]

    def join(self, tokens):
        pieces = []
        for token in tokens:
            if token == self.boundary_token:
                pieces.append("\n")
                continue
            if pieces and pieces[-1] != "\n":
                pieces.append(" ")
            pieces.append(token)
        return "".join(pieces)
