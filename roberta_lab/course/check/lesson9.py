"""Lesson 9, decomposition and input attributions: split a post-LayerNorm sum into per-piece
shares (the LayerNorm's scale frozen), integrated gradients by a midpoint Riemann sum, and
attention rollout.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson9
    >>> lesson9.ex2(lambda grad_fn, x, b, n: (x - b) * grad_fn(
    ...     b + ((np.arange(n) + 0.5) / n).reshape((-1,) + (1,) * np.ndim(x)) * (x - b)).mean(0))
    lesson9.ex2 passed: <lambda> agrees with the reference on 4 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, transposed


# --- references -----------------------------------------------------------------------------
def frozen_layernorm(pieces, ln_input, gamma, eps):
    """pieces [c, d] (what c components wrote; they sum to ``ln_input`` [d]) -> [c, d]: each
    piece centred (its own mean over d removed) and divided by the scale of the whole input,
    sigma = sqrt(var(ln_input) + eps), times gamma. The rows sum to LayerNorm(ln_input) - beta."""
    pieces = np.asarray(pieces, np.float64)
    sigma = np.sqrt(np.var(np.asarray(ln_input, np.float64)) + eps)
    return np.asarray(gamma, np.float64) * (pieces - pieces.mean(-1, keepdims=True)) / sigma


def _alphas(n_steps, ndim):
    return ((np.arange(n_steps) + 0.5) / n_steps).reshape((-1,) + (1,) * ndim)


def integrated_gradients(grad_fn, x, baseline, n_steps):
    """IG by the midpoint rule: (x - baseline) * the mean of grad_fn at the n_steps points
    baseline + a (x - baseline), a = (k + 0.5) / n_steps. ``grad_fn`` takes all the points at
    once ([n_steps, *x.shape]) and returns the gradients at each, same shape."""
    x, baseline = np.asarray(x, np.float64), np.asarray(baseline, np.float64)
    points = baseline + _alphas(n_steps, x.ndim) * (x - baseline)
    return (x - baseline) * np.asarray(grad_fn(points), np.float64).mean(0)


def rollout(patterns):
    """patterns [layer, head, q, k] -> [q, k]: per layer A = mean over heads, A' = 0.5 A +
    0.5 I with each row renormalised to sum 1; the rollout is A'_{L-1} @ ... @ A'_1 @ A'_0."""
    a = np.asarray(patterns, np.float64).mean(1)
    a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
    a = a / a.sum(-1, keepdims=True)
    out = a[0]
    for layer in a[1:]:
        out = layer @ out
    return out


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``frozen_layernorm(pieces, ln_input, gamma, eps)``."""
    r = rng(fresh_seed())
    cases = []
    for c, d in ((2, 16), (3, 8), (5, 32), (2, 64)):
        pieces = r.normal(size=(c, d)) * r.uniform(0.5, 3, size=(c, 1)) + r.normal(size=(c, 1))
        cases.append(((pieces, pieces.sum(0), r.uniform(0.5, 1.5, size=d), 1e-5), {}))
    own = custom(lambda g, w, a: np.allclose(
        g, np.stack([frozen_layernorm(p[None], p, a[2], a[3])[0] for p in a[0]])),
        "each piece was divided by its own spread: freeze the scale of the whole input, "
        "sigma = sqrt(var(ln_input) + eps), and divide every piece by that same sigma, so the "
        "pieces still add up.")
    not_centred = custom(lambda g, w, a: np.allclose(
        g, np.asarray(a[2]) * np.asarray(a[0]) / np.sqrt(np.var(a[1]) + a[3])),
        "the pieces are not centred: LayerNorm subtracts the mean, so subtract each piece's own "
        "mean over d_model (the means add up to the input's mean).")
    no_gamma = custom(lambda g, w, a: np.allclose(np.asarray(g) * np.asarray(a[2]), w),
                      "gamma is missing: multiply by the LayerNorm's gamma (per feature).")
    return compare("lesson9.ex1", student, frozen_layernorm, cases,
                   [shape_hint(), own, not_centred, no_gamma])


def _field(r, d):
    """A smooth test function f(x) = sum(sin(a * x) + b * x**2) and its gradient."""
    a, b = r.uniform(0.5, 2.0, size=d), r.uniform(-0.5, 0.5, size=d)
    return (lambda x: np.sin(a * x).sum(-1) + (b * x ** 2).sum(-1),
            lambda x: a * np.cos(a * x) + 2 * b * x)


def ex2(student) -> None:
    """``integrated_gradients(grad_fn, x, baseline, n_steps)`` on smooth test functions."""
    r = rng(fresh_seed())
    cases = []
    for d, n in ((6, 16), (3, 8), (10, 32), (4, 5)):
        _, grad = _field(r, d)
        cases.append(((grad, r.normal(size=d) * 2, r.normal(size=d) * 0.5, n), {}))
    def ig(a, alphas, factor=True):
        grad_fn, x, b, n = a
        pts = b + alphas.reshape(-1, 1) * (x - b)
        return ((x - b) if factor else 1.0) * grad_fn(pts).mean(0)
    no_delta = custom(lambda g, w, a: np.allclose(g, ig(a, _alphas(a[3], 0).ravel(), False)),
                      "you returned the averaged gradient: multiply it by (x - baseline), "
                      "the distance travelled along the path.")
    left = custom(lambda g, w, a: np.allclose(g, ig(a, np.arange(a[3]) / a[3]))
                  or np.allclose(g, ig(a, np.arange(1, a[3] + 1) / a[3]))
                  or np.allclose(g, ig(a, np.linspace(0, 1, a[3]))),
                  "off by half a step: sample the path at the midpoints a = (k + 0.5) / "
                  "n_steps, not at its ends.")
    at_x = custom(lambda g, w, a: np.allclose(g, (a[1] - a[2]) * a[0](a[1][None])[0]),
                  "you took the gradient at the input only (gradient x input): average the "
                  "gradients along the whole path from the baseline to x.")
    return compare("lesson9.ex2", student, integrated_gradients, cases,
                   [shape_hint(), no_delta, at_x, left])


def ex3(student) -> None:
    """``rollout(patterns)``."""
    r = rng(fresh_seed())
    cases = []
    for layers, heads, n in ((3, 4, 6), (4, 2, 8), (2, 8, 5), (5, 4, 7)):
        e = np.exp(r.normal(scale=1.5, size=(layers, heads, n, n)))
        cases.append(((e / e.sum(-1, keepdims=True),), {}))
    def plain(a, residual=True, reverse=False):
        m = np.asarray(a[0]).mean(1)
        if residual:
            m = 0.5 * m + 0.5 * np.eye(m.shape[-1])
            m = m / m.sum(-1, keepdims=True)
        out = m[0]
        for layer in m[1:]:
            out = out @ layer if reverse else layer @ out
        return out
    reversed_order = custom(lambda g, w, a: np.allclose(g, plain(a, reverse=True)),
                            "the product is in the wrong order: later layers act on what earlier "
                            "ones produced, so multiply A'_l @ rollout_so_far.")
    no_residual = custom(lambda g, w, a: np.allclose(g, plain(a, residual=False)),
                         "the residual connection is missing: use 0.5 A + 0.5 I per layer "
                         "(rows renormalised) before multiplying.")
    return compare("lesson9.ex3", student, rollout, cases,
                   [shape_hint(), transposed(), reversed_order, no_residual])
