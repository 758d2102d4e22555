"""Lesson 1, tokens and the masked LM: find the masks, read the top-k, turn logits into
probabilities.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson1
    >>> lesson1.ex1(lambda ids, mask_id: np.flatnonzero(np.asarray(ids) == mask_id))
    lesson1.ex1 passed: <lambda> agrees with the reference on 6 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, shifted

MASK_ID = 4  # the bundled tokenizer's <mask>


# --- references -----------------------------------------------------------------------------
def mask_positions(input_ids, mask_token_id):
    """[seq] ids -> int positions of ``mask_token_id``, in order (``<s>`` is position 0)."""
    return np.flatnonzero(np.asarray(input_ids) == mask_token_id)


def top_k_tokens(logits, k):
    """[vocab] logits -> the k token ids with the largest logits, the largest first."""
    logits = np.asarray(logits)
    return np.argsort(-logits, kind="stable")[:k]


def mask_probabilities(logits, position):
    """[seq, vocab] logits -> [vocab] probabilities at ``position`` (softmax over the vocab)."""
    x = np.asarray(logits, np.float64)[position]
    e = np.exp(x - x.max())
    return e / e.sum()


# --- checks -----------------------------------------------------------------------------------
def _ids_cases(seed: int):
    r = rng(seed)
    cases = []
    for n in (6, 9, 12, 7, 15, 10):
        ids = r.integers(5, 8192, size=n)
        ids[0], ids[-1] = 0, 2  # <s> ... </s>
        where = r.choice(np.arange(1, n - 1), size=int(r.integers(1, 3)), replace=False)
        ids[where] = MASK_ID
        cases.append(((ids, MASK_ID), {}))
    return cases


def ex1(student) -> None:
    """``mask_positions(input_ids, mask_token_id)``: the positions of every ``<mask>``."""
    bool_mask = custom(lambda g, w, a: np.asarray(g).dtype == bool,
                       "you returned a True/False mask over the tokens; return the positions "
                       "themselves (np.flatnonzero turns a mask into positions).")
    return compare("lesson1.ex1", student, mask_positions, _ids_cases(fresh_seed()),
                   [bool_mask, shifted(what="position (remember <s> is position 0: count "
                                            "from the first token, not from the first word)"),
                    shape_hint()])


def ex2(student) -> None:
    """``top_k_tokens(logits, k)``: the k most likely token ids, most likely first."""
    r = rng(fresh_seed())
    cases = [((r.normal(size=v), k), {}) for v, k in ((50, 5), (300, 3), (8192, 10), (20, 1))]
    smallest = custom(lambda g, w, a: set(np.asarray(g).tolist())
                      == set(np.argsort(a[0])[:a[1]].tolist()) and a[1] > 0,
                      "you picked the least likely tokens: sort by logit in descending order "
                      "(np.argsort(-logits)).")
    order = custom(lambda g, w, a: sorted(np.asarray(g).tolist()) == sorted(np.asarray(w).tolist()),
                   "the right tokens in the wrong order: the most likely token comes first.")
    return compare("lesson1.ex2", student, top_k_tokens, cases,
                   [smallest, order, shape_hint()], equal=lambda g, w: np.array_equal(
                       np.asarray(g), np.asarray(w)))


def ex3(student) -> None:
    """``mask_probabilities(logits, position)``: the softmax over the vocabulary at one position."""
    r = rng(fresh_seed())
    cases = []
    for seq, vocab in ((7, 30), (12, 100), (5, 8192)):
        logits = r.normal(scale=3.0, size=(seq, vocab))
        cases.append(((logits, int(r.integers(1, seq - 1))), {}))
    raw = custom(lambda g, w, a: np.allclose(np.asarray(g), np.asarray(a[0])[a[1]]),
                 "these are the logits, not probabilities: apply a softmax (the values must "
                 "be positive and sum to 1).")
    wrong_axis = custom(lambda g, w, a: not np.isclose(np.asarray(g, np.float64).sum(), 1.0),
                        "your probabilities do not sum to 1 over the vocabulary: take the softmax "
                        "over the vocabulary (the last axis), not over the positions.")
    neighbour = custom(lambda g, w, a: any(
        0 <= a[1] + s < len(a[0]) and np.allclose(np.asarray(g), mask_probabilities(a[0], a[1] + s))
        for s in (1, -1)), "off by one position: you read the probabilities of the token next "
                           "to the mask (positions count from <s> = 0).")
    return compare("lesson1.ex3", student, mask_probabilities, cases,
                   [raw, shape_hint(), neighbour, wrong_axis])
