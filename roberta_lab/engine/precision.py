"""bfloat16 compute for sweeps and studies, and how far its numbers are from float32's.

``model.set_compute_dtype("bfloat16")`` runs every dense matmul in bfloat16 (weights stay
float32; the residual stream, norms and softmax stay float32). That is faster only where the
hardware multiplies bfloat16 natively: CPUs with AVX-512 BF16 or AMX, and GPUs; elsewhere
TensorFlow emulates it and it is slower than float32, so ``compute_dtype`` refuses it there.

Example:
    >>> spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.5
    >>> with compute_dtype(model, "bfloat16"):                      # doctest: +SKIP
    ...     fast = sweep_heads(model, ids, mask, metric)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np


def native_bfloat16() -> bool:
    """True where bfloat16 matmuls run natively: a GPU, or a CPU with AVX-512 BF16 or AMX."""
    import tensorflow as tf  # noqa: PLC0415

    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_dtype(dtype: str | None) -> str | None:
    """None/"float32" -> None; "bfloat16" where native (else a ValueError naming ``dtype``)."""
    if dtype in (None, "float32"):
        return None
    if dtype != "bfloat16":
        raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
    if not native_bfloat16():
        raise ValueError("dtype='bfloat16': this machine has no native bfloat16 (no GPU, no "
                         "AVX-512 BF16 or AMX), where it is slower than float32")
    return dtype


@contextmanager
def compute_dtype(model: Any, dtype: str | None) -> Iterator[Any]:
    """Run the block with ``model`` in ``dtype`` (checked with ``check_dtype``); float32 after.
    The model is shared state: do not run float32 work on it from another thread meanwhile."""
    dtype = check_dtype(dtype)
    if dtype is None:
        yield model
        return
    model.set_compute_dtype(dtype)
    try:
        yield model
    finally:
        model.set_compute_dtype(None)


def spearman(a: Any, b: Any) -> float:
    """Spearman's rank correlation (ties get their average rank); nan if either is constant."""
    ra, rb = _ranks(np.asarray(a, np.float64)), _ranks(np.asarray(b, np.float64))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=ranks)[inverse] / counts[inverse]  # ties: mean rank


def agreement(reference: np.ndarray, other: np.ndarray, baseline_ref: np.ndarray,
              baseline_other: np.ndarray) -> dict[str, float]:
    """How a lower-precision sweep's per_text [conditions, texts] (and baselines [texts])
    agree with float32's: the largest metric and delta differences, and the rank correlation
    of the conditions' mean deltas (the ranking a study reports)."""
    d_ref = reference - baseline_ref[None]
    d_other = other - baseline_other[None]
    metric_diff = max(np.abs(other - reference).max(), np.abs(baseline_other - baseline_ref).max())
    return {"max_abs_metric_diff": float(metric_diff),  # ablated and clean
            "max_abs_delta_diff": float(np.abs(d_other - d_ref).max()),
            "max_abs_mean_delta_diff": float(np.abs(d_other.mean(1) - d_ref.mean(1)).max()),
            "spearman_mean_delta": spearman(d_ref.mean(1), d_other.mean(1)),
            "texts": int(reference.shape[1])}
