"""Every exercise checker accepts the reference solution and rejects typical wrong answers
with the hint a student needs (mutation tests of the checkers)."""

from __future__ import annotations

import numpy as np
import pytest

from roberta_lab.course import check
from roberta_lab.course.check import (ExerciseError, lesson1, lesson2, lesson3, lesson4, lesson5,
                                      lesson6, lesson7, lesson8, lesson9, lesson10)


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


REFERENCES = {
    (lesson1, "ex1"): lesson1.mask_positions, (lesson1, "ex2"): lesson1.top_k_tokens,
    (lesson1, "ex3"): lesson1.mask_probabilities,
    (lesson2, "ex1"): lesson2.attention_pattern, (lesson2, "ex2"): lesson2.previous_token_score,
    (lesson2, "ex3"): lesson2.find_previous_token_head,
    (lesson3, "ex1"): lesson3.block_update, (lesson3, "ex2"): lesson3.target_rank,
    (lesson4, "ex1"): lesson4.single_head_mask, (lesson4, "ex2"): lesson4.top_k_overlap,
    (lesson4, "ex3"): lesson4.rank_correlation,
    (lesson5, "ex1"): lesson5.causal_mask, (lesson5, "ex2"): lesson5.cache_bytes,
    (lesson6, "ex1"): lesson6.logit_difference, (lesson6, "ex2"): lesson6.patch_position,
    (lesson6, "ex3"): lesson6.patched_fraction,
    (lesson7, "ex1"): lesson7.relative_change, (lesson7, "ex2"): lesson7.linear_cka,
    (lesson8, "ex1"): lesson8.ridge_probe, (lesson8, "ex2"): lesson8.probe_accuracy,
    (lesson8, "ex3"): lesson8.control_labels,
    (lesson9, "ex1"): lesson9.frozen_layernorm, (lesson9, "ex2"): lesson9.integrated_gradients,
    (lesson9, "ex3"): lesson9.rollout,
    (lesson10, "ex1"): lesson10.next_token_losses, (lesson10, "ex2"): lesson10.induction_score,
}


def _with_bias(x):
    return np.hstack([x, np.ones((len(x), 1))])


def _ridge(x, t, lam, bias=True):
    xb = _with_bias(x) if bias else x
    return np.linalg.solve(xb.T @ xb + lam * np.eye(xb.shape[1]), xb.T @ t)


def _cka(x, y, centre=0):
    if centre is not None:
        x, y = x - x.mean(centre, keepdims=True), y - y.mean(centre, keepdims=True)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def _ig(grad_fn, x, b, n, alphas=None, factor=True):
    a = (np.arange(n) + 0.5) / n if alphas is None else alphas(n)
    return ((x - b) if factor else 1.0) * grad_fn(b + a[:, None] * (x - b)).mean(0)


def _rollout(p, residual=True, reverse=False):
    a = p.mean(1)
    if residual:
        a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
        a = a / a.sum(-1, keepdims=True)
    out = a[0]
    for layer in a[1:]:
        out = out @ layer if reverse else layer @ out
    return out


def _induction(offset):
    def score(p, n):
        q = np.arange(n + 1, 2 * n + 1)
        return float(p[q, q - n + offset].mean())
    return score


def _log_softmax(x):
    return np.log(_softmax(x))


def _patched_in_place(corrupted, clean, position):
    corrupted[position] = clean[position]  # also changes the caller's array: still right
    return corrupted

