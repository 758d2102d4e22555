"""Lesson 10, induction heads: the next-token loss at every position, and a head's induction
score on a sequence made of one random span written twice.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson10
    >>> def score(pattern, length):
    ...     q = np.arange(length + 1, 2 * length + 1)
    ...     return float(np.asarray(pattern)[q, q - length + 1].mean())
    >>> lesson10.ex2(score)
    lesson10.ex2 passed: score agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, sign


# --- references -----------------------------------------------------------------------------
def _log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def next_token_losses(logits, ids):
    """logits [seq, vocab] of a causal LM, ids [seq] -> [seq - 1]: entry t is the cross-entropy
    of predicting ids[t + 1] from position t, -log softmax(logits[t])[ids[t + 1]]."""
    ids = np.asarray(ids)
    logp = _log_softmax(np.asarray(logits)[:-1])
    return -logp[np.arange(len(ids) - 1), ids[1:]]


def induction_score(pattern, length):
    """pattern [q, k] (rows sum to 1) on ``<s> r r`` with ``r`` of ``length`` tokens (so
    q = k = 2 length + 1) -> the mean, over the queries of the second copy (positions
    length + 1 .. 2 length), of the attention on the position just after the same token's
    first occurrence: key q - length + 1."""
    q = np.arange(length + 1, 2 * length + 1)
    return float(np.asarray(pattern, np.float64)[q, q - length + 1].mean())


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``next_token_losses(logits, ids)``."""
    r = rng(fresh_seed())
    cases = []
    for seq, vocab in ((6, 10), (9, 50), (12, 300), (5, 8)):
        cases.append(((r.normal(scale=3.0, size=(seq, vocab)), r.integers(vocab, size=seq)), {}))
    same = custom(lambda g, w, a: np.allclose(
        g, -_log_softmax(a[0])[np.arange(len(a[1])), a[1]][:-1])
        or np.allclose(g, -_log_softmax(a[0])[np.arange(1, len(a[1])), a[1][1:]]),
        "off by one position: the logits at position t predict the NEXT token, ids[t + 1]; "
        "use logits[:-1] against ids[1:].")
    raw = custom(lambda g, w, a: np.allclose(g, -np.asarray(a[0])[np.arange(len(a[1]) - 1),
                                                              a[1][1:]]),
                 "you used the raw logit: the loss is minus the log-probability, so apply "
                 "log_softmax over the vocabulary first.")
    return compare("lesson10.ex1", student, next_token_losses, cases,
                   [sign(), same, raw, shape_hint()])


def _pattern(r, length, planted):
    n = 2 * length + 1
    s = r.normal(scale=1.0, size=(n, n)) + np.where(np.tril(np.ones((n, n))) > 0, 0.0, -np.inf)
    q = np.arange(length + 1, n)
    s[q, q - length + planted] += 3.0  # a head with some preference to check offsets against
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ex2(student) -> None:
    """``induction_score(pattern, length)``: causal random patterns with a planted offset."""
    r = rng(fresh_seed())
    cases = [((_pattern(r, length, planted), length), {})
             for length, planted in ((5, 1), (8, 0), (10, 1), (6, 0), (12, 1))]
    def at(g, a, offset):
        p, length = np.asarray(a[0]), a[1]
        q = np.arange(length + 1, 2 * length + 1)
        return np.isclose(g, p[q, q - length + offset].mean())
    duplicate = custom(lambda g, w, a: at(g, a, 0),
                       "you measured attention on the earlier occurrence of the same token (a "
                       "duplicate-token head): an induction head looks one further, at the token "
                       "that came AFTER it, key q - length + 1.")
    before = custom(lambda g, w, a: at(g, a, -1) or at(g, a, 2),
                    "off by one position: the token after the earlier occurrence of query q's "
                    "token is at key q - length + 1.")
    previous = custom(lambda g, w, a: np.isclose(g, np.mean(np.diagonal(np.asarray(a[0]), -1))),
                      "that is the previous-token score (key q - 1): the induction score looks "
                      "back a whole copy, at key q - length + 1.")
    def every_query(g, w, a):
        p, length = np.asarray(a[0]), a[1]
        q = np.arange(length + 1, 2 * length + 1)
        return np.isclose(g, p[q, q - length + 1].sum() / (2 * length + 1))
    all_q = custom(every_query, "average over the second copy's queries only (positions length "
                                "+ 1 to 2 length): in the first copy there is nothing to copy.")
    return compare("lesson10.ex2", student, induction_score, cases,
                   [duplicate, before, previous, all_q],
                   equal=lambda g, w: np.shape(g) == () and np.isclose(float(g), w))
