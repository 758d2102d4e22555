"""Spreading rows over the replicas of a ``tf.distribute`` strategy, for sweeps and importance.

A sweep's conditions and an importance run's texts are independent rows, so they split across
devices with no communication: each replica runs the same compiled function on its share of
the rows, and the results come back concatenated in the original order. The same call runs on
several GPUs (``MirroredStrategy``), several workers, or, for tests, several logical CPUs.

Build or load the model under ``strategy.scope()`` so its weights are mirrored on every
device; a model built outside the scope still works, its weights are then read from where they
live.

Example:
    >>> strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])     # doctest: +SKIP
    >>> sweep_heads(model, ids, mask, metric, strategy=strategy).grid.shape  # doctest: +SKIP
    (4, 8)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf


def split_rows(n_rows: int, replicas: int) -> tuple[list[np.ndarray], int]:
    """Row indices for each replica (equal counts; the last row repeats as padding) and the
    number of rows per replica."""
    per = -(-n_rows // replicas)  # ceil
    index = np.concatenate([np.arange(n_rows), np.full(per * replicas - n_rows, n_rows - 1)])
    return [index[r * per:(r + 1) * per] for r in range(replicas)], per


def run_split(strategy: Any, fns: dict, key: Any, fn: Callable[..., tf.Tensor],
              row_args: Sequence[Any], shared_args: Sequence[Any] = ()) -> np.ndarray:
    """``fn(*rows_of(row_args), *shared_args)`` on every replica of ``strategy``; returns the
    per-row outputs concatenated in row order (padding dropped).

    row_args: arrays or tensors with the rows on axis 0 (all the same length), split across
    replicas; shared_args: tensors every replica sees whole (weights-like inputs, e.g. the
    clean residual stream). ``fn`` must return a tensor with the rows on axis 0. The compiled
    function is kept in ``fns[key]`` so repeated calls reuse its trace.
    """
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    n_rows = int(np.shape(row_args[0])[0])
    n_rep = strategy.num_replicas_in_sync
    parts, _ = split_rows(n_rows, n_rep)
    per_replica = [[tf.gather(a, part) for a in row_args] for part in parts]
    dist = strategy.experimental_distribute_values_from_function(
        lambda ctx: tuple(per_replica[ctx.replica_id_in_sync_group]))
    if key not in fns:
        @tf.function(reduce_retracing=True)
        def step(dist_rows, shared):
            return strategy.run(lambda rows, sh: fn(*rows, *sh), args=(dist_rows, shared))
        fns[key] = step
    out = fns[key](dist, tuple(shared_args))
    local = [np.asarray(t) for t in strategy.experimental_local_results(out)]
    return np.concatenate(local, axis=0)[:n_rows]
