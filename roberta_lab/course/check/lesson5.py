"""Lesson 5, the KV cache: the causal mask a decoder uses, and how big the cache grows.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson5
    >>> lesson5.ex1(lambda n: np.tril(np.ones((n, n), bool)))
    lesson5.ex1 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, scale, shape_hint, transposed


# --- references -----------------------------------------------------------------------------
def causal_mask(n):
    """[query, key] bool: True where the query may see the key (key <= query)."""
    return np.tril(np.ones((n, n), dtype=bool))


def cache_bytes(n_layers, n_heads, head_dim, positions, bytes_per_value=4):
    """Bytes of a KV cache for one sequence: keys and values, per layer, per head, per position."""
    return 2 * n_layers * n_heads * head_dim * positions * bytes_per_value


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``causal_mask(n)``."""
    r = rng(fresh_seed())
    cases = [((int(n),), {}) for n in r.integers(3, 40, size=5)]
    strict = custom(lambda g, w, a: np.array_equal(np.asarray(g, bool), np.tril(np.ones_like(w), -1)),
                    "the diagonal is missing: a token may attend to itself (key <= query).")
    return compare("lesson5.ex1", student, causal_mask, cases,
                   [transposed(), strict, shape_hint()],
                   equal=lambda g, w: np.array_equal(np.asarray(g, bool), w)
                   and np.asarray(g).shape == w.shape)


def ex2(student) -> None:
    """``cache_bytes(n_layers, n_heads, head_dim, positions, bytes_per_value=4)``."""
    r = rng(fresh_seed())
    cases = [((4, 4, 64, int(r.integers(5, 128))), {}), ((12, 12, 64, 512), {}),
             ((2, 4, 32, int(r.integers(2, 30))), {"bytes_per_value": 2}),
             ((int(r.integers(2, 9)), 8, 16, 7), {})]
    half = custom(lambda g, w, a: float(g) * 2 == float(w),
                  "half the expected size: the cache holds two tensors per layer, the keys and "
                  "the values.")
    no_layers = custom(lambda g, w, a: float(g) * a[0] == float(w),
                       "the number of layers is missing: every layer keeps its own keys and "
                       "values.")
    return compare("lesson5.ex2", student, cache_bytes, cases, [half, no_layers, scale()],
                   equal=lambda g, w: float(g) == float(w))