# (module, exercise, a typical wrong answer, words the hint must contain)
WRONG = [
    (lesson1, "ex1", lambda ids, m: np.flatnonzero(np.asarray(ids) == m) - 1, "off by one position"),
    (lesson1, "ex1", lambda ids, m: np.asarray(ids) == m, "True/False mask"),
    (lesson1, "ex2", lambda x, k: np.argsort(x)[:k], "least likely"),
    (lesson1, "ex2", lambda x, k: np.argsort(x)[-k:], "wrong order"),
    (lesson1, "ex3", lambda x, p: np.asarray(x)[p], "logits, not probabilities"),
    (lesson1, "ex3", lambda x, p: _softmax(np.asarray(x), axis=0)[p], "over the vocabulary"),
    (lesson1, "ex3", lambda x, p: _softmax(np.asarray(x)[p + 1]), "off by one position"),
    (lesson2, "ex1", lambda q, k: _softmax(q @ k.T), "sqrt(d_head)"),
    (lesson2, "ex1", lambda q, k: _softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=0), "columns"),
    (lesson2, "ex1", lambda q, k: _softmax(q @ k.T / np.sqrt(q.shape[-1])).T, "transpose"),
    (lesson2, "ex2", lambda p: np.mean(np.diagonal(p, 1)), "next token"),
    (lesson2, "ex2", lambda p: np.mean(np.diagonal(p)), "itself"),
    (lesson2, "ex2", lambda p: np.diagonal(p, -1).sum() / len(p), "n-1 queries"),
    (lesson2, "ex3", lambda p: lesson2.find_previous_token_head(p)[::-1], "swapped"),
    (lesson2, "ex3", lambda p: (int(np.argmax(np.diagonal(p, -1, axis1=-2, axis2=-1).mean(-1)))
                                // p.shape[0],
                                int(np.argmax(np.diagonal(p, -1, axis1=-2, axis2=-1).mean(-1)))
                                % p.shape[1]), "wrong layer"),
    (lesson3, "ex1", lambda hs, l: hs[l] - hs[l + 1], "sign"),
    (lesson3, "ex1", lambda hs, l: hs[l] - hs[l - 1], "wrong layer"),
    (lesson3, "ex1", lambda hs, l: hs[l + 1], "not the change"),
    (lesson3, "ex2", lambda x, t: int((np.asarray(x) >= np.asarray(x)[t]).sum()), "0-based"),
    (lesson3, "ex2", lambda x, t: int((np.asarray(x) < np.asarray(x)[t]).sum()), "below"),
    (lesson4, "ex1", lambda L, H, l, h: 1 - lesson4.single_head_mask(L, H, l, h), "inverted"),
    (lesson4, "ex1", lambda L, H, l, h: lesson4.single_head_mask(H, L, h, l), "transpose"),
    (lesson4, "ex2", lambda a, b, k: lesson4.top_k_overlap(-a, -b, k), "smallest"),
    (lesson4, "ex2", lambda a, b, k: int(sum(x == y for x, y in zip(
        np.argsort(-a.ravel())[:k], np.argsort(-b.ravel())[:k]))), "place by place"),
    (lesson4, "ex3", lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), "ranks"),
    (lesson4, "ex3", lambda a, b: -lesson4.rank_correlation(a, b), "sign"),
    (lesson5, "ex1", lambda n: np.triu(np.ones((n, n), bool)), "transpose"),
    (lesson5, "ex1", lambda n: np.tril(np.ones((n, n), bool), -1), "itself"),
    (lesson5, "ex2", lambda L, H, D, P, bytes_per_value=4: L * H * D * P * bytes_per_value,
     "keys and"),
    (lesson5, "ex2", lambda L, H, D, P, bytes_per_value=4: 2 * H * D * P * bytes_per_value,
     "layers"),
    (lesson6, "ex1", lambda x, c, w: float(x[w] - x[c]), "sign"),
    (lesson6, "ex1", lambda x, c, w: float(_softmax(x)[c] - _softmax(x)[w]), "probabilities"),
    (lesson6, "ex2", lambda cor, cl, p: lesson6.patch_position(cl, cor, p), "other way"),
    (lesson6, "ex2", lambda cor, cl, p: lesson6.patch_position(cor, cl, p + 1), "off by one"),
    (lesson6, "ex3", lambda p, c, k: 1 - lesson6.patched_fraction(p, c, k), "reversed"),
    (lesson6, "ex3", lambda p, c, k: (np.asarray(p) - c) / (c - k), "from the clean"),
    (lesson7, "ex1", lambda b, a: float(np.linalg.norm(a - b)), "size of the change itself"),
    (lesson7, "ex1", lambda b, a: abs(np.linalg.norm(a) - np.linalg.norm(b)) / np.linalg.norm(b),
     "norm of the difference"),
    (lesson7, "ex1", lambda b, a: np.linalg.norm(a - b) / np.linalg.norm(a), "after training"),
    (lesson7, "ex2", lambda x, y: _cka(x, y, None), "not centred"),
    (lesson7, "ex2", lambda x, y: _cka(x, y, 1), "each example (row)"),
    (lesson7, "ex2", lambda x, y: np.sqrt(_cka(x, y)), "squared"),
    (lesson8, "ex1", lambda x, y, lam: _ridge(x, 2 * y - 1, lam, bias=False), "no bias"),
    (lesson8, "ex1", lambda x, y, lam: _ridge(x, y.astype(float), lam), "0/1 labels"),
    (lesson8, "ex1", lambda x, y, lam: np.linalg.lstsq(_with_bias(x), 2 * y - 1, rcond=None)[0],
     "regularisation is missing"),
    (lesson8, "ex2", lambda w, x, y: np.mean(((x @ w[:-1] + w[-1]) < 0) == y), "wrong way round"),
    (lesson8, "ex2", lambda w, x, y: np.mean(((x @ w[:-1]) > 0) == y), "bias is missing"),
    (lesson8, "ex3", lambda t, s: np.random.default_rng(s).integers(0, 2, size=len(t)),
     "same word got different labels"),
    (lesson8, "ex3", lesson8._first_seen, "sorted order"),
    (lesson9, "ex1", lambda p, x, g, e: np.stack([g * (q - q.mean()) / np.sqrt(q.var() + e)
                                                  for q in p]), "its own spread"),
    (lesson9, "ex1", lambda p, x, g, e: g * p / np.sqrt(np.var(x) + e), "not centred"),
    (lesson9, "ex1", lambda p, x, g, e: (p - p.mean(-1, keepdims=True)) / np.sqrt(np.var(x) + e),
     "gamma is missing"),
    (lesson9, "ex2", lambda f, x, b, n: _ig(f, x, b, n, factor=False), "(x - baseline)"),
    (lesson9, "ex2", lambda f, x, b, n: _ig(f, x, b, n, alphas=lambda k: np.arange(k) / k),
     "midpoints"),
    (lesson9, "ex2", lambda f, x, b, n: (x - b) * f(x[None])[0], "gradient x input"),
    (lesson9, "ex3", lambda p: _rollout(p, reverse=True), "wrong order"),
    (lesson9, "ex3", lambda p: _rollout(p, residual=False), "residual connection"),
    (lesson9, "ex3", lambda p: lesson9.rollout(p).T, "transpose"),
    (lesson10, "ex1", lambda lo, i: _log_softmax(lo)[np.arange(len(i) - 1), i[1:]], "sign"),
    (lesson10, "ex1", lambda lo, i: -_log_softmax(lo)[np.arange(len(i)), i][:-1], "NEXT token"),
    (lesson10, "ex1", lambda lo, i: -lo[np.arange(len(i) - 1), i[1:]], "raw logit"),
    (lesson10, "ex2", _induction(0), "duplicate-token head"),
    (lesson10, "ex2", _induction(2), "off by one position"),
    (lesson10, "ex2", lambda p, n: float(np.mean(np.diagonal(p, -1))), "previous-token score"),
    (lesson10, "ex2", lambda p, n: float(p[np.arange(n + 1, 2 * n + 1), np.arange(2, n + 2)].sum()
                                         / (2 * n + 1)), "second copy's queries only"),
]


