"""The batched tail of the network, the engine under every ablation sweep.

Blocks start..L-1 run from a given residual stream, then the output layer only at the metric's
positions, through the block's own steps (``attend``, ``after_attention``, ``at_positions``):

* ``clean_pass``: the unablated run, keeping the residual stream entering every layer and every
  head's output ``z`` (ablating a head in layer l changes nothing below l, nor layer l's
  queries, keys, values and pattern, so each condition starts from layer l's clean ``z``);
* ``tail``: one start layer's rows (conditions x texts), each with its own head mask
  [rows, layers, heads] (zero-ablation) or mean-ablation indicator;
* ``tail_fn`` / ``fused_fn``: the same, compiled, kept in the model's registry (owner
  "sweep"): one per start layer and ablation method, or one per fused small sweep.

Example:
    >>> z = tf.ones([1, 2, 2, 1])  # [rows, pos, head, d_head]
    >>> mean_replace(z, tf.constant([[1.0, 0.0]]), tf.zeros([2, 1]))[0, 0].numpy().tolist()
    [[0.0], [1.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ..model.inputs import engine_inputs
from . import replicas
from .metrics import score

def refuse_choices(model: Any) -> None:
    """Multiple choice is refused: its softmax runs across rows (choices)."""
    if getattr(model, "has_choices", False):
        raise ValueError("sweeps and importance score each text on its own; a multiple-choice "
                         "model's softmax spans its choices (rows), which they cannot measure")


def head_logits_at(model: Any, h: tf.Tensor) -> tf.Tensor:
    """The model's output layer on final hidden states at the metric's positions
    [rows, P, d_model] -> [rows, P, vocab | labels | 2]: the LM head, or a task head's
    ``head_logits``. Multiple choice is refused: its softmax runs across rows (choices)."""
    refuse_choices(model)
    task = getattr(model, "head_logits", None)
    if task is not None:
        return task(h)
    return model.lm_head.logits(h)


def _compiled(model: Any, compile: bool | str, key: tuple, fn: Any) -> Any:
    if not compile:
        return fn
    return model.compiled_functions.get(
        "sweep", (compile,) + key,
        lambda: tf.function(fn, reduce_retracing=True, jit_compile=compile == "xla"))


def tail_fn(model: Any, compile: bool | str, start: int, is_mean: bool) -> Any:
    return _compiled(model, compile, ("tail", start, is_mean),
                     lambda *a: tail(model, start, *a))


def fused_fn(model: Any, compile: bool | str, kind: str, starts: tuple, is_mean: bool) -> Any:
    """A whole small sweep as ONE compiled call: the clean pass (its residual stream at each
    start layer and its metric), every start layer's tail, and the scoring.
    Arguments: ids, mask, clean (positions, used, targets, distractors) per text, and per job
    (rows_texts, head_mask, mean_z, indicator, positions, used, targets, distractors).
    Returns (baseline [texts], [values [rows] per job])."""
    def run(ids, mask, clean, args):
        hidden, zs, logits = clean_pass(model, ids, mask, clean[0])
        baseline = score(kind, logits, *clean[1:])
        values = []
        for start, (rows, head_mask, mean_z, indicator, pos, *read) in zip(starts, args):
            x, z = tf.gather(hidden[start], rows), tf.gather(zs[start], rows)
            values.append(score(kind, tail(model, start, x, z, tf.gather(mask, rows),
                                            head_mask, mean_z, indicator, pos), *read))
        return baseline, values
    return _compiled(model, compile, ("fused", kind, starts, is_mean), run)


def clean_pass(model: Any, ids: tf.Tensor, mask: tf.Tensor, positions: tf.Tensor) -> tuple:
    """The unablated pass: (resid_pre of every layer, z of every layer, LM logits at
    ``positions``)."""
    trunk = model.roberta
    zs = {}
    with model.hooks([(is_self_z, lambda z, hook: zs.__setitem__(hook.name, z))]):
        inputs = engine_inputs(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hidden = trunk.call(inputs).hidden_states  # (layers + 1) x [texts, seq, d_model]
    h = tf.gather(hidden[-1], positions, batch_dims=1)
    z_by_layer = [zs[f"blocks.{layer}.attn.hook_z"] for layer in range(len(trunk.blocks))]
    return hidden, z_by_layer, head_logits_at(model, h)


def tail(model: Any, start: int, x, z, mask, head_mask, mean_z, indicator, positions):
    """x: the clean resid_pre of layer ``start`` [rows, seq, d_model]; z: that layer's clean
    z [rows, seq, head, d_head] -> LM logits at ``positions`` [rows, P, vocab]."""
    trunk = model.roberta
    blocks = trunk.blocks
    self_mask = trunk.self_mask(mask, tf.shape(x)[1])
    last = len(blocks) - 1
    # The lowest ablated layer reads the clean stream, so its queries, keys, values and
    # pattern are the clean run's: only its heads' outputs z change. Start from them.
    if mean_z is None:
        z = z * tf.cast(head_mask[:, start], z.dtype)[:, None, :, None]
    else:
        z = mean_replace(z, indicator[:, start], mean_z[start])
    if start == last:  # only the metric's positions are needed
        x, z = tf.gather(x, positions, batch_dims=1), tf.gather(z, positions, batch_dims=1)
        h = blocks[start].after_attention(x, z)[0]
        return head_logits_at(model, h)  # [rows, P, vocab | labels]
    x = blocks[start].after_attention(x, z)[0]
    hooks = []
    if mean_z is not None:  # mean-ablation above the start layer, through hook_z
        for layer in range(start + 1, len(blocks)):
            hooks.append((f"blocks.{layer}.attn.hook_z",
                          lambda z_, hook, layer=layer: mean_replace(
                              z_, indicator[:, layer], mean_z[layer])))
    with model.hooks(hooks):
        for layer in range(start + 1, last):
            hm = None if head_mask is None else head_mask[:, layer]
            x = blocks[layer](x, self_mask, hm)[0]
        hm = None if head_mask is None else head_mask[:, last]
        h = blocks[last].at_positions(x, positions, self_mask, hm)
    return head_logits_at(model, h)  # [rows, P, vocab | labels]


def is_self_z(name: str) -> bool:
    return name.endswith(".attn.hook_z") and ".cross_attn." not in name


def mean_replace(z: tf.Tensor, indicator: tf.Tensor, mean: tf.Tensor) -> tf.Tensor:
    """z [rows, pos, head, d_head] with the indicated heads (indicator [rows, head], 1 = ablate)
    replaced by their mean (mean [head, d_head])."""
    ind = tf.cast(indicator, z.dtype)[:, None, :, None]  # [rows, 1, head, 1]
    return z * (1.0 - ind) + tf.cast(mean, z.dtype)[None, None] * ind


def sweep_hook_names(name: str) -> bool:  # a module-level function: compiled runs are cached by it
    """The hooks a sweep's clean run keeps: every resid_pre, every self-attention z, the logits."""
    return name.endswith("hook_resid_pre") or is_self_z(name) or name == "lm_head.hook_logits"


