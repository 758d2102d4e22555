"""Checks of the model's inputs against each other and the config, before any graph runs.

What is checked, for every argument of the seed's signature:

* type and dtype: ids and labels must be integer (float ids are refused, never rounded); masks
  may be bool, integer or float; ``inputs_embeds``, ``encoder_hidden_states`` and the cache must
  be floating (the first two are brought to float32: weights are float32 and the model picks its
  own compute dtype); the four flags and ``training`` must be bools (or None); strings, objects and
  ragged lists are refused; unknown keyword arguments, unknown dict keys and over-long input
  lists are refused.
* rank and shape agreement with each other and with the config: ``[batch, seq]`` ids, types,
  positions and labels; ``[batch, past + seq]`` attention masks; head masks ``(heads,)``,
  ``(layers, heads)`` or ``(batch, layers, heads)``; encoder states ``[batch, enc, hidden]`` (only
  for a model with cross-attention) and their mask; a cache with one entry per layer of
  ``[batch, heads, past, head_dim]`` tensors (only for a decoder); exactly one of ``input_ids``
  and ``inputs_embeds``; no empty batch or zero-length sequence; ``seq + past`` within the
  position table.
* value ranges: ids in ``[0, vocab_size)``, token types in ``[0, type_vocab_size)``, positions in
  ``[0, max_position_embeddings)``, labels ``-100`` or in ``[0, vocab_size)``, masks 0/1, float
  inputs finite.

Where the range checks happen (ids, types, positions, labels):

* **Eager calls** (``model(x)`` with numpy arrays or eager tensors, the usual case) and graph
  calls whose inputs are constants: the concrete values are checked in Python before anything
  runs, raising ``ValueError``.
* **``tf.function`` graphs**: ``tf.debugging`` asserts run before the embedding gathers, so a bad
  id raises ``tf.errors.InvalidArgumentError`` naming the argument.
* **XLA** (``tf.function(jit_compile=True)``, or Keras ``jit_compile``): XLA drops asserts and
  clamps gather indices, which would give a silent wrong answer. Instead the model computes a
  per-row validity flag (ids, token types and the positions actually used) and replaces every
  hidden state of an invalid row with NaN right after the embeddings (``poison_invalid_rows``), so
  such a row's outputs - hidden states, pooled output, logits, and any loss over it - are NaN,
  never plausible numbers. Valid rows in the same batch are unaffected. The flag is computed in
  every graph (cheap: a few comparisons and one reduction per row), not in eager calls, which
  have already been checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from .config import RobertaConfig

MASKS = ("attention_mask", "head_mask", "encoder_attention_mask")
FLOATS = ("inputs_embeds", "encoder_hidden_states")


def dtype_of(name: str, value: Any) -> tf.DType:
    try:
        return tf.as_dtype(value.dtype)
    except TypeError:
        raise TypeError(f"{name} must be a numeric tensor or array, got dtype {value.dtype}") from None


def _static(t: Any) -> list[int | None]:
    return list(t.shape)


def check_shapes(config: RobertaConfig, v: dict[str, Any]) -> None:
    ids, embeds = v["input_ids"], v["inputs_embeds"]
    if ids is not None:
        if ids.shape.rank != 2:
            raise ValueError(f"input_ids must be [batch, seq], got shape {_static(ids)} (note: a "
                             "Python list as the first input is the list format [input_ids, "
                             "attention_mask, ...]; pass ids as an array)")
        batch, seq = _static(ids)
    else:
        if embeds.shape.rank != 3 or embeds.shape[-1] not in (None, config.hidden_size):
            raise ValueError(f"inputs_embeds must be [batch, seq, {config.hidden_size}], "
                             f"got shape {_static(embeds)}")
        batch, seq = _static(embeds)[:2]
    if batch == 0 or seq == 0:
        raise ValueError(f"{'input_ids' if ids is not None else 'inputs_embeds'} is empty "
                         f"(shape {_static(ids if ids is not None else embeds)}): expected at "
                         "least one sequence of at least one token")
    past = v["past_key_values"]
    past_len = _check_past(config, past, batch)
    if past is not None:
        v["past_key_values"] = tuple(tuple(tf.convert_to_tensor(t) for t in layer)
                                     for layer in past)
        past = v["past_key_values"]
    for name in ("token_type_ids", "position_ids"):
        t = v[name]
        if t is not None and (t.shape.rank != 2 or not _agree(_static(t), [batch, seq])):
            raise ValueError(f"{name} must have the shape of the inputs [{batch}, {seq}], "
                             f"got {_static(t)}")
    mask = v["attention_mask"]
    if mask is not None:
        want = [batch, None if (seq is None or past_len is None) else seq + past_len]
        if mask.shape.rank != 2 or not _agree(_static(mask), want):
            raise ValueError(f"attention_mask must be [batch, past + seq] = {want}, got "
                             f"{_static(mask)}")
    _check_head_mask(config, v["head_mask"], batch)
    enc = v["encoder_hidden_states"]
    if enc is not None:
        if not config.add_cross_attention:
            raise ValueError("encoder_hidden_states given, but this model has no cross-attention "
                             "(config.add_cross_attention is False)")
        if enc.shape.rank != 3 or not _agree(_static(enc), [batch, None, config.hidden_size]):
            raise ValueError(f"encoder_hidden_states must be [batch={batch}, enc_seq, "
                             f"{config.hidden_size}], got {_static(enc)}")
        if enc.shape[1] == 0:
            raise ValueError(f"encoder_hidden_states is empty (shape {_static(enc)}): expected "
                             "at least one encoder position")
    enc_mask = v["encoder_attention_mask"]
    if enc_mask is not None:
        if enc is None and (past is None or len(past[0]) < 4):
            raise ValueError("encoder_attention_mask given without encoder_hidden_states (or a "
                             "cache holding cross-attention keys and values)")
        enc_len = _static(enc)[1] if enc is not None else _static(past[0][2])[2]
        ok = (enc_mask.shape.rank == 2 and _agree(_static(enc_mask), [batch, enc_len])) or \
             (enc_mask.shape.rank == 3 and _agree(_static(enc_mask), [batch, seq, enc_len]))
        if not ok:
            raise ValueError(f"encoder_attention_mask must be [batch, enc_seq] = [{batch}, "
                             f"{enc_len}] or [batch, seq, enc_seq], got {_static(enc_mask)}")
    if v["position_ids"] is None and seq is not None:
        total = seq + (past_len or 0)
        if total > config.max_sequence_length:
            raise ValueError(f"sequence length {total} (input_ids/inputs_embeds plus "
                             f"past_key_values) exceeds the position table's "
                             f"{config.max_sequence_length} tokens (max_position_embeddings="
                             f"{config.max_position_embeddings})")
    if "labels" in v and v["labels"] is not None:
        labels = v["labels"]
        if labels.shape.rank != 2 or not _agree(_static(labels), [batch, seq]):
            raise ValueError(f"labels must be [batch, seq] = [{batch}, {seq}], got "
                             f"{_static(labels)}")
    _check_values(config, v)


def _agree(got: list[int | None], want: list[int | None]) -> bool:
    return len(got) == len(want) and all(g is None or w is None or g == w
                                         for g, w in zip(got, want))


def _check_past(config: RobertaConfig, past: Any, batch: int | None) -> int | None:
    if past is None:
        return 0
    if not isinstance(past, (list, tuple)):
        raise TypeError(f"past_key_values must be a tuple over layers, got {type(past).__name__}")
    if not config.is_decoder:
        raise ValueError("past_key_values given, but the model is not a decoder (config.is_decoder)")
    if len(past) != config.num_hidden_layers:
        raise ValueError(f"past_key_values has {len(past)} layers; the model has "
                         f"{config.num_hidden_layers}")
    lengths, sizes = set(), set()
    for i, layer in enumerate(past):
        if not isinstance(layer, (list, tuple)) or len(layer) not in (2, 4):
            raise ValueError(f"past_key_values[{i}] must be (k, v) or (k, v, cross_k, cross_v)")
        if len(layer) == 4 and not config.add_cross_attention:
            raise ValueError(f"past_key_values[{i}] holds cross-attention keys/values, but the "
                             "model has no cross-attention (config.add_cross_attention)")
        sizes.add(len(layer))
        for j, t in enumerate(layer):
            if not hasattr(t, "shape") or not hasattr(t, "dtype"):
                raise TypeError(f"past_key_values[{i}][{j}] must be a tensor, got "
                                f"{type(t).__name__}")
            if not dtype_of(f"past_key_values[{i}][{j}]", t).is_floating:
                raise TypeError(f"past_key_values[{i}][{j}] must be floating, got dtype "
                                f"{tf.as_dtype(t.dtype).name}")
            shape = list(t.shape)
            want = [batch, config.num_attention_heads, None, config.head_dim]
            if len(shape) != 4 or not _agree(shape, want):
                raise ValueError(f"past_key_values[{i}][{j}] must be [batch, heads, pos, d_head] "
                                 f"= {want}, got {shape}")
        if not _agree([layer[0].shape[2]], [layer[1].shape[2]]) or (
                len(layer) == 4 and not _agree([layer[2].shape[2]], [layer[3].shape[2]])):
            raise ValueError(f"past_key_values[{i}]: keys and values disagree on the cached "
                             f"length ({[t.shape[2] for t in layer]})")
        lengths.add(layer[0].shape[2])
    if len(sizes) > 1:
        raise ValueError("past_key_values layers mix (k, v) and (k, v, cross_k, cross_v) entries")
    if len(lengths) > 1:
        raise ValueError(f"past_key_values layers disagree on the cached length: "
                         f"{sorted(lengths, key=str)}")
    return lengths.pop()


def _check_head_mask(config: RobertaConfig, hm: tf.Tensor | None, batch: int | None) -> None:
    if hm is None:
        return
    L, H = config.num_hidden_layers, config.num_attention_heads
    shape = _static(hm)
    if not (_agree(shape, [H]) or _agree(shape, [L, H]) or _agree(shape, [batch, L, H])):
        raise ValueError(f"head_mask must be (heads,) = ({H},), (layers, heads) = ({L}, {H}) or "
                         f"(batch, layers, heads) = ({batch}, {L}, {H}); got {tuple(shape)}")


def _concrete(t: tf.Tensor) -> np.ndarray | None:
    """The value of ``t`` when it is known without running a graph (eager or constant)."""
    if tf.executing_eagerly() or not tf.is_symbolic_tensor(t):
        return t.numpy()
    return tf.get_static_value(t)


_LIMIT_NAMES = {"input_ids": "vocab_size", "token_type_ids": "type_vocab_size",
                "position_ids": "max_position_embeddings"}


def _limits(config: RobertaConfig) -> dict[str, int]:
    return {"input_ids": config.vocab_size, "token_type_ids": config.type_vocab_size,
            "position_ids": config.max_position_embeddings}


def _check_values(config: RobertaConfig, v: dict[str, Any]) -> None:
    """Range checks. Concrete values in numpy (cheap, clear); symbolic ones with tf asserts
    (dropped by XLA: see ``poison_invalid_rows``)."""
    for name, limit in _limits(config).items():
        t = v[name]
        if t is None:
            continue
        arr = _concrete(t)
        if arr is not None:
            if arr.size and (arr.min() < 0 or arr.max() >= limit):
                bad = arr[(arr < 0) | (arr >= limit)]
                raise ValueError(f"{name} must be in [0, {limit}) (config.{_LIMIT_NAMES[name]}); "
                                 f"got out-of-range values {bad[:5].tolist()}")
        else:
            asserts = [
                tf.debugging.assert_non_negative(t, message=f"{name} must be >= 0"),
                tf.debugging.assert_less(t, tf.cast(limit, t.dtype),
                                         message=f"{name} must be < {limit} "
                                                 f"(config.{_LIMIT_NAMES[name]})")]
            # Tie the ids to the asserts so they fail before the gathers do (with a name).
            with tf.control_dependencies([a for a in asserts if a is not None]):
                v[name] = tf.identity(t)
    labels = v.get("labels")
    if labels is not None:
        arr = _concrete(labels)
        if arr is not None:
            bad = (arr != -100) & ((arr < 0) | (arr >= config.vocab_size))
            if bad.any():
                raise ValueError(f"labels must be -100 or in [0, {config.vocab_size}); got "
                                 f"{arr[bad][:5].tolist()}")
        else:
            ok = tf.logical_or(tf.equal(labels, -100), tf.logical_and(
                labels >= 0, labels < config.vocab_size))
            check = tf.debugging.Assert(tf.reduce_all(ok), [f"labels must be -100 or in [0, "
                                                            f"{config.vocab_size})"])
            with tf.control_dependencies([check]):
                v["labels"] = tf.identity(labels)
    for name in MASKS + FLOATS:
        t = v[name]
        if t is None or not tf.executing_eagerly():
            continue  # in graphs: values unknown until run time
        # Reduced on the tensor's device: one scalar comes back, not the whole tensor.
        if not bool(tf.reduce_all(tf.math.is_finite(t))):
            raise ValueError(f"{name} must be finite; got NaN or inf")
        if name in ("attention_mask", "encoder_attention_mask") and \
                not bool(tf.reduce_all(tf.logical_or(tf.equal(t, 0), tf.equal(t, 1)))):
            raise ValueError(f"{name} must hold 0 (masked) or 1 (attend); got values "
                             f"{np.unique(t.numpy())[:5].tolist()}")


def poison_invalid_rows(config: RobertaConfig, x: tf.Tensor, input_ids: tf.Tensor | None,
                        position_ids: tf.Tensor, token_type_ids: tf.Tensor) -> tf.Tensor:
    """x [batch, seq, d_model] with every row that used an out-of-range id set to NaN.

    Only in graphs: eager calls were checked in ``prepare`` already. Under XLA (where asserts are
    dropped and gathers clamp their indices) this makes a bad row's outputs NaN, never a silent
    plausible answer; in plain graphs the asserts raise first.
    """
    if tf.executing_eagerly():
        return x
    limits = _limits(config)
    checks = [(position_ids, limits["position_ids"]), (token_type_ids, limits["token_type_ids"])]
    if input_ids is not None:
        checks.append((input_ids, limits["input_ids"]))
    ok = None
    for t, limit in checks:
        row_ok = tf.reduce_all(tf.logical_and(t >= 0, t < limit), axis=1)  # [batch]
        ok = row_ok if ok is None else tf.logical_and(ok, row_ok)
    return tf.where(ok[:, None, None], x, tf.constant(float("nan"), x.dtype))
