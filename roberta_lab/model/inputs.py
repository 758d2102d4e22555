"""The seed's three input formats, normalised into one dict, and checked before any graph runs.

``model(ids)``, ``model([ids, mask, ...])`` (signature order), ``model({"input_ids": ...})`` or
``model(tokenizer_output)`` and keyword arguments all end up as the same named inputs. As in HF,
entries of a dict override keyword arguments of the same name. Numpy arrays and int64 become
int32 tensors. Every failure is a ValueError/TypeError that names the argument, what was
expected and what was given.

The checks themselves (shapes, caches, head masks, value ranges) live in ``input_checks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from .config import RobertaConfig
from .input_checks import FLOATS, MASKS, check_shapes, dtype_of

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


def to_tensor(name: str, value: Any, kind: str | bool) -> tf.Tensor | None:
    """Tensor-like -> tf.Tensor.

    kind: "int" (ids, labels -> int32), "mask" (bool/int/float -> float, kept float), or "float"
    (must already be floating). ``True``/``False`` are accepted for "int"/"mask" (old API).
    """
    if kind is True:
        kind = "int"
    elif kind is False:
        kind = "mask"
    if value is None:
        return None
    if hasattr(value, "numpy") and not isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value.numpy()
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except ValueError as err:
            raise ValueError(f"{name} is ragged or malformed: {err}") from None
    if isinstance(value, (bool, int, float, np.generic)):
        value = np.asarray(value)
    if not isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
        raise TypeError(f"{name} must be a tensor or array, got {type(value).__name__}")
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric tensor or array, got dtype {value.dtype}")
    dtype = dtype_of(name, value)
    if not (dtype.is_bool or dtype.is_integer or dtype.is_floating):
        raise TypeError(f"{name} must be a numeric tensor or array, got dtype {dtype.name}")
    if kind == "int":
        if not dtype.is_integer:
            raise TypeError(f"{name} must hold integer ids, got dtype {dtype.name}")
        return tf.cast(value, tf.int32) if dtype != tf.int32 else tf.convert_to_tensor(value)
    if kind == "float":
        if not dtype.is_floating:
            raise TypeError(f"{name} must be a floating tensor, got dtype {dtype.name}")
        # Weights are float32 and the model picks its own compute dtype (set_compute_dtype), so
        # float16/bfloat16/float64 inputs are brought to float32 here rather than failing inside.
        return tf.cast(value, tf.float32) if dtype != tf.float32 else tf.convert_to_tensor(value)
    if dtype.is_bool or dtype.is_integer:
        return tf.cast(value, tf.float32)
    return tf.convert_to_tensor(value)


def _flag_value(name: str, value: Any) -> Any:
    """A bool flag: Python/numpy bool, or a scalar bool tensor with a known value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tf.Tensor) and value.dtype == tf.bool and value.shape.rank == 0:
        static = tf.get_static_value(value)
        if static is not None:
            return bool(static)
        raise TypeError(f"{name} must be a Python bool, got a symbolic tensor (its value decides "
                        "the graph's structure)")
    raise TypeError(f"{name} must be a bool or None, got {type(value).__name__} {value!r}")


def check_training(training: Any) -> Any:
    """``training`` must be a bool (None means False); a scalar bool tensor is allowed too,
    since Keras turns numpy bools into tensors and fit() may pass a symbolic one."""
    if training is None or isinstance(training, (bool, np.bool_)):
        return training
    if isinstance(training, tf.Tensor) and training.dtype == tf.bool and training.shape.rank == 0:
        return training
    raise TypeError(f"training must be a bool, got {type(training).__name__} {training!r}")


def prepare(config: RobertaConfig, v: dict[str, Any]) -> dict[str, Any]:
    """Convert, check and fill defaults; returns the dict with tensors and resolved flags."""
    for name in _INT_INPUTS:
        v[name] = to_tensor(name, v[name], "int")
    for name in MASKS:
        v[name] = to_tensor(name, v[name], "mask")
    for name in FLOATS:
        v[name] = to_tensor(name, v[name], "float")
    if "labels" in v:
        v["labels"] = to_tensor("labels", v["labels"], "int")
    for name in _FLAGS:
        v[name] = _flag_value(name, v[name])
    if v["input_ids"] is not None and v["inputs_embeds"] is not None:
        raise ValueError("You cannot specify both input_ids and inputs_embeds")
    if v["input_ids"] is None and v["inputs_embeds"] is None:
        raise ValueError("You have to specify either input_ids or inputs_embeds")
    check_shapes(config, v)
    return v
