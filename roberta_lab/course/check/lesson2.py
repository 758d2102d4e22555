"""Lesson 2, attention patterns and head roles: compute a pattern from queries and keys, score
a head's previous-token habit, and find the previous-token head.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson2
    >>> lesson2.ex2(lambda p: float(np.mean(np.diagonal(np.asarray(p), -1))))
    lesson2.ex2 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, transposed


# --- references -----------------------------------------------------------------------------
def _softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attention_pattern(q, k):
    """q [q_pos, d_head], k [k_pos, d_head] -> [q_pos, k_pos] = softmax(q k^T / sqrt(d_head)),
    each row (one query) summing to 1."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    return _softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=-1)


def previous_token_score(pattern):
    """[q_pos, k_pos] -> the mean over queries 1..n-1 of the attention on key q-1."""
    return float(np.mean(np.diagonal(np.asarray(pattern, np.float64), -1)))


def find_previous_token_head(patterns):
    """[layer, head, q_pos, k_pos] -> (layer, head) of the highest previous-token score."""
    p = np.asarray(patterns, np.float64)
    scores = np.diagonal(p, -1, axis1=-2, axis2=-1).mean(-1)  # [layer, head]
    layer, head = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(layer), int(head)


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``attention_pattern(q, k)``."""
    r = rng(fresh_seed())
    cases = [((r.normal(size=(n, d)), r.normal(size=(m, d))), {})
             for n, m, d in ((5, 5, 8), (7, 7, 16), (3, 6, 4), (9, 9, 64))]
    unscaled = custom(lambda g, w, a: np.allclose(g, _softmax(np.asarray(a[0]) @ np.asarray(a[1]).T)),
                      "the scaling is missing: divide the scores q k^T by sqrt(d_head) before the "
                      "softmax.")
    wrong_axis = custom(lambda g, w, a: np.allclose(np.asarray(g).sum(axis=0), 1.0),
                        "your columns sum to 1, not your rows: take the softmax over the keys "
                        "(the last axis), so each query's attention sums to 1.")
    return compare("lesson2.ex1", student, attention_pattern, cases,
                   [transposed(), shape_hint(), unscaled, wrong_axis])


def _patterns(r, n: int) -> np.ndarray:
    return _softmax(r.normal(scale=2.0, size=(n, n)) + np.where(np.eye(n, k=-1) > 0, 2.0, 0.0))


def ex2(student) -> None:
    """``previous_token_score(pattern)``."""
    r = rng(fresh_seed())
    cases = [((_patterns(r, n),), {}) for n in (4, 6, 9, 12, 20)]
    nxt = custom(lambda g, w, a: np.isclose(g, np.mean(np.diagonal(a[0], 1))),
                 "you measured attention to the next token: the previous token of query i is "
                 "key i-1 (the diagonal below the main one, np.diagonal(p, -1)).")
    itself = custom(lambda g, w, a: np.isclose(g, np.mean(np.diagonal(a[0]))),
                    "you measured attention to the token itself (the main diagonal): off by one "
                    "position; the previous token of query i is key i-1.")
    all_rows = custom(lambda g, w, a: np.isclose(g, np.diagonal(a[0], -1).sum() / len(a[0])),
                      "you divided by all n queries: query 0 has no previous token, so average "
                      "over the n-1 queries that have one.")
    return compare("lesson2.ex2", student, previous_token_score, cases,
                   [nxt, itself, all_rows])


def ex3(student) -> None:
    """``find_previous_token_head(patterns)``: fresh random patterns with one planted head."""
    r = rng(fresh_seed())
    cases = []
    for layers, heads, n in ((4, 8, 10), (3, 4, 7), (6, 2, 12), (2, 12, 9)):
        p = _softmax(r.normal(size=(layers, heads, n, n)))
        l, h = int(r.integers(layers)), int(r.integers(heads))
        if l == h:  # keep (layer, head) != (head, layer), so a swap shows
            l = (l + 1) % layers
        planted = 0.1 * _softmax(r.normal(size=(n, n))) + 0.9 * np.eye(n, k=-1)
        planted[0, 0] += 0.9  # query 0 has no previous token: it looks at itself
        p[l, h] = planted
        cases.append(((p,), {}))
    swapped = custom(lambda g, w, a: tuple(g) == tuple(w)[::-1],
                     "layer and head are swapped: return (layer, head), in that order "
                     "(patterns are [layer, head, query, key]).")
    wrong_layer = custom(lambda g, w, a: tuple(g)[1] == tuple(w)[1] and tuple(g)[0] != tuple(w)[0],
                         "the right head number in the wrong layer: when you unflatten the best "
                         "index, divide by the number of heads (np.unravel_index does it).")
    return compare("lesson2.ex3", student, find_previous_token_head, cases,
                   [swapped, wrong_layer],
                   equal=lambda g, w: tuple(int(x) for x in g) == tuple(w))
