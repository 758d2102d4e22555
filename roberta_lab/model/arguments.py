"""Checks of engine and widget arguments (numpy, eager), one place for what every engine repeats.

Integers are compared in their own dtype before any cast (an int64 ``5 + 2**32`` is an error, never
``5``); floats and bools are refused where integers are meant; 0/1 masks stay 0/1; every error
names the argument. ``input_checks`` does the same for the model's own inputs.

Example:
    >>> import numpy as np
    >>> int_array("positions", np.array([[0, 3]], np.int64), -1, 8)
    array([[0, 3]], dtype=int32)
    >>> positive_int("chunk_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: chunk_size must be a positive int, got 0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .input_checks import INT32_MAX, INT32_MIN


def int_array(name: str, value: Any, low: int | None = None, high: int | None = None, *,
              allowed: tuple[int, ...] = (), ndim: int | None = None) -> np.ndarray:
    """An integer array as int32, its values checked in their own dtype first.

    ``low <= value < high`` (either bound may be None), or one of ``allowed`` (e.g. -100 for
    ignored labels). Floats, bools and strings are refused, never rounded; nothing wraps.

    """
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except ValueError as err:
        raise ValueError(f"{name} is ragged or malformed: {err}") from None
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    lo = INT32_MIN if low is None else low
    hi = INT32_MAX + 1 if high is None else high
    bad = (arr < lo) | (arr >= hi)
    for value_ok in allowed:
        bad &= arr != value_ok
    if bad.any():
        want = f"in [{lo}, {hi})" + (f" or one of {list(allowed)}" if allowed else "")
        raise ValueError(f"{name} must be {want}; got {arr[bad][:5].tolist()}")
    return arr.astype(np.int32)


def mask_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A 0/1 mask (bool, integer or float) of ``shape`` as int32; soft or wrapped values are
    refused, never rounded by a cast."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric 0/1 array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if arr.dtype.kind != "b" and not ((arr == 0) | (arr == 1)).all():
        bad = arr[(arr != 0) & (arr != 1)]
        raise ValueError(f"{name} must hold 0 (masked) or 1 (attend); got values "
                         f"{np.unique(bad)[:5].tolist()}")
    return arr.astype(np.int32)


def positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """An int >= 1 (bools refused); the argument is named in the error."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def seed_value(name: str, value: Any) -> int:
    """A seed: an int in [0, 2**32) (larger or negative seeds would alias smaller ones)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value < 2**32:
        raise ValueError(f"{name} must be in [0, 2**32), got {value}")
    return int(value)


def real_number(name: str, value: Any) -> float:
    """A finite real number (bools, strings, NaN and inf refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)
