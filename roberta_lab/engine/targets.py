"""What the attribution methods share: inputs in any of the seed's formats, and targets.

A *target* says which number of the model's output is explained, one per batch row:

* ``(positions, token_ids)``: two int arrays of shape ``[batch]`` (scalars broadcast); the value
  is ``logits[b, positions[b], token_ids[b]]``. Negative positions count from the end.
* a callable ``readout(output) -> [batch]`` on the model's output (a logit difference, a class
  logit, anything built from TensorFlow ops), for models and quantities the pair cannot name.

On the task heads the pair reads the head's own output (class, position, span or choice: see
``task_readouts``). Multiple choice takes inputs [batch, choices, seq]; its trunk runs
batch x choices rows, a question's choices adjacent.

Example:
    >>> import numpy as np
    >>> feed = as_feed(None, np.array([[0, 5, 2]]))
    >>> sorted(feed), feed["input_ids"].shape
    (['input_ids'], (1, 3))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from ..model.inputs import BASE_SIGNATURE, unpack_inputs

Readout = Callable[[Any], Any]
_FLAGS = ("use_cache", "output_attentions", "output_hidden_states", "return_dict", "labels")


def as_feed(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    """Ids array, list in signature order, dict or BatchEncoding -> {name: numpy array}.

    Flags and labels are dropped (the methods choose their own); ``input_ids`` is required,
    since attributions are taken at the word embeddings of those ids.
    """
    signature = getattr(model, "signature", BASE_SIGNATURE)
    if isinstance(inputs, Mapping):
        inputs = dict(inputs)
    named = unpack_inputs(signature, (inputs,), {})
    feed = {}
    for name, value in named.items():
        if value is None or name in _FLAGS:
            continue
        if name == "past_key_values":
            raise ValueError("inputs: past_key_values is not supported here; attribute the "
                             "whole sequence in one call")
        arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if name in ("input_ids", "token_type_ids", "position_ids"):
            arr = arr.astype(np.int32)
        elif arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        if arr.ndim == 1 and name in ("input_ids", "attention_mask", "token_type_ids",
                                      "position_ids"):
            arr = arr[None]
        feed[name] = arr
    if "input_ids" not in feed:
        raise ValueError("inputs must hold input_ids (attributions are taken at the word "
                         "embeddings of those ids); inputs_embeds alone is not enough")
    return feed


def repeat_rows(feed: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every batch-shaped input, with rows picked (and repeated) by ``rows``."""
    batch = feed["input_ids"].shape[0]
    return {k: (v[rows] if np.ndim(v) and v.shape[0] == batch else v) for k, v in feed.items()}


def pair_arrays(target: Any, batch: int, seq: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, token_ids) as two int32 [batch] arrays with positions in [0, seq), or None
    when ``target`` is a callable."""
    if callable(target):
        return None
    if not isinstance(target, (tuple, list)) or len(target) != 2:
        raise TypeError("target must be a pair (positions, token_ids) of [batch] arrays or a "
                        f"callable readout(output) -> [batch]; got {type(target).__name__}")
    pos, tok = (np.broadcast_to(np.asarray(t).astype(np.int64), (batch,)).copy() for t in target)
    if ((pos < -seq) | (pos >= seq)).any():
        raise ValueError(f"target positions {pos.tolist()} out of range for sequence length {seq}")
    return (pos % seq).astype(np.int32), tok.astype(np.int32)


def make_readout(target: Any, batch: int, seq: int,
                 rows: np.ndarray | None = None) -> Readout:
    """A readout ``output -> [rows]`` for the target; ``rows`` maps each row of a larger batch
    (interpolation steps, samples) to the original row whose position and token it reads."""
    pair = pair_arrays(target, batch, seq)
    if pair is None:
        return target
    pos, tok = pair
    if rows is not None:
        pos, tok = pos[rows], tok[rows]
    index = tf.constant(np.stack([np.arange(len(pos)), pos, tok], axis=1).astype(np.int32))

    def readout(out: Any) -> tf.Tensor:
        logits = getattr(out, "logits", None)
        if logits is None:
            raise ValueError("target (positions, token_ids) reads logits, and this model's "
                             "output has none: pass a callable readout(output) -> [batch]")
        return tf.gather_nd(logits, index)  # [rows]
    return readout


def values(readout: Readout, out: Any, rows: int, name: str = "target") -> tf.Tensor:
    """Apply a readout and check it gives one value per row."""
    v = readout(out)
    v = tf.convert_to_tensor(v)
    if v.shape.rank != 1 or (v.shape[0] is not None and v.shape[0] != rows):
        raise ValueError(f"{name} readout must return one value per batch row, shape ({rows},); "
                         f"got {tuple(v.shape)}")
    return tf.cast(v, tf.float32)


def compiled(model: Any, key: tuple, build: Callable[[], Callable], compile: bool | str):
    """The function ``build()`` returns, wrapped in tf.function (XLA with ``"xla"``) once per
    model and key; ``compile=False`` returns it as is."""
    if compile is False or compile is None:
        return build()
    if compile not in (True, "xla"):
        raise ValueError(f"compile must be False, True or 'xla', got {compile!r}")
    # The model's registry: emptied with the weights or dtype, keyed on the hooks of the call.
    return model.compiled_functions.get(
        "attribution", key + (compile,),
        lambda: tf.function(build(), jit_compile=compile == "xla", reduce_retracing=True),
        limit=16)


def read_weights(model: Any, feed: dict, readout: Readout) -> np.ndarray:
    """Where a readout reads: [rows, seq], each position's share of the readout's gradient norm
    at the final hidden states (rows = batch, or batch x choices; shares sum to 1 per batch
    row). A class logit on ``<s>`` gives 1 at position 0."""
    batch = feed["input_ids"].shape[0]
    name = f"blocks.{model.config.num_hidden_layers - 1}.hook_resid_post"
    saved = {}
    with tf.GradientTape() as tape:
        def keep(x, hook):
            tape.watch(x)
            saved["h"] = x

        out = model.run_with_hooks({k: tf.constant(v) for k, v in feed.items()},
                                   fwd_hooks=[(name, keep)])
        r = tf.reduce_sum(values(readout, out, batch))
    g = tape.gradient(r, saved["h"])
    norm = np.zeros(saved["h"].shape[:2]) if g is None else \
        np.linalg.norm(g.numpy().astype(np.float64), axis=-1)  # [rows, seq]
    total = norm.reshape(batch, -1).sum(1)
    if np.any(total == 0):
        raise ValueError("target: the readout does not depend on the final hidden states of "
                         f"batch rows {np.flatnonzero(total == 0).tolist()}")
    return norm / np.repeat(total, norm.shape[0] // batch)[:, None]
