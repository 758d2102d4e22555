"""The seed's three input formats, normalised into one dict, and checked before any graph runs.

``model(ids)``, ``model([ids, mask, ...])`` (signature order), ``model({"input_ids": ...})`` or
``model(tokenizer_output)`` and keyword arguments all end up as the same named inputs. As in HF,
entries of a dict override keyword arguments of the same name. Numpy arrays and int64 become
int32 tensors. Every failure is a ValueError/TypeError that names the argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from .config import RobertaConfig

BASE_SIGNATURE = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask",
                  "inputs_embeds", "encoder_hidden_states", "encoder_attention_mask",
                  "past_key_values", "use_cache", "output_attentions", "output_hidden_states",
                  "return_dict")
_INT_INPUTS = ("input_ids", "token_type_ids", "position_ids")
_FLAGS = ("use_cache", "output_attentions", "output_hidden_states", "return_dict")


def unpack_inputs(signature: tuple[str, ...], first: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map (first positional argument, keyword arguments) onto ``signature``'s names."""
    values: dict[str, Any] = {name: None for name in signature}
    for key, value in kwargs.items():
        if key not in values:
            raise ValueError(f"unknown argument {key!r}: this model accepts {list(signature)}")
        values[key] = value
    if isinstance(first, Mapping):
        for key, value in first.items():
            if key not in values:
                raise TypeError(f"input dict has unknown key {key!r}; known keys are {list(signature)}")
            values[key] = value  # dict entries win over keyword arguments, as in HF
    elif isinstance(first, (list, tuple)):
        if len(first) > len(signature):
            raise ValueError(f"input list has {len(first)} entries; at most {len(signature)} "
                             f"are accepted ({list(signature)})")
        for key, value in zip(signature, first):
            values[key] = value
    elif first is not None:
        values["input_ids"] = first
    return values


def to_tensor(name: str, value: Any, integer: bool) -> tf.Tensor | None:
    """Tensor-like -> tf.Tensor; ids become int32, floats stay float."""
    if value is None:
        return None
    if hasattr(value, "numpy") and not isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value.numpy()
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except ValueError as err:
            raise ValueError(f"{name} is ragged or malformed: {err}") from None
    if isinstance(value, (bool, int, float)):
        value = np.asarray(value)
    if not isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
        raise TypeError(f"{name} must be a tensor or array, got {type(value).__name__}")
    dtype = tf.as_dtype(value.dtype)
    if integer:
        if not dtype.is_integer:
            raise TypeError(f"{name} must hold integer ids, got dtype {dtype.name}")
        return tf.cast(value, tf.int32) if dtype != tf.int32 else tf.convert_to_tensor(value)
    if dtype.is_bool or dtype.is_integer:
        return tf.cast(value, tf.float32)
    return tf.convert_to_tensor(value)


