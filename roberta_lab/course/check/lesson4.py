"""Lesson 4, ablation and importance: a head mask for one head, and two ways to compare head
rankings (top-k overlap, rank correlation), which is how the lesson shows why a single-head
sweep and Michel importance disagree.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson4
    >>> lesson4.ex1(lambda L, H, l, h: np.where((np.arange(L)[:, None] == l)
    ...                                          & (np.arange(H) == h), 0.0, 1.0))
    lesson4.ex1 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, transposed


# --- references -----------------------------------------------------------------------------
def single_head_mask(n_layers, n_heads, layer, head):
    """[n_layers, n_heads] float32 of ones with a 0 at (layer, head): ``head_mask`` for one
    ablated head (1 keeps a head, 0 removes it)."""
    mask = np.ones((n_layers, n_heads), np.float32)
    mask[layer, head] = 0.0
    return mask


def top_k_overlap(a, b, k):
    """How many heads are in both top-k lists (largest scores), order ignored."""
    top = lambda x: set(np.argsort(-np.asarray(x).ravel(), kind="stable")[:k].tolist())  # noqa
    return len(top(a) & top(b))


def rank_correlation(a, b):
    """Spearman's correlation: Pearson's correlation of the ranks of the flattened scores."""
    rank = lambda x: np.argsort(np.argsort(np.asarray(x, np.float64).ravel(), kind="stable"),  # noqa
                                kind="stable").astype(np.float64)
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``single_head_mask(n_layers, n_heads, layer, head)``."""
    r = rng(fresh_seed())
    cases = []
    for L, H in ((4, 8), (12, 12), (2, 4), (6, 3), (3, 5)):
        cases.append(((L, H, int(r.integers(L)), int(r.integers(H))), {}))
    inverted = custom(lambda g, w, a: np.allclose(g, 1 - np.asarray(w)),
                      "inverted: in a head mask 1 keeps a head and 0 removes it; start from ones "
                      "and put a 0 at the ablated head.")
    return compare("lesson4.ex1", student, single_head_mask, cases,
                   [inverted, transposed(), shape_hint()])


def ex2(student) -> None:
    """``top_k_overlap(a, b, k)``."""
    r = rng(fresh_seed())
    cases = []
    for shape, k in (((4, 8), 3), ((2, 4), 2), ((12, 12), 10), ((4, 8), 5), ((3, 3), 4)):
        a = r.normal(size=shape)
        b = a + r.normal(scale=0.8, size=shape)
        cases.append(((a, b, k), {}))
    smallest = custom(lambda g, w, a: int(g) == top_k_overlap(-np.asarray(a[0]), -np.asarray(a[1]),
                                                              a[2]),
                      "you compared the k smallest scores: the top-k are the k largest.")
    ordered = custom(lambda g, w, a: int(g) == int(sum(
        x == y for x, y in zip(np.argsort(-np.asarray(a[0]).ravel())[:a[2]],
                               np.argsort(-np.asarray(a[1]).ravel())[:a[2]]))),
        "you compared the lists place by place: order does not matter, count the heads that "
        "are in both sets.")
    return compare("lesson4.ex2", student, top_k_overlap, cases, [smallest, ordered],
                   equal=lambda g, w: int(g) == int(w))


def ex3(student) -> None:
    """``rank_correlation(a, b)``."""
    r = rng(fresh_seed())
    cases = []
    for shape in ((4, 8), (2, 4), (12, 12), (3, 5)):
        a = r.exponential(size=shape) ** 3  # skewed, as importances are: ranks != values
        b = a + r.exponential(size=shape) ** 3
        cases.append(((a, b), {}))
    pearson = custom(lambda g, w, a: np.isclose(g, np.corrcoef(np.ravel(a[0]), np.ravel(a[1]))[0, 1]),
                     "you correlated the scores themselves (Pearson): correlate their ranks "
                     "(Spearman), which only asks whether the orders agree.")
    return compare("lesson4.ex3", student, rank_correlation, cases,
                   [pearson, custom(lambda g, w, a: np.isclose(g, -w),
                                    "the sign is flipped: rank both in the same direction.")])
