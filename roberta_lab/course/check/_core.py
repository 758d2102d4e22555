"""The checking machinery shared by the lessons' checkers (after ARENA's ``tests.py``).

``compare(name, student, reference, cases, hints)``: for every case (fresh inputs built from a
seed), call both functions and compare. On the first mismatch, try the hints in order and raise
``ExerciseError`` with the first that explains the difference, else a plain description of the
difference (where and by how much). Hints are small functions ``(got, want, args) -> bool``
paired with a sentence; ``HINTS`` holds the common ones.

Example:
    >>> import numpy as np
    >>> ref = lambda x: np.cumsum(x)
    >>> cases = [((np.arange(4.0),), {})]
    >>> compare("demo", ref, ref, cases)
    demo passed: <lambda> agrees with the reference on 1 fresh input.
    >>> try:
    ...     compare("demo", lambda x: -np.cumsum(x), ref, cases, [sign()])
    ... except ExerciseError as e:
    ...     print(e)
    demo: the sign is flipped: your values are the negative of the expected ones.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

Case = tuple[tuple[Any, ...], dict[str, Any]]
Hint = tuple[Callable[[Any, Any, tuple], bool], str]


class ExerciseError(AssertionError):
    """What is wrong with an answer, in plain words."""


def as_array(x: Any) -> np.ndarray:
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def close(a: Any, b: Any, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    a, b = as_array(a), as_array(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), atol=atol, rtol=rtol,
                            equal_nan=True))


# --- hints ----------------------------------------------------------------------------------
def shape_hint() -> Hint:
    """Shapes differ: says both, and whether the answer is the transpose."""
    def test(got, want, _):
        return as_array(got).shape != as_array(want).shape
    return test, "shape"


def transposed() -> Hint:
    def test(got, want, _):
        g, w = as_array(got), as_array(want)
        return g.ndim >= 2 and g.shape == w.shape[::-1] and close(g.T, w)
    return test, "the axes are swapped: your answer is the transpose of the expected one."


def sign() -> Hint:
    def test(got, want, _):
        w = as_array(want)
        return np.abs(w).max() > 0 and close(as_array(got), -w)
    return test, "the sign is flipped: your values are the negative of the expected ones."


def scale() -> Hint:
    def test(got, want, _):
        g, w = as_array(got).astype(np.float64), as_array(want).astype(np.float64)
        if g.shape != w.shape or not np.abs(w).max() > 0:
            return False
        ratio = np.median(g[np.abs(w) > 1e-9] / w[np.abs(w) > 1e-9])
        return not np.isclose(ratio, 1.0) and close(g, ratio * w)
    return test, "off by a constant factor: check the scaling (a square root, a mean vs a sum)."


def shifted(axis: int = -1, what: str = "position") -> Hint:
    """The answer equals the expected one moved by one along ``axis`` (or, for integer
    answers such as indices, every value one too high or too low)."""
    def test(got, want, _):
        g, w = as_array(got), as_array(want)
        if g.shape != w.shape:
            return False
        if w.dtype.kind in "iu" and g.dtype.kind in "iu":
            return bool(np.array_equal(g, w + 1) or np.array_equal(g, w - 1))
        return any(close(np.roll(g, s, axis=axis)[_inner(g.shape[axis], axis, g.ndim)],
                         w[_inner(w.shape[axis], axis, w.ndim)]) for s in (1, -1))
    return test, f"off by one {what}: your answer is the expected one shifted by one."


def _inner(n: int, axis: int, ndim: int) -> tuple:
    index = [slice(None)] * ndim
    index[axis] = slice(1, max(n - 1, 1))
    return tuple(index)


def custom(test: Callable[[Any, Any, tuple], bool], sentence: str) -> Hint:
    return test, sentence


HINTS = (transposed(), sign(), scale())


# --- the check ------------------------------------------------------------------------------
def _hit(test: Callable, got: Any, want: Any, args: tuple) -> bool:
    try:
        return bool(test(got, want, args))
    except Exception:  # noqa: BLE001 - a hint that does not apply
        return False


def _describe(got: Any, want: Any) -> str:
    g, w = as_array(got), as_array(want)
    if g.shape != w.shape:
        return f"the shape is {g.shape}, expected {w.shape}."
    if g.dtype.kind in "iub" and w.dtype.kind in "iub":
        where = np.argwhere(g != w)
        return (f"{len(where)} of {g.size} values differ; the first at index "
                f"{tuple(int(i) for i in where[0])}: got {g[tuple(where[0])]}, expected "
                f"{w[tuple(where[0])]}." if g.ndim else f"got {g}, expected {w}.")
    diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
    i = np.unravel_index(int(np.nanargmax(diff)), diff.shape) if diff.ndim else ()
    return (f"the values differ by up to {float(np.nanmax(diff)):.3g} (at index "
            f"{tuple(int(k) for k in i)}: got {g[i]!r}, expected {w[i]!r}).")


def compare(name: str, student: Callable, reference: Callable, cases: Sequence[Case],
            hints: Sequence[Hint] = HINTS, *, equal: Callable[[Any, Any], bool] = close,
            quiet: bool = False) -> None:
    """Run ``student`` and ``reference`` on every case; print a line when all agree, else
    raise ``ExerciseError`` naming the mistake."""
    if not callable(student):
        raise ExerciseError(f"{name}: pass your function itself (no parentheses), got "
                            f"{type(student).__name__}.")
    failures = []  # (got, want, args) of every case that disagrees
    for args, kwargs in cases:
        want = reference(*args, **kwargs)
        try:
            got = student(*args, **kwargs)
        except NotImplementedError:
            raise ExerciseError(f"{name}: not done yet: replace `raise NotImplementedError()` "
                                "with your code.") from None
        except Exception as exc:  # noqa: BLE001 - the student's error, said plainly
            raise ExerciseError(f"{name}: your function raised {type(exc).__name__}: {exc}") \
                from exc
        if got is None and want is not None:
            raise ExerciseError(f"{name}: your function returned None: did you forget `return`?")
        if not equal(got, want):
            failures.append((got, want, args))
    if failures:
        # The first hint that explains every failing case (one case can fit a wrong hint by
        # chance; all of them rarely do).
        for test, sentence in hints:
            if all(_hit(test, *f) for f in failures):
                if sentence == "shape":
                    got, want, _ = failures[0]
                    sentence = (f"the shape is {as_array(got).shape}, expected "
                                f"{as_array(want).shape}.")
                raise ExerciseError(f"{name}: {sentence}")
        raise ExerciseError(f"{name}: {_describe(*failures[0][:2])}")
    if not quiet:
        n = len(cases)
        label = getattr(student, "__name__", "your function")
        print(f"{name} passed: {label} agrees with the reference on {n} fresh "
              f"input{'s' if n != 1 else ''}.")


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def fresh_seed() -> int:
    """A new seed per call (fresh inputs every time the check runs), printed on a failure."""
    return int(np.random.SeedSequence().entropy % (2**31))