def prepare(config: RobertaConfig, v: dict[str, Any]) -> dict[str, Any]:
    """Convert, check and fill defaults; returns the dict with tensors and resolved flags."""
    for name in _INT_INPUTS:
        v[name] = to_tensor(name, v[name], integer=True)
    for name in ("attention_mask", "head_mask", "inputs_embeds", "encoder_hidden_states",
                 "encoder_attention_mask"):
        v[name] = to_tensor(name, v[name], integer=False)
    if "labels" in v:
        v["labels"] = to_tensor("labels", v["labels"], integer=True)
    for name in _FLAGS:
        if v[name] is not None and not isinstance(v[name], (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool or None, got {type(v[name]).__name__}")
    if v["input_ids"] is not None and v["inputs_embeds"] is not None:
        raise ValueError("You cannot specify both input_ids and inputs_embeds")
    if v["input_ids"] is None and v["inputs_embeds"] is None:
        raise ValueError("You have to specify either input_ids or inputs_embeds")
    _check_shapes(config, v)
    return v


def _static(t: tf.Tensor) -> list[int | None]:
    return list(t.shape)


def _check_shapes(config: RobertaConfig, v: dict[str, Any]) -> None:
    ids, embeds = v["input_ids"], v["inputs_embeds"]
    if ids is not None:
        if ids.shape.rank != 2:
            raise ValueError(f"input_ids must be [batch, seq], got shape {_static(ids)}")
        batch, seq = _static(ids)
    else:
        if embeds.shape.rank != 3 or embeds.shape[-1] not in (None, config.hidden_size):
            raise ValueError(f"inputs_embeds must be [batch, seq, {config.hidden_size}], "
                             f"got shape {_static(embeds)}")
        batch, seq = _static(embeds)[:2]
    if batch == 0 or seq == 0:
        raise ValueError(f"{'input_ids' if ids is not None else 'inputs_embeds'} is empty "
                         f"(shape {_static(ids if ids is not None else embeds)})")
    past = v["past_key_values"]
    past_len = _check_past(config, past, batch)
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
    enc_mask = v["encoder_attention_mask"]
    if enc_mask is not None:
        if enc is None and (past is None or len(past[0]) < 4):
            raise ValueError("encoder_attention_mask given without encoder_hidden_states")
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
    lengths = set()
    for i, layer in enumerate(past):
        if not isinstance(layer, (list, tuple)) or len(layer) not in (2, 4):
            raise ValueError(f"past_key_values[{i}] must be (k, v) or (k, v, cross_k, cross_v)")
        for j, t in enumerate(layer):
            shape = list(t.shape)
            want = [batch, config.num_attention_heads, None, config.head_dim]
            if len(shape) != 4 or not _agree(shape, want):
                raise ValueError(f"past_key_values[{i}][{j}] must be [batch, heads, pos, d_head] "
                                 f"= {want}, got {shape}")
        lengths.add(layer[0].shape[2])
    if len(lengths) > 1:
        raise ValueError(f"past_key_values layers disagree on the cached length: {sorted(lengths)}")
    return lengths.pop()


def _check_head_mask(config: RobertaConfig, hm: tf.Tensor | None, batch: int | None) -> None:
    if hm is None:
        return
    L, H = config.num_hidden_layers, config.num_attention_heads
    shape = _static(hm)
    if not (_agree(shape, [H]) or _agree(shape, [L, H]) or _agree(shape, [batch, L, H])):
        raise ValueError(f"head_mask must be (heads,) = ({H},), (layers, heads) = ({L}, {H}) or "
                         f"(batch, layers, heads) = ({batch}, {L}, {H}); got {tuple(shape)}")


def _check_values(config: RobertaConfig, v: dict[str, Any]) -> None:
    """Range checks on ids. Eagerly in numpy (cheap, clear); in graphs with tf asserts."""
    limits = {"input_ids": config.vocab_size, "token_type_ids": config.type_vocab_size,
              "position_ids": config.max_position_embeddings}
    if "labels" in v and v["labels"] is not None:
        labels = v["labels"]
        ref = v["input_ids"] if v["input_ids"] is not None else v["inputs_embeds"]
        if not _agree(_static(labels), _static(ref)[:2]):
            raise ValueError(f"labels must be [batch, seq] = {_static(ref)[:2]}, got {_static(labels)}")
    for name, limit in limits.items():
        t = v[name]
        if t is None:
            continue
        if tf.executing_eagerly():
            arr = t.numpy()
            if arr.size and (arr.min() < 0 or arr.max() >= limit):
                raise ValueError(f"{name} must be in [0, {limit}); got values from {arr.min()} "
                                 f"to {arr.max()}")
        else:
            tf.debugging.assert_non_negative(t, message=f"{name} must be >= 0")
            tf.debugging.assert_less(t, tf.cast(limit, t.dtype), message=f"{name} must be < {limit}")
    if v.get("labels") is not None and tf.executing_eagerly():
        arr = v["labels"].numpy()
        bad = (arr != -100) & ((arr < 0) | (arr >= config.vocab_size))
        if bad.any():
            raise ValueError(f"labels must be -100 or in [0, {config.vocab_size}); got "
                             f"{arr[bad][:5].tolist()}")