def clean_logits(model, cache, ids, mask, pos) -> np.ndarray:
    """The unablated output logits at ``pos`` [texts, P]: from the LM head's hook, or for a
    task head from its head on the final hidden states."""
    if "lm_head.hook_logits" in cache:
        return np.take_along_axis(cache["lm_head.hook_logits"], pos[:, :, None], axis=1)
    hidden = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    return head_logits_at(model, tf.gather(hidden, tf.constant(pos), batch_dims=1)).numpy()


def run_distributed(model, strategy, ids, mask, metric, pos, jobs, mean_z) -> tuple:
    """The non-fused path with every chunk's rows split over the strategy's replicas."""
    _, cache = model.run_with_cache(ids, attention_mask=mask, names_filter=sweep_hook_names)
    logits = clean_logits(model, cache, ids, mask, pos)
    baseline = metric.score(tf.constant(logits), np.arange(len(ids))).numpy()
    is_mean = mean_z is not None
    shared_mean = mean_z if is_mean else tf.zeros([0])
    values = []
    for _, start, rows, hm, ind in jobs:
        def replica(rows_, hm_, ind_, pos_, used, targets, distractors, x_all, z_all, mask_all,
                    mz, start=start):
            logits = tail(model, start, tf.gather(x_all, rows_), tf.gather(z_all, rows_),
                          tf.gather(mask_all, rows_), None if is_mean else hm_,
                          mz if is_mean else None, ind_, pos_)
            return score(metric.kind, logits, used, targets, distractors)
        hm_rows = ind if hm is None else hm  # unused by mean-ablation; keeps one signature
        values.append(replicas.run_split(
            strategy, model.compiled_functions, ("sweep", id(strategy), start, is_mean, metric.kind),
            replica,
            [tf.constant(rows), hm_rows, ind, tf.constant(pos[rows]), *metric.row_arrays(rows)],
            [tf.constant(cache[f"blocks.{start}.hook_resid_pre"]),
             tf.constant(cache[f"blocks.{start}.attn.hook_z"]), tf.constant(mask), shared_mean]))
    return baseline, values

