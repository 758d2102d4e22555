"""Head ablation sweeps: knock out heads (zero or mean) and measure a metric, batched.

The public face of the sweep; its parts are ``metrics`` (``Metric``, ``score`` and the metric
builders), ``sweep_plan`` (conditions and rows) and ``sweep_tail`` (the batched, compiled tail
of the network). Everything they export is importable from here too.

A sweep evaluates many conditions (every single head, every whole layer, or chosen sets of
heads). Rather than one forward pass per condition, it

* runs the clean input once and keeps the residual stream entering every layer and every head's
  output ``z``: ablating a head in layer l cannot change anything below l, nor layer l's
  queries, keys, values and pattern, so each condition starts from layer l's clean ``z`` with
  its heads ablated (about half the layer work of a full pass for single heads);
* stacks conditions x texts as rows of one batch, each row with its own head mask
  (``head_mask`` of shape [rows, layers, heads]) or its own mean-ablation indicator;
* evaluates the 50k-word output layer only at the positions the metric reads.

Zero-ablation multiplies a head's attention pattern by 0 (``head_mask``), which removes its
output. Mean-ablation replaces the head's ``z`` [batch, pos, head, d_head] by its mean over the
non-pad tokens of a reference set (Wang et al. 2022 style), via ``blocks.{l}.attn.hook_z``.

Example:
    >>> metric = masked_lm_metric(labels)                                     # doctest: +SKIP
    >>> result = sweep_heads(model, ids, mask, metric)                        # doctest: +SKIP
    >>> result.grid.shape, result.rows()[0]                                   # doctest: +SKIP
    ((4, 8), {'layer': 0, 'head': 0, 'metric': 2.31, 'delta': 0.04})
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..model.arguments import int_array, mask_array, positive_int
from .metrics import (KINDS, Metric, classification_metric, mask_random_tokens,
                      masked_lm_metric, score, span_metric)
from .sweep_plan import check_conditions, default_chunk_size, plan_jobs
from .sweep_tail import (clean_logits, fused_fn, head_logits_at, refuse_choices,
                         run_distributed, sweep_hook_names, tail_fn)

__all__ = ["KINDS", "Metric", "score", "masked_lm_metric", "classification_metric",
           "span_metric", "mask_random_tokens", "refuse_choices", "head_logits_at",
           "SweepResult", "head_means", "sweep", "sweep_heads", "sweep_layers"]


# --- results ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A tidy table: one entry per condition (label, layers, heads, metric, delta)."""

    baseline: float
    labels: list[str]
    conditions: list[list[tuple[int, int]]]
    metric: np.ndarray            # [conditions] mean over texts
    per_text: np.ndarray          # [conditions, texts]
    grid: np.ndarray | None = None  # [layers, heads] for single-head sweeps
    extra: dict = field(default_factory=dict)

    @property
    def delta(self) -> np.ndarray:
        return self.metric - self.baseline

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for label, cond, m, d in zip(self.labels, self.conditions, self.metric, self.delta):
            layers = sorted({lyr for lyr, _ in cond})
            heads = [h for _, h in cond]
            out.append({"condition": label, "layer": layers[0] if len(layers) == 1 else layers,
                        "head": heads[0] if len(heads) == 1 else heads,
                        "metric": float(m), "delta": float(d)})
        return out

    def to_csv(self, path: str) -> None:
        """Write the rows atomically: a temporary file in the same folder, then a rename, so an
        interrupted or failed write (full disk) leaves any earlier file as it was."""
        import io  # noqa: PLC0415

        from ..model.files import write_atomic  # noqa: PLC0415

        rows = self.rows()
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, buf.getvalue().encode("utf-8"))


# --- sweeps -------------------------------------------------------------------------------------
def head_means(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None = None
               ) -> np.ndarray:
    """Each head's mean ``z`` over the non-pad tokens of a reference set: [layer, head, d_head]."""
    _, cache = model.run_with_cache(input_ids, attention_mask=attention_mask,
                                    names_filter=lambda n: n.endswith("attn.hook_z"))
    z = cache.stack_activation("z")  # [layer, batch, pos, head, d_head]
    keep = np.ones(np.shape(input_ids), bool) if attention_mask is None else \
        np.asarray(attention_mask).astype(bool)
    return z[:, keep].mean(axis=1)




