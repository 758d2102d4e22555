"""Head importance (Michel, Levy and Neubig 2019, "Are Sixteen Heads Really Better than One?")
and the iterative pruning curve.

Importance of head h is I_h = E_x |dL(x)/d xi_h|, where xi is the head mask (all ones). One
backward pass gives every example's gradient at once: the head mask is given per row,
[batch, layers, heads], so d(sum of per-example losses)/d xi[b] is example b's own gradient.
Michel et al. then normalise the scores of each layer by their l2 norm.

The pruning curve masks heads in order of importance (least important first), recomputing the
importance under the current mask after every step, and records the metric against the share
of heads masked.

Example:
    >>> scores = michel_importance(model, ids, mask, masked_lm_metric(labels))   # doctest: +SKIP
    >>> scores.shape                                                              # doctest: +SKIP
    (4, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..model.arguments import int_array, mask_array, positive_int
from ..model.inputs import engine_inputs
from . import replicas
from .metrics import Metric, score
from .sweep_tail import refuse_choices


def _metric_logits(model: Any, out: Any) -> tf.Tensor:
    """Per-position logits a Metric reads: [batch, seq, vocab | labels | 2]. A sequence
    classifier's [batch, labels] sits at position 0 (``<s>``, where its head reads); question
    answering stacks start and end."""
    refuse_choices(model)
    if "start_logits" in out:
        return tf.stack([out["start_logits"], out["end_logits"]], axis=-1)
    logits = out["logits"]
    return logits[:, None] if logits.shape.rank == 2 else logits


def _per_example_metric(model: Any, ids: np.ndarray, mask: np.ndarray, metric: Metric,
                        head_mask: tf.Tensor) -> tf.Tensor:
    out = model(ids, attention_mask=mask, head_mask=head_mask)
    pos = tf.constant(np.maximum(metric.positions, 0))
    logits = tf.gather(_metric_logits(model, out), pos, batch_dims=1)  # [batch, P, vocab]
    return metric.score(logits, np.arange(len(ids)))  # [batch]


def _gradients(model: Any, kind: str, ids, mask, pos, used, targets, distractors, base):
    """Per-example d metric / d head_mask for rows ``ids``: [rows, layers, heads]. Plain tensor
    code: runs eagerly, compiled, or on a replica."""
    xi = tf.broadcast_to(base, tf.concat([tf.shape(ids)[:1], tf.shape(base)], 0))
    with tf.GradientTape() as tape:
        tape.watch(xi)
        inputs = engine_inputs(input_ids=ids, attention_mask=mask, head_mask=xi)
        logits = _metric_logits(model, model.forward(inputs))
        total = tf.reduce_sum(score(kind, tf.gather(logits, pos, batch_dims=1), used, targets,
                                    distractors))
    return tape.gradient(total, xi)


def head_mask_gradients(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None,
                        metric: Metric, current_mask: np.ndarray | None = None, *,
                        compile: bool | str = True) -> np.ndarray:
    """Per-example d metric / d head_mask: [batch, layers, heads] (one backward pass).
    ``compile``: True (tf.function, the default), False (eager) or "xla" (jit_compile)."""
    if compile not in (True, False, "xla"):
        raise ValueError(f"compile must be False, True or 'xla', got {compile!r}")
    cfg = model.config
    ids = int_array("input_ids", input_ids, 0, model.config.vocab_size, ndim=2)
    mask = np.ones_like(ids) if attention_mask is None else \
        mask_array("attention_mask", attention_mask, ids.shape)
    base = np.ones((cfg.num_hidden_layers, cfg.num_attention_heads), np.float32) \
        if current_mask is None else np.asarray(current_mask, np.float32)
    refuse_choices(model)
    inputs = model.prepare_inputs(ids, attention_mask=mask)  # checked eagerly, named errors
    args = (inputs.input_ids, inputs.attention_mask,
            tf.constant(np.maximum(metric.positions, 0)), *metric.row_arrays(np.arange(len(ids))),
            tf.constant(base))
    kind = metric.kind
    plain = lambda *a: _gradients(model, kind, *a)  # noqa: E731
    fn = plain if not compile else model.compiled_functions.get(
        "importance", (kind, compile),
        lambda: tf.function(plain, reduce_retracing=True, jit_compile=compile == "xla"))
    return fn(*args).numpy()


def michel_importance(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None,
                      metric: Metric, *, normalize: bool = True,
                      current_mask: np.ndarray | None = None, batch_size: int = 32,
                      strategy: Any = None, compile: bool | str = True) -> np.ndarray:
    """E_x |d L(x) / d xi_h| as [layers, heads]; per-layer l2-normalised when ``normalize``.
    With a ``tf.distribute`` ``strategy`` each batch's texts are spread over its replicas
    (``roberta_lab.replicas``). ``compile``: False, True or "xla", as in ``sweep``."""
    ids = int_array("input_ids", input_ids, 0, model.config.vocab_size, ndim=2)
    mask = np.ones_like(ids) if attention_mask is None else \
        mask_array("attention_mask", attention_mask, ids.shape)
    cfg = model.config
    base = np.ones((cfg.num_hidden_layers, cfg.num_attention_heads), np.float32) \
        if current_mask is None else np.asarray(current_mask, np.float32)
    total = None
    batch_size = positive_int("batch_size", batch_size)
    for start in range(0, len(ids), batch_size):
        part = slice(start, start + batch_size)
        sub = Metric(metric.kind, metric.positions[part], metric.targets[part],
                     None if metric.distractors is None else metric.distractors[part])
        if strategy is None:
            grads = head_mask_gradients(model, ids[part], mask[part], sub, current_mask,
                                        compile=compile)
        else:
            rows = np.arange(len(ids[part]))
            grads = replicas.run_split(
                strategy, model.compiled_functions, ("importance", id(strategy), sub.kind),
                lambda *a, kind=sub.kind: _gradients(model, kind, *a),
                [ids[part], mask[part], np.maximum(sub.positions, 0), *sub.row_arrays(rows)],
                [tf.constant(base)])
        grads = np.abs(grads)
        total = grads.sum(axis=0) if total is None else total + grads.sum(axis=0)
    scores = total / len(ids)
    if normalize:
        norms = np.linalg.norm(scores, axis=1, keepdims=True)
        scores = scores / np.where(norms > 0, norms, 1.0)
    return scores


@dataclass
class PruningCurve:
    """shares[i] of the heads masked gives metric[i]; masks[i] is the [layers, heads] mask."""

    shares: np.ndarray
    metric: np.ndarray
    masks: np.ndarray
    order: list[tuple[int, int]]

    def rows(self) -> list[dict[str, float]]:
        return [{"share_masked": float(s), "metric": float(m)}
                for s, m in zip(self.shares, self.metric)]


def pruning_curve(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None,
                  metric: Metric, *, step: float = 0.1, progress: bool = True) -> PruningCurve:
    """Mask the least important ``step`` share of all heads at a time, recomputing importance
    under the current mask, until every head is masked."""
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1], got {step}")
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    ids = int_array("input_ids", input_ids, 0, model.config.vocab_size, ndim=2)
    mask = np.ones_like(ids) if attention_mask is None else \
        mask_array("attention_mask", attention_mask, ids.shape)
    current = np.ones((L, H), np.float32)
    per_step = max(1, int(round(step * L * H)))

    def evaluate(hm: np.ndarray) -> float:
        rows = np.broadcast_to(hm, (len(ids), L, H))
        return float(tf.reduce_mean(_per_example_metric(model, ids, mask, metric,
                                                        tf.constant(rows))))

    shares, values, masks, order = [0.0], [evaluate(current)], [current.copy()], []
    bar = tqdm(total=L * H, desc="pruning", disable=not progress, unit="head")
    while current.sum() > 0:
        scores = michel_importance(model, ids, mask, metric, current_mask=current)
        scores = np.where(current > 0, scores, np.inf)  # masked heads stay masked
        flat = np.argsort(scores, axis=None, kind="stable")[:min(per_step, int(current.sum()))]
        for idx in flat:
            layer, head = divmod(int(idx), H)
            current[layer, head] = 0.0
            order.append((layer, head))
        bar.update(len(flat))
        shares.append(1.0 - current.sum() / (L * H))
        values.append(evaluate(current))
        masks.append(current.copy())
    bar.close()
    return PruningCurve(np.array(shares), np.array(values), np.stack(masks), order)