@pytest.mark.parametrize("module, name", list(REFERENCES), ids=lambda x: getattr(x, "__name__",
                                                                                 str(x)))
def test_checker_accepts_the_reference(module, name, capsys):
    getattr(module, name)(REFERENCES[(module, name)])
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("module, name, wrong, words", WRONG,
                         ids=[f"{m.__name__.rsplit('.', 1)[1]}.{n}-{w}" for m, n, _, w in WRONG])
def test_checker_names_the_mistake(module, name, wrong, words):
    with pytest.raises(ExerciseError) as err:
        getattr(module, name)(wrong)
    assert words in str(err.value), str(err.value)
    assert str(err.value).startswith(f"{module.__name__.rsplit('.', 1)[1]}.{name}: ")


def test_every_exercise_has_two_wrong_answers_tested():
    for module, name in REFERENCES:
        assert sum(1 for m, n, _, _ in WRONG if (m, n) == (module, name)) >= 2, (module, name)


def test_common_mistakes_are_said_plainly():
    def unfinished(*_):
        raise NotImplementedError()

    with pytest.raises(ExerciseError, match="not done yet"):
        lesson1.ex1(unfinished)
    with pytest.raises(ExerciseError, match="forget `return`"):
        lesson1.ex1(lambda ids, m: None)
    with pytest.raises(ExerciseError, match="no parentheses"):
        lesson1.ex1(np.array([1]))
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        lesson1.ex1(lambda ids, m: 1 / 0)
    assert check.lesson5 is lesson5
    lesson6.ex2(_patched_in_place)  # an in-place answer is right too (the reference runs first)
