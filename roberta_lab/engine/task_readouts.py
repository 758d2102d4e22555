"""How each task head reads its value off the final hidden states: the one place that maps a
head to its readout, for ``decompose`` (and for pair targets on task heads everywhere).

A target on a task head is either a callable readout on the head's output (a class logit, a
logit difference, any affine combination of the output's fields) or a pair ``(positions, ids)``
of ``[batch]`` arrays (scalars broadcast) read as follows:

* ``TFRobertaForSequenceClassification``: ``logits[b, ids[b]]``, ids = class ids in
  [0, num_labels); positions are ignored (the head reads ``<s>``).
* ``TFRobertaForTokenClassification``: ``logits[b, positions[b], ids[b]]``, class ids.
* ``TFRobertaForQuestionAnswering``: ids 0 = ``start_logits[b, positions[b]]``, 1 =
  ``end_logits[b, positions[b]]``.
* ``TFRobertaForMultipleChoice``: ``logits[b, ids[b]]``, ids = choice indices in
  [0, choices); positions are ignored. The trunk runs batch x choices rows.

The heads are rebuilt from their weights in float64 with each tanh frozen at its actual input
(tanh(z) = s * z, s = tanh(z) / z, s = 1 at z = 0: exact at this input), so the value is an
affine function of the final hidden states whose adjoint ``decompose`` pulls back.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForQuestionAnswering
    >>> keras.utils.set_random_seed(0)
    >>> model = TFRobertaForQuestionAnswering(RobertaConfig(vocab_size=99, hidden_size=32,
    ...     num_hidden_layers=1, num_attention_heads=4, intermediate_size=37, num_labels=2))
    >>> out = model(np.array([[0, 5, 6, 2]]))
    >>> read = pair_readout(model, (np.array([2]), np.array([1])), 1, 4)  # end logit at 2
    >>> bool(np.isclose(read(out)[0], out.end_logits[0, 2]))
    True
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from .targets import pair_arrays

_F = tf.float64


def _lin(layer: Any, x: tf.Tensor) -> tf.Tensor:
    """x [..., in] @ kernel + bias in float64."""
    y = tf.einsum("...i,io->...o", x, tf.cast(layer.kernel, _F))
    return y if layer.bias is None else y + tf.cast(layer.bias, _F)


def _frozen_tanh(z: tf.Tensor, state: dict) -> tf.Tensor:
    """s * z with s = tanh(z) / z fixed at the first input seen (s = 1 at z = 0)."""
    if "slope" not in state:
        zn = z.numpy()
        small = np.abs(zn) < 1e-12
        state["slope"] = tf.constant(np.where(small, 1.0, np.tanh(zn) / np.where(small, 1.0,
                                                                                 zn)))
    return state["slope"] * z


def _sequence(model: Any, h: tf.Tensor, state: dict, batch: int) -> dict:
    head = model.classifier  # dense -> tanh -> out_proj on <s>
    return {"logits": _lin(head.out_proj, _frozen_tanh(_lin(head.dense, h[:, 0]), state))}


def _token(model: Any, h: tf.Tensor, state: dict, batch: int) -> dict:
    return {"logits": _lin(model.classifier, h)}  # [rows, seq, labels]


def _span(model: Any, h: tf.Tensor, state: dict, batch: int) -> dict:
    logits = _lin(model.qa_outputs, h)  # [rows, seq, 2]
    return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}


def _choice(model: Any, h: tf.Tensor, state: dict, batch: int) -> dict:
    pooled = _frozen_tanh(_lin(model.roberta.pooler, h[:, 0]), state)  # [batch*choices, d]
    return {"logits": tf.reshape(_lin(model.classifier, pooled), [batch, -1])}


# class name -> (head on final hidden states, pair kind, what the pair's ids are)
HEADS: dict[str, tuple[Callable, str, str]] = {
    "TFRobertaForSequenceClassification": (_sequence, "row", "class ids"),
    "TFRobertaForTokenClassification": (_token, "position", "class ids"),
    "TFRobertaForQuestionAnswering": (_span, "span", "ids (0 = start, 1 = end)"),
    "TFRobertaForMultipleChoice": (_choice, "choice", "choice indices"),
}


def task_head(model: Any) -> tuple[Callable, str, str] | None:
    """The HEADS entry of the model's class (or of a base class), else None."""
    for cls in type(model).__mro__:
        if cls.__name__ in HEADS:
            return HEADS[cls.__name__]
    return None