def sweep(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None, metric: Metric,
          conditions: Sequence[Iterable[tuple[int, int]]], *, method: str = "zero",
          means: np.ndarray | None = None, labels: Sequence[str] | None = None,
          chunk_size: int | None = None, compile: bool | str = True, progress: bool = True,
          memory_mb: int = 256, strategy: Any = None) -> SweepResult:
    """Evaluate ``metric`` with each condition's heads ablated. A condition is a set of
    (layer, head) pairs. Rows = conditions x texts, run ``chunk_size`` rows at a time (by
    default as many as keep one layer's activations under ``memory_mb``). With a
    ``tf.distribute`` ``strategy`` each chunk's rows are spread over its replicas
    (``roberta_lab.replicas``); the numbers are the same.

    ``compile``: True (tf.function, the default), False (eager) or "xla" (jit_compile: on a
    small model about 1.4x faster per sweep, where the cost of each op rather than the
    arithmetic dominates, but each new input shape compiles for several seconds; worth it for
    many sweeps at one shape, e.g. a probe set padded to one length)."""
    if method not in ("zero", "mean"):
        raise ValueError(f"method must be 'zero' or 'mean', got {method!r}")
    if compile not in (True, False, "xla"):
        raise ValueError(f"compile must be True, False or 'xla', got {compile!r}")
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    ids = int_array("input_ids", input_ids, 0, cfg.vocab_size, ndim=2)
    mask = np.ones_like(ids) if attention_mask is None else \
        mask_array("attention_mask", attention_mask, ids.shape)
    refuse_choices(model)
    model.prepare_inputs(ids, attention_mask=mask)  # shapes and positions against the config
    if not isinstance(metric, Metric):
        raise TypeError(f"metric must be a Metric, got {type(metric).__name__}")
    metric.check(len(ids), ids.shape[1], cfg.vocab_size)
    _check_not_on_padding(metric, mask)
    chunk_size = positive_int("chunk_size", chunk_size, allow_none=True)
    memory_mb = positive_int("memory_mb", memory_mb)
    labels = None if labels is None else list(labels)
    conds = check_conditions(conditions, labels, L, H)
    if chunk_size is None:
        chunk_size = default_chunk_size(cfg, ids.shape[1], len(ids) * len(conds), memory_mb)
    mean_z = _check_means(means, (L, H, cfg.head_dim)) if method == "mean" else None
    n_texts = len(ids)
    all_rows = np.arange(n_texts)
    pos = np.maximum(metric.positions, 0)
    per_text = np.zeros((len(conds), n_texts), np.float32)
    jobs = plan_jobs(conds, n_texts, chunk_size, L, H, method)
    bar = tqdm(total=len(conds) * n_texts, desc="ablation sweep", disable=not progress,
               unit="row")
    if strategy is not None:
        baseline_per_text, values = run_distributed(model, strategy, ids, mask, metric, pos,
                                                    jobs, mean_z)
    elif compile and sum(len(j[2]) for j in jobs) <= chunk_size:
        # A small sweep (all rows within one chunk's memory) is ONE compiled call, clean pass
        # and scoring included: on a small model the cost of each call and each eager op, not
        # the arithmetic, is what a per-layer loop would pay.
        fused = fused_fn(model, compile, metric.kind, tuple(job[1] for job in jobs),
                         mean_z is None)
        baseline_t, values_t = fused(
            tf.constant(ids), tf.constant(mask),
            (tf.constant(pos),) + metric.row_arrays(all_rows),
            [(tf.constant(rows), hm, mean_z, ind, tf.constant(pos[rows]))
             + metric.row_arrays(rows) for _, _, rows, hm, ind in jobs])
        baseline_per_text = baseline_t.numpy()
        values = [v.numpy() for v in values_t]
    else:
        _, cache = model.run_with_cache(ids, attention_mask=mask, compile=compile,
                                        names_filter=sweep_hook_names)
        logits = clean_logits(model, cache, ids, mask, pos)
        baseline_per_text = metric.score(tf.constant(logits), all_rows).numpy()
        values = []
        for _, start, rows, hm, ind in jobs:
            x = tf.gather(cache[f"blocks.{start}.hook_resid_pre"], rows)
            z = tf.gather(cache[f"blocks.{start}.attn.hook_z"], rows)
            logits = tail_fn(model, compile, start, mean_z is not None)(
                x, z, tf.constant(mask[rows]), hm, mean_z, ind, tf.constant(pos[rows]))
            values.append(metric.score(logits, rows).numpy())
    for (chunk, *_), job_values in zip(jobs, values):
        for (ci, t), value in zip(chunk, job_values[:len(chunk)]):
            per_text[ci, t] = value
        bar.update(len(chunk))
    bar.close()
    names = labels if labels is not None else \
        ["+".join(f"L{l}H{h}" for l, h in c) for c in conds]
    return SweepResult(float(baseline_per_text.mean()), names, conds, per_text.mean(axis=1),
                       per_text, extra={"baseline_per_text": baseline_per_text})


def _check_not_on_padding(metric: Metric, mask: np.ndarray) -> None:
    rows, cols = np.nonzero(metric.positions >= 0)
    # A span metric's softmax runs over every position, padding included, as the QA loss does.
    on_pad = (mask[rows, metric.positions[rows, cols]] == 0) & (metric.kind != "span")
    if on_pad.any():
        row, col = int(rows[on_pad][0]), int(metric.positions[rows[on_pad][0], cols[on_pad][0]])
        raise ValueError(f"Metric.positions: text {row + 1} is scored at position {col}, which "
                         "attention_mask marks as padding")


def _check_means(means: Any, shape: tuple[int, int, int]) -> tf.Tensor:
    if means is None:
        raise ValueError("method='mean' needs means=head_means(model, reference_ids, mask)")
    means = np.asarray(means)
    if means.dtype.kind != "f" or means.shape != shape or not np.isfinite(means).all():
        raise ValueError(f"means must be finite floats of shape [layers, heads, d_head] = "
                         f"{shape}, got {means.dtype} {means.shape}")
    return tf.constant(means.astype(np.float32))


def sweep_heads(model: Any, input_ids, attention_mask, metric: Metric, **kw) -> SweepResult:
    """Every single head ablated on its own; ``result.grid`` is [layers, heads]."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    result = sweep(model, input_ids, attention_mask, metric,
                   [[(l, h)] for l in range(L) for h in range(H)], **kw)
    result.grid = result.metric.reshape(L, H)
    return result


def sweep_layers(model: Any, input_ids, attention_mask, metric: Metric, **kw) -> SweepResult:
    """Every layer's heads ablated together."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    return sweep(model, input_ids, attention_mask, metric,
                 [[(l, h) for h in range(H)] for l in range(L)],
                 labels=[f"L{l}" for l in range(L)], **kw)
