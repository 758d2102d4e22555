"""Lesson 7, fine-tuning and what changes inside: how far a weight matrix moved (relative to
its size), and how similar two sets of hidden states are (linear CKA).

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson7
    >>> lesson7.ex1(lambda b, a: float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b)))
    lesson7.ex1 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint


# --- references -----------------------------------------------------------------------------
def relative_change(before, after):
    """Two arrays of the same shape (one weight, before and after training) ->
    ||after - before|| / ||before|| (Frobenius norms, i.e. over all entries)."""
    before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def _centre(x):
    x = np.asarray(x, np.float64)
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x, y):
    """x [n, d1], y [n, d2] (the same n examples, two representations) -> linear CKA
    (Kornblith et al. 2019): with each column centred,
    ||y^T x||_F^2 / (||x^T x||_F ||y^T y||_F); 1 = the same up to rotation and scale."""
    x, y = _centre(x), _centre(y)
    return float(np.linalg.norm(y.T @ x) ** 2
                 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``relative_change(before, after)``."""
    r = rng(fresh_seed())
    cases = []
    for shape, size in (((16, 8), 0.5), ((32,), 0.1), ((8, 8), 2.0), ((64, 4), 0.05),
                        ((5, 7), 1.0)):
        before = r.normal(size=shape) + 0.5
        cases.append(((before, before + r.normal(scale=size, size=shape)), {}))
    absolute = custom(lambda g, w, a: np.isclose(g, np.linalg.norm(a[1] - a[0])),
                      "you returned the size of the change itself: divide it by the size of the "
                      "weights before training, so big and small matrices can be compared.")
    of_norms = custom(lambda g, w, a: np.isclose(
        g, abs(np.linalg.norm(a[1]) - np.linalg.norm(a[0])) / np.linalg.norm(a[0])),
        "you compared the two norms: take the norm of the difference, ||after - before||; a "
        "rotation changes the weights without changing their norm.")
    by_after = custom(lambda g, w, a: np.isclose(g, np.linalg.norm(a[1] - a[0])
                                                 / np.linalg.norm(a[1])),
                      "you divided by the weights after training: measure the change relative "
                      "to where they started, ||before||.")
    return compare("lesson7.ex1", student, relative_change, cases,
                   [absolute, of_norms, by_after, shape_hint()],
                   equal=lambda g, w: np.shape(g) == () and np.isclose(float(g), w, rtol=1e-6))


def ex2(student) -> None:
    """``linear_cka(x, y)``: random representations, some related by a rotation."""
    r = rng(fresh_seed())
    cases = []
    for n, d1, d2 in ((20, 8, 8), (30, 16, 12), (50, 4, 10), (12, 6, 6)):
        x = r.normal(size=(n, d1)) + r.normal(size=d1) * 3  # a column offset: centring matters
        q, _ = np.linalg.qr(r.normal(size=(d1, d1)))
        related = (x @ q)[:, :d2] if d2 <= d1 else np.hstack([x @ q, r.normal(size=(n, d2 - d1))])
        y = related + r.normal(scale=0.5, size=(n, d2)) + r.normal(size=d2) * 3
        cases.append(((x, y), {}))
    def uncentred(x, y):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))
    no_centre = custom(lambda g, w, a: np.isclose(g, uncentred(*a)),
                       "the columns are not centred: subtract each feature's mean over the "
                       "examples (x - x.mean(axis=0)) from both x and y first.")
    rows = custom(lambda g, w, a: np.isclose(g, uncentred(_centre(np.asarray(a[0]).T).T,
                                                         _centre(np.asarray(a[1]).T).T)),
                  "you centred each example (row) instead of each feature (column): take the "
                  "mean over axis 0, the examples.")
    def unsquared(x, y):
        x, y = _centre(x), _centre(y)
        return np.linalg.norm(y.T @ x) / np.sqrt(np.linalg.norm(x.T @ x)
                                                 * np.linalg.norm(y.T @ y))
    not_squared = custom(lambda g, w, a: np.isclose(g, unsquared(*a)),
                         "the numerator must be squared: ||y^T x||_F ** 2.")
    return compare("lesson7.ex2", student, linear_cka, cases,
                   [no_centre, rows, not_squared, shape_hint()],
                   equal=lambda g, w: np.shape(g) == () and np.isclose(float(g), w, rtol=1e-6))