def head_output(model: Any, hidden: Any, state: dict, batch: int) -> dict[str, tf.Tensor]:
    """The task head's output fields, float64, from final hidden states [rows, seq, d_model]
    (rows = batch x choices for multiple choice); tanh frozen in ``state``."""
    return task_head(model)[0](model, tf.convert_to_tensor(hidden, _F), state, batch)


def task_pair(model: Any, target: Any, batch: int, seq: int, choices: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """(positions, ids) [batch] of a pair target on any model, ids checked against what the
    task head reads (ValueError naming ``target``); LMs' token ids are not checked here."""
    pos, ids = pair_arrays(target, batch, seq)
    spec = task_head(model)
    if spec is not None:
        _, kind, what = spec
        n = {"span": 2, "choice": choices}.get(kind, model.config.num_labels)
        bad = (ids < 0) | (ids >= n)
        if bad.any():
            raise ValueError(f"target: {type(model).__name__} reads (positions, {what}); "
                             f"{what} must be in [0, {n}), got {ids[bad].tolist()}")
    return pos, ids


def pair_table(model: Any, out: Any) -> tf.Tensor:
    """What a pair target indexes in the output: [rows, seq, n] by (row, position, id), or
    [rows, n] by (row, id) on the heads that read one value per row."""
    spec = task_head(model)
    if spec is not None and spec[1] == "span":
        return tf.stack([out.start_logits, out.end_logits], -1)  # [batch, seq, 2]
    return out.logits


def pair_index(model: Any, pos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The gather_nd index [n, 2 | 3] into ``pair_table`` for rows 0..n-1."""
    spec = task_head(model)
    rows = np.arange(len(ids))
    cols = [rows, ids] if spec is not None and spec[1] in ("row", "choice") else [rows, pos, ids]
    return np.stack(cols, 1).astype(np.int32)


def pair_readout(model: Any, target: Any, batch: int, seq: int,
                 choices: int = 1) -> Callable[[Any], tf.Tensor]:
    """The readout ``output -> [batch]`` that a ``(positions, ids)`` target names on this
    model (see the module docstring)."""
    index = pair_index(model, *task_pair(model, target, batch, seq, choices))
    return lambda out: tf.gather_nd(pair_table(model, out), index)


def _value64(readout: Callable, fields: dict, out_type: type, batch: int) -> tf.Tensor:
    v = tf.cast(tf.convert_to_tensor(readout(out_type(**fields))), _F)
    if v.shape.rank != 1 or v.shape[0] != batch:
        raise ValueError(f"target readout must return one value per batch row, shape ({batch},);"
                         f" got {tuple(v.shape)}")
    return v


def task_adjoint(model: Any, out: Any, hidden: np.ndarray, target: Any, batch: int, seq: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a task head: (the model's value [batch], the adjoint at the final hidden states
    [rows, seq, d_model], the head's constant [batch], the float64 value [batch]) of the target,
    with the head's tanh frozen. Readouts not affine in the output raise ValueError."""
    choices = hidden.shape[0] // batch  # 1 except for multiple choice
    readout = target if callable(target) else pair_readout(model, target, batch, seq, choices)
    state: dict = {}
    x = tf.constant(hidden, _F)
    with tf.GradientTape() as tape:
        tape.watch(x)
        mine = head_output(model, x, state, batch)
        r = _value64(readout, mine, type(out), batch)
    g = tape.gradient(r, x)
    g = np.zeros(hidden.shape) if g is None else g.numpy()
    r = r.numpy()
    r2, r0 = (_value64(readout, head_output(model, k * x, state, batch), type(out), batch).numpy()
              for k in (2.0, 0.0))
    lin = (g * hidden).reshape(batch, -1).sum(1)  # a question's choices are adjacent rows
    scale = 1e-6 * np.maximum(1.0, np.abs(r) + np.abs(lin))
    if np.any(np.abs((r2 - r) - (r - r0)) > scale) or np.any(np.abs(lin - (r - r0)) > scale):
        raise ValueError("target: decompose needs a readout affine in the head's output (a "
                         "class logit, a logit difference); this one is not (a probability?). "
                         "Gradient methods such as integrated_gradients take any readout.")
    fields = {k: getattr(out, k) for k in mine}  # the model's own float32 output
    total = _value64(readout, fields, type(out), batch).numpy()
    return total, g, r - lin, r
