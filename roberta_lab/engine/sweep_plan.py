"""A sweep's conditions and how its rows are laid out: each condition (a set of (layer, head)
pairs) checked and sorted, then conditions x texts stacked as rows of batched jobs, grouped by
the lowest ablated layer (where a row's tail starts), each row with its own ablation
indicator [rows, layers, heads] (1 = ablated) and, for zero-ablation, head mask (1 - it).

Example:
    >>> conds = check_conditions([[(1, 0)], [(0, 1), (1, 1)]], None, 2, 2)
    >>> conds
    [[(1, 0)], [(0, 1), (1, 1)]]
    >>> [(start, rows.tolist()) for _, start, rows, _, _ in plan_jobs(conds, 1, 8, 2, 2, "zero")]
    [(0, [0]), (1, [0])]
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf


def check_conditions(conditions: Any, labels: Sequence[str] | None, n_layers: int,
                     n_heads: int) -> list[list[tuple[int, int]]]:
    """Conditions as sorted lists of distinct (layer, head) int pairs inside the model; a wrong
    type, an empty list, a head outside it or a label count that does not match is an error
    naming ``conditions`` or ``labels``."""
    if isinstance(conditions, (str, bytes)) or not isinstance(conditions, Iterable):
        raise TypeError(f"conditions must be a list of [(layer, head), ...], got "
                        f"{type(conditions).__name__}")
    conditions = [list(c) if isinstance(c, Iterable) and not isinstance(c, (str, bytes))
                  else _bad_condition(c) for c in conditions]
    if not conditions:
        raise ValueError("conditions is empty: give at least one set of (layer, head) pairs")
    if labels is not None and len(labels) != len(conditions):
        raise ValueError(f"labels has {len(labels)} entries for {len(conditions)} "
                         "conditions; give one label per condition")
    conds = [sorted(set(_pair(p) for p in c)) for c in conditions]
    for c in conds:
        if not c or any(not (0 <= l < n_layers and 0 <= h < n_heads) for l, h in c):
            raise ValueError(f"conditions: {c} is empty or names a head outside {n_layers} x "
                             f"{n_heads}")
    return conds


def default_chunk_size(config: Any, seq: int, n_rows: int, memory_mb: int) -> int:
    """As many rows as keep one layer's activations (float32) under ``memory_mb``."""
    per_row = 4 * seq * (config.intermediate_size + 4 * config.hidden_size +
                         2 * config.num_attention_heads * seq)
    return int(max(1, min(n_rows, memory_mb * 2**20 // per_row)))


def plan_jobs(conds: list[list[tuple[int, int]]], n_texts: int, chunk_size: int,
              n_layers: int, n_heads: int, method: str) -> list[tuple]:
    """Rows (condition, text) in jobs of at most ``chunk_size``, one start layer per job:
    [(chunk [(condition, text)], start, row texts, head mask | None, indicator)]."""
    order = sorted(range(len(conds)), key=lambda i: conds[i][0][0])
    todo = [(ci, t) for ci in order for t in range(n_texts)]  # rows grouped by start layer
    jobs = []
    i = 0
    while i < len(todo):
        start = conds[todo[i][0]][0][0]
        chunk = [r for r in todo[i:i + chunk_size] if conds[r[0]][0][0] == start]
        i += len(chunk)
        texts = np.array([t for _, t in chunk])
        # Pad to a fixed shape per start layer (one trace each), but never beyond the rows
        # that layer has: padding rows cost as much as real ones.
        group = sum(1 for ci, _ in todo if conds[ci][0][0] == start)
        pad = min(chunk_size, group) - len(chunk)
        ablate = np.zeros((len(chunk) + pad, n_layers, n_heads), np.float32)
        for row, (ci, _) in enumerate(chunk):
            for lyr, h in conds[ci]:
                ablate[row, lyr, h] = 1.0
        rows_texts = np.concatenate([texts, np.repeat(texts[:1], pad)])
        head_mask = tf.constant(1.0 - ablate) if method == "zero" else None
        jobs.append((chunk, start, rows_texts, head_mask, tf.constant(ablate)))
    return jobs


def _pair(pair: Any) -> tuple[int, int]:
    """One (layer, head) pair of a condition, as ints (bools and floats refused)."""
    try:
        layer, head = pair
    except (TypeError, ValueError):
        raise ValueError(f"conditions: each entry must be a (layer, head) pair, got {pair!r}") \
            from None
    for x in (layer, head):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"conditions: layer and head must be ints, got {pair!r}")
    return int(layer), int(head)


def _bad_condition(c: Any) -> list:
    raise TypeError(f"conditions: each condition must be a list of (layer, head) pairs, got {c!r}")
