"""An n-gram language model with interpolated Kneser-Ney smoothing: the classic baseline beside the text networks.

    >>> tok = kg.text.CharTokenizer.from_text(train)
    >>> ngram = kg.models.NGramModel.fit(tok, train, validation=valid)   # the order chosen on ``valid``
    >>> ngram.nll(valid), ngram.generate("ROMEO:", max_new_tokens=200, temperature=0.8, seed=0)

Pure numpy and Python dictionaries, on the tokenizers the networks use, so its figure is on the same tokens as
theirs. Not a family trained with ``fit``: counting is its training.

Interpolated Kneser-Ney (Chen and Goodman, 1998) of order N: with ``c`` the counts of the highest order and, below
it, continuation counts (how many distinct tokens precede an n-gram),

    P(w | h) = max(c(h w) - D, 0) / c(h) + D * N1+(h .) / c(h) * P(w | h')      (c(h) > 0; else P(w | h'))

where ``h'`` drops the oldest token of ``h`` and ``D = n1 / (n1 + 2 n2)`` per order (n1, n2: how many n-grams of
that order occur once, twice); the order-1 distribution interpolates with the uniform one over the vocabulary,
so every token of the vocabulary has a probability and each distribution sums to 1.
"""

import collections
import json
import math

import numpy as np

from kerasgen.checks import InvalidArgument, check_positive_int, check_real


