"""Lesson 6, activation patching: the metric (a logit difference), patching one position of the
residual stream from the clean run into the corrupted one, and the normalised score.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson6
    >>> lesson6.ex1(lambda logits, c, w: float(np.asarray(logits)[c] - np.asarray(logits)[w]))
    lesson6.ex1 passed: <lambda> agrees with the reference on 5 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, sign


# --- references -----------------------------------------------------------------------------
def logit_difference(logits, correct_id, wrong_id):
    """[vocab] logits at the read-out position -> logit(correct) - logit(wrong)."""
    logits = np.asarray(logits, np.float64)
    return float(logits[correct_id] - logits[wrong_id])


def patch_position(corrupted, clean, position):
    """[seq, d_model] activations of the two runs -> the corrupted run's, with row
    ``position`` replaced by the clean run's (a new array; the inputs are left alone)."""
    out = np.array(corrupted, copy=True)
    out[position] = np.asarray(clean)[position]
    return out


def patched_fraction(patched, clean, corrupted):
    """How much of the clean metric a patch restores: (patched - corrupted) / (clean -
    corrupted); 1 = all of it, 0 = nothing. ``patched`` may be an array."""
    return (np.asarray(patched, np.float64) - corrupted) / (clean - corrupted)


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``logit_difference(logits, correct_id, wrong_id)``."""
    r = rng(fresh_seed())
    cases = []
    for vocab in (10, 50, 8192, 300, 20):
        a, b = r.choice(vocab, size=2, replace=False)
        cases.append(((r.normal(scale=4.0, size=vocab), int(a), int(b)), {}))
    def probs(g, w, a):
        e = np.exp(np.asarray(a[0]) - np.max(a[0]))
        p = e / e.sum()
        return np.isclose(g, p[a[1]] - p[a[2]])
    return compare("lesson6.ex1", student, logit_difference, cases,
                   [sign(), custom(probs, "you took the difference of probabilities: use the "
                                          "logits (probabilities saturate near 0 and 1).")],
                   equal=lambda g, w: np.isclose(float(g), w))


def ex2(student) -> None:
    """``patch_position(corrupted, clean, position)``."""
    r = rng(fresh_seed())
    cases = []
    for seq, d in ((6, 8), (9, 16), (5, 4), (12, 32)):
        cases.append(((r.normal(size=(seq, d)), r.normal(size=(seq, d)),
                       int(r.integers(1, seq - 1))), {}))
    other_way = custom(lambda g, w, a: np.allclose(g, patch_position(a[1], a[0], a[2])),
                       "you patched the other way round: start from the corrupted run and paste "
                       "in the clean run's activation at that position.")
    neighbour = custom(lambda g, w, a: any(np.allclose(g, patch_position(a[0], a[1], a[2] + s))
                                           for s in (1, -1)),
                       "off by one position: you patched the token next to the one asked for "
                       "(positions count from <s> = 0).")
    return compare("lesson6.ex2", student, patch_position, cases,
                   [other_way, neighbour, shape_hint()])


def ex3(student) -> None:
    """``patched_fraction(patched, clean, corrupted)``."""
    r = rng(fresh_seed())
    cases = []
    for n in (5, 8, 3, 12):
        clean, corrupted = float(r.normal(4.0)), float(r.normal(-2.0))
        cases.append(((r.uniform(corrupted, clean, size=n), clean, corrupted), {}))
    one_minus = custom(lambda g, w, a: np.allclose(g, 1 - np.asarray(w)),
                       "reversed: 0 should mean the patch restored nothing (the corrupted value) "
                       "and 1 everything (the clean value); measure from the corrupted value.")
    from_clean = custom(lambda g, w, a: np.allclose(g, np.asarray(w) - 1),
                        "measured from the clean value: subtract the corrupted metric, so that "
                        "an unpatched run scores 0.")
    return compare("lesson6.ex3", student, patched_fraction, cases,
                   [one_minus, from_clean, sign(), shape_hint()])
