"""Lesson 8, probing: a ridge-regression probe (closed form), its accuracy, and the labels of
a control task (Hewitt & Liang 2019: one random label per word type).

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson8
    >>> lesson8.ex2(lambda w, x, y: float(np.mean(((np.asarray(x) @ w[:-1] + w[-1]) > 0) == y)))
    lesson8.ex2 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint


# --- references -----------------------------------------------------------------------------
def _with_bias(x):
    x = np.asarray(x, np.float64)
    return np.hstack([x, np.ones((len(x), 1))])


def ridge_probe(x, y, lam):
    """x [n, d] features, y [n] labels in {0, 1}, lam > 0 -> w [d + 1] (the last entry is the
    bias): the ridge solution for targets t = 2y - 1 (+-1), with a column of ones appended to x
    (X = [x, 1]): w = (X^T X + lam I)^-1 X^T t."""
    xb = _with_bias(x)
    t = 2.0 * np.asarray(y, np.float64) - 1.0
    return np.linalg.solve(xb.T @ xb + lam * np.eye(xb.shape[1]), xb.T @ t)


def probe_accuracy(w, x, y):
    """The share of examples whose prediction (1 when x @ w[:-1] + w[-1] > 0, else 0) is the
    label."""
    pred = (_with_bias(x) @ np.asarray(w, np.float64)) > 0
    return float(np.mean(pred == (np.asarray(y) == 1)))


def control_labels(types, seed):
    """types: a list of n word types (strings) -> int [n]: draw one label per distinct type,
    ``np.random.default_rng(seed).integers(0, 2, size=len(vocab))`` with ``vocab =
    sorted(set(types))``, and give every occurrence of a type its type's label."""
    vocab = sorted(set(types))
    table = np.random.default_rng(seed).integers(0, 2, size=len(vocab))
    index = {t: i for i, t in enumerate(vocab)}
    return table[[index[t] for t in types]]


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``ridge_probe(x, y, lam)``."""
    r = rng(fresh_seed())
    cases = []
    for n, d, lam in ((40, 8, 1.0), (25, 30, 0.1), (100, 16, 10.0), (60, 4, 0.5)):
        x = r.normal(size=(n, d)) + 1.0
        cases.append(((x, (x[:, 0] + r.normal(scale=0.5, size=n) > 1).astype(int), lam), {}))
    def solve(x, t, lam, bias=True):
        xb = _with_bias(x) if bias else np.asarray(x, np.float64)
        return np.linalg.solve(xb.T @ xb + lam * np.eye(xb.shape[1]), xb.T @ t)
    zero_one = custom(lambda g, w, a: np.allclose(g, solve(a[0], np.asarray(a[1], float), a[2])),
                      "you fitted the 0/1 labels: fit the targets 2y - 1 (-1 and +1), so that "
                      "the decision threshold is 0.")
    no_lam = custom(lambda g, w, a: np.allclose(g, np.linalg.lstsq(
        _with_bias(a[0]), 2.0 * np.asarray(a[1]) - 1, rcond=None)[0]),
        "the regularisation is missing: add lam times the identity to X^T X before solving.")
    no_bias = custom(lambda g, w, a: np.shape(g) == (np.shape(a[0])[1],),
                     "no bias: append a column of ones to x, so w has d + 1 entries (the last "
                     "one is the bias).")
    return compare("lesson8.ex1", student, ridge_probe, cases,
                   [no_bias, zero_one, no_lam, shape_hint()])


def ex2(student) -> None:
    """``probe_accuracy(w, x, y)``."""
    r = rng(fresh_seed())
    cases = []
    for n, d in ((50, 6), (80, 10), (30, 3), (120, 20), (64, 8)):
        x = r.normal(size=(n, d))
        w = r.normal(size=d + 1)
        w[-1] = 2.0  # a bias big enough that leaving it out changes the predictions
        y = ((x @ w[:-1] + w[-1] + r.normal(scale=1.0, size=n)) > 0).astype(int)
        cases.append(((w, x, y), {}))
    flipped = custom(lambda g, w, a: np.isclose(g, 1 - w),
                     "your predictions are the wrong way round: a score above 0 means label 1.")
    no_bias = custom(lambda g, w, a: np.isclose(g, np.mean(((a[1] @ a[0][:-1]) > 0) == a[2])),
                     "the bias is missing: the score is x @ w[:-1] + w[-1].")
    return compare("lesson8.ex2", student, probe_accuracy, cases, [flipped, no_bias],
                   equal=lambda g, w: np.shape(g) == () and np.isclose(float(g), w))


def ex3(student) -> None:
    """``control_labels(types, seed)``."""
    r = rng(fresh_seed())
    words = ["key", "dog", "book", "child", "box", "teacher", "car", "door", "baby", "cat"]
    cases = []
    for n, k in ((30, 6), (50, 10), (12, 4), (40, 8)):
        types = [words[i] for i in r.integers(k, size=n)]
        cases.append(((types, int(r.integers(1000))), {}))
    per_token = custom(lambda g, w, a: any(len({int(v) for v, t in zip(np.asarray(g), a[0])
                                                if t == u}) > 1 for u in set(a[0])),
                       "the same word got different labels: a control task draws one label per "
                       "word type and reuses it for every occurrence, so a probe can only solve "
                       "it by memorising the words.")
    unsorted = custom(lambda g, w, a: np.array_equal(g, _first_seen(*a)),
                      "the right idea, but number the types in sorted order (vocab = "
                      "sorted(set(types))) so that the labels match the reference draw.")
    return compare("lesson8.ex3", student, control_labels, cases,
                   [per_token, unsorted, shape_hint()],
                   equal=lambda g, w: np.shape(g) == np.shape(w) and np.array_equal(g, w))


def _first_seen(types, seed):
    vocab = list(dict.fromkeys(types))
    table = np.random.default_rng(seed).integers(0, 2, size=len(vocab))
    return table[[vocab.index(t) for t in types]]