class NGramModel:
    """An interpolated Kneser-Ney n-gram model of ``order`` over a tokenizer's ids (see the module docstring)."""

    def __init__(self, tokenizer, order, counts, start=()):
        self.tokenizer = tokenizer
        self.order = check_positive_int(order, "order")
        self._counts = counts[: self.order + 1]  # [None, counts of 1-grams, ...]: {context tuple: Counter of next ids}
        self._start = [int(i) for i in start][: self.order - 1]  # the stream's first ids (for save)
        self._levels = [None] + [self._level(k) for k in range(1, self.order + 1)]

    # --- building -------------------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, tokenizer, text, order=None, validation=None, max_order=8):
        """Count ``text`` (a str) under ``tokenizer``. ``order``: the n-gram length; None chooses the one of
        1..``max_order`` with the lowest ``nll`` on ``validation`` (a str, required then)."""
        ids = [int(i) for i in tokenizer.encode(text)]
        if order is not None:
            return cls(tokenizer, order, _count(ids, check_positive_int(order, "order")), ids)
        if validation is None:
            raise InvalidArgument("order=None chooses the order on a validation text: give validation=...")
        counts = _count(ids, check_positive_int(max_order, "max_order"))
        scores = {k: cls(tokenizer, k, counts, ids).nll(validation) for k in range(1, max_order + 1)}
        best = min(scores, key=scores.get)
        model = cls(tokenizer, best, counts, ids)
        model.validation_nll = scores  # {order: validation nats per token}
        return model

    def _level(self, k):
        """Order ``k``'s table: {context: (successor counts, their total, how many successors, discount)}, with
        raw counts at the model's order and continuation counts below it."""
        if k == self.order:
            grams = self._counts[k]
        else:  # continuation counts: distinct tokens seen before (context, w), from the (k+1)-grams
            grams = collections.defaultdict(collections.Counter)
            for context, successors in self._counts[k + 1].items():
                for token in successors:
                    grams[context[1:]][token] += 1
        once = sum(sum(1 for c in successors.values() if c == 1) for successors in grams.values())
        twice = sum(sum(1 for c in successors.values() if c == 2) for successors in grams.values())
        discount = once / (once + 2 * twice) if once else 0.5
        discount = min(max(discount, 0.05), 1.0)
        return {context: (successors, sum(successors.values()), len(successors), discount)
                for context, successors in grams.items()}

    # --- probabilities --------------------------------------------------------------------------------------------

    def probability(self, context, token):
        """P(token | the last ``order - 1`` ids of ``context``)."""
        context = tuple(int(i) for i in context)[max(0, len(context) - self.order + 1):]
        return self._probability(context, int(token))

    def _probability(self, context, token):
        p = 1.0 / self.tokenizer.vocab_size
        for successors, total, types, discount in self._tables(context):
            p = max(successors.get(token, 0) - discount, 0) / total + discount * types / total * p
        return p

    def distribution(self, context):
        """P(. | context) over the whole vocabulary: float64 (vocab_size,), summing to 1."""
        context = tuple(int(i) for i in context)[max(0, len(context) - self.order + 1):]
        p = np.full(self.tokenizer.vocab_size, 1.0 / self.tokenizer.vocab_size)
        for successors, total, types, discount in self._tables(context):
            counts = np.zeros_like(p)
            counts[list(successors)] = list(successors.values())
            p = np.maximum(counts - discount, 0) / total + discount * types / total * p
        return p

    def _tables(self, context):
        """The table entries that ``context`` (at most ``order - 1`` ids) reaches, from order 1 up: each level
        interpolates with the one below it; a context never seen at an order leaves the level below as it is."""
        for k in range(1, self.order + 1):
            if len(context) < k - 1:
                return
            entry = self._levels[k].get(context[len(context) - k + 1:] if k > 1 else ())
            if entry is not None:
                yield entry

    def log_prob(self, text):
        """Each token's log-probability in nats given the tokens before it in ``text``: float64 (tokens - 1,),
        for tokens 1, 2, ... (the first has no history: the networks' figures skip it too)."""
        ids = [int(i) for i in self.tokenizer.encode(text)]
        if len(ids) < 2:
            raise InvalidArgument("text must hold at least two tokens")
        width = self.order - 1
        return np.array([math.log(self._probability(tuple(ids[max(0, i - width):i]), ids[i]))
                         for i in range(1, len(ids))])

    def nll(self, text):
        """Mean negative log-likelihood of ``text`` in nats per token (tokens after the first)."""
        return float(-np.mean(self.log_prob(text)))

    # --- generation -----------------------------------------------------------------------------------------------

    def generate(self, prompt, max_new_tokens=200, temperature=1.0, seed=None):
        """``prompt`` continued by ``max_new_tokens`` tokens drawn from the model (``temperature`` 0: greedy)."""
        check_positive_int(max_new_tokens, "max_new_tokens", 0)
        temperature = check_real(temperature, "temperature", 0)
        rng = np.random.default_rng(seed)
        context = [int(i) for i in self.tokenizer.encode(prompt)]
        drawn = []
        for _ in range(max_new_tokens):
            p = self.distribution(context)
            if temperature == 0:
                token = int(np.argmax(p))
            else:
                logits = np.log(np.maximum(p, 1e-300)) / temperature
                weights = np.exp(logits - logits.max())
                token = int(rng.choice(len(p), p=weights / weights.sum()))
            drawn.append(token)
            context.append(token)
        return self.tokenizer.continue_text(prompt, np.array(drawn, np.int64))

    # --- files ----------------------------------------------------------------------------------------------------

    def save(self, path):
        """A compressed ``.npz`` (``path`` should end in it): the tokenizer's config, the order, the counts of the
        highest order and the stream's first ``order - 1`` ids, from which ``load`` counts every lower order again."""
        grams = [(*context, token) for context, successors in self._counts[self.order].items() for token in successors]
        counts = [count for successors in self._counts[self.order].values() for count in successors.values()]
        header = {"tokenizer": type(self.tokenizer).__name__, "config": self.tokenizer.get_config(),
                  "order": self.order, "start": self._start}
        np.savez_compressed(path, header=np.array(json.dumps(header)),
                            grams=np.array(grams, np.int64).reshape(-1, self.order), counts=np.array(counts, np.int64))

    @classmethod
    def load(cls, path):
        """The model ``save`` wrote to ``path``."""
        from kerasgen import text as text_module

        with np.load(path, allow_pickle=False) as file:
            header = json.loads(str(file["header"]))
            grams, counts = file["grams"].tolist(), file["counts"].tolist()
        tokenizer = getattr(text_module, header["tokenizer"]).from_config(header["config"])
        order, start = header["order"], header["start"]
        # A k-gram is either the last k ids of an order-gram or lies within the stream's first order - 1 ids.
        table = _count(start, order)
        table[order] = collections.defaultdict(collections.Counter)
        for gram, count in zip(grams, counts):
            for k in range(1, order + 1):
                table[k][tuple(gram[order - k:-1])][gram[-1]] += count
        return cls(tokenizer, order, table, start)


def _count(ids, order):
    """[None, 1-gram counts, ..., order-gram counts] of the id stream: {context tuple: Counter of next ids}."""
    ids = [int(i) for i in ids]
    counts = [None]
    for k in range(1, order + 1):
        table = collections.defaultdict(collections.Counter)
        for start in range(len(ids) - k + 1):
            table[tuple(ids[start:start + k - 1])][ids[start + k - 1]] += 1
        counts.append(table)
    return counts
