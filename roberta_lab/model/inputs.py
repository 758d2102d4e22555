"""The seed's three input formats, normalised into one typed ``ForwardInputs``, checked before
any graph runs. This module is the only place that builds ``ForwardInputs``.

``model(ids)``, ``model([ids, mask, ...])`` (signature order), ``model({"input_ids": ...})`` or
``model(tokenizer_output)`` and keyword arguments all end up as the same named inputs. As in HF,
entries of a dict override keyword arguments of the same name. Numpy arrays and int64 become
int32 tensors. Every failure is a ValueError/TypeError that names the argument, what was
expected and what was given.

The checks themselves (shapes, caches, head masks, value ranges) live in ``input_checks``.

Example:
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> a = prepare(cfg, BASE_SIGNATURE, (np.array([[0, 5, 2]]),), {"attention_mask": [[1, 1, 0]]})
    >>> b = prepare(cfg, BASE_SIGNATURE, ({"input_ids": [[0, 5, 2]], "attention_mask": [[1, 1, 0]]},), {})
    >>> a.input_ids.dtype.name, a.attention_mask.numpy().tolist() == b.attention_mask.numpy().tolist()
    ('int32', True)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from .cache import KVCache, tf_structure
from .config import RobertaConfig
from .input_checks import FLOATS, MASKS, check_shapes, dtype_of, to_int32

BASE_SIGNATURE = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask",
                  "inputs_embeds", "encoder_hidden_states", "encoder_attention_mask",
                  "past_key_values", "use_cache", "output_attentions", "output_hidden_states",
                  "return_dict")
_INT_INPUTS = ("input_ids", "token_type_ids", "position_ids")
_FLAGS = ("use_cache", "output_attentions", "output_hidden_states", "return_dict")
LABEL_NAMES = ("labels", "start_positions", "end_positions")
# Multiple choice: the inputs that carry a choices axis, and their conversion kinds.
_CHOICE_INPUTS = (("input_ids", "int"), ("attention_mask", "mask"), ("token_type_ids", "int"),
                  ("position_ids", "int"), ("inputs_embeds", "float"))


@tf_structure
@dataclass(frozen=True)
class ForwardInputs:
    """What the trunk reads: the seed's inputs as tensors, checked, with the flags as given
    (None = the config's default). Shapes: ids, types, positions, labels [batch, seq];
    attention_mask [batch, past + seq] (or [batch, max_len] over a fixed-size cache);
    inputs_embeds [batch, seq, d_model]; head_mask (heads,), (layers, heads) or (batch, layers,
    heads); encoder_hidden_states [batch, enc_pos, d_model]; encoder_attention_mask
    [batch, enc_pos] or [batch, seq, enc_pos]; past_key_values a ``KVCache`` (see cache.py; HF's
    tuples are converted on the way in). Task heads: labels as their head checked them
    ([batch] or [batch, seq]); start_positions, end_positions [batch] (question answering);
    num_choices a scalar int32 tensor when multiple-choice inputs [batch, choices, ...] were
    flattened to [batch * choices, ...] rows. Frozen: derive a variant with ``replace``.

    Crosses ``tf.function`` as a structure: the flags are Python values (part of the trace's
    key), everything else is a tensor, None or a cache."""

    input_ids: tf.Tensor | None = None
    attention_mask: tf.Tensor | None = None
    token_type_ids: tf.Tensor | None = None
    position_ids: tf.Tensor | None = None
    head_mask: tf.Tensor | None = None
    inputs_embeds: tf.Tensor | None = None
    encoder_hidden_states: tf.Tensor | None = None
    encoder_attention_mask: tf.Tensor | None = None
    past_key_values: KVCache | None = None
    labels: tf.Tensor | None = None
    start_positions: tf.Tensor | None = None
    end_positions: tf.Tensor | None = None
    num_choices: tf.Tensor | None = None
    use_cache: bool | None = None
    output_attentions: bool | None = None
    output_hidden_states: bool | None = None
    return_dict: bool | None = None
    STATIC = _FLAGS

    def replace(self, **changes: Any) -> "ForwardInputs":
        return dataclasses.replace(self, **changes)

    def structure_key(self) -> tuple:
        """What a traced graph depends on besides sizes: which inputs are given, their ranks
        and dtypes, and the flags (so reduce_retracing only ever relaxes sizes)."""
        fields = [getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _FLAGS]
        return (tuple(None if value is None else
                      tuple((x.shape.rank, x.dtype.name) for x in tf.nest.flatten(value))
                      for value in fields),
                tuple(getattr(self, f) for f in _FLAGS), _cache_shape(self.past_key_values))

    @property
    def batch_and_seq(self) -> tuple[tf.Tensor, tf.Tensor]:
        ref = self.input_ids if self.input_ids is not None else self.inputs_embeds
        return tf.shape(ref)[0], tf.shape(ref)[1]


def _cache_shape(cache: KVCache | None) -> Any:
    if cache is None:
        return None
    return (len(cache), cache.layers[0].cross_attn is not None, cache.fixed, cache.seen is None)


def engine_inputs(**fields: Any) -> ForwardInputs:
    """Inputs for engine code (generation's compiled loop, sweeps, fill-mask, training) whose
    tensors are already checked or built in a graph: no conversion, no checks.
    ``past_key_values`` may be a ``KVCache`` in any mode (fixed-size buffers included)."""
    return ForwardInputs(**fields)


def call_signature(names: tuple[str, ...]) -> inspect.Signature:
    """The seed's ``call(self, input_ids=None, ..., training=False)`` for ``names``: the one
    source of the models' call signatures (read by Keras and by ``help``)."""
    P = inspect.Parameter
    return inspect.Signature([P("self", P.POSITIONAL_OR_KEYWORD)] +
                             [P(n, P.POSITIONAL_OR_KEYWORD, default=None) for n in names] +
                             [P("training", P.POSITIONAL_OR_KEYWORD, default=False)])


def unpack_inputs(signature: tuple[str, ...], args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map (positional arguments, keyword arguments) onto ``signature``'s names. The first
    positional may be ids, a list in signature order, or a dict / tokenizer output."""
    first, rest = (args[0], args[1:]) if args else (None, ())
    if len(rest) > len(signature) - 1:
        raise TypeError(f"too many positional arguments: at most {len(signature)} "
                        f"({list(signature)})")
    values: dict[str, Any] = {name: None for name in signature}
    for key, value in zip(signature[1:], rest):
        values[key] = value
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


def to_tensor(name: str, value: Any, kind: str) -> tf.Tensor | None:
    """Tensor-like -> tf.Tensor.

    kind: "int" (ids, labels -> int32), "mask" (bool/int/float -> float, kept float), or "float"
    (must already be floating).
    """
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
        return to_int32(name, value, dtype)
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


def flatten_choices(v: dict[str, Any]) -> None:
    """Multiple choice, in place: inputs [batch, choices, seq] (inputs_embeds [batch, choices,
    seq, d_model]) -> [batch * choices, ...] rows; a per-question head mask (batch, layers,
    heads) repeated per choice; ``num_choices`` set (a scalar int32 tensor)."""
    ref_name = "input_ids" if v["input_ids"] is not None else "inputs_embeds"
    if v[ref_name] is None:
        return  # prepare() names the missing input
    rank = 3 if ref_name == "input_ids" else 4
    ref = to_tensor(ref_name, v[ref_name], "int" if rank == 3 else "float")
    if ref.shape.rank != rank:
        raise ValueError(f"{ref_name} must be [batch, choices, seq{', d_model' * (rank == 4)}] "
                         f"for multiple choice, got shape {list(ref.shape)}")
    choices = tf.shape(ref)[1]
    for name, kind in _CHOICE_INPUTS:
        t = ref if name == ref_name else to_tensor(name, v[name], kind)
        if t is None:
            continue
        want = 4 if name == "inputs_embeds" else 3
        if t.shape.rank != want:
            raise ValueError(f"{name} must have the inputs' [batch, choices, ...] shape "
                             f"(rank {want}), got {list(t.shape)}")
        v[name] = tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))
    hm = to_tensor("head_mask", v["head_mask"], "mask")
    if hm is not None and hm.shape.rank == 3:  # one mask per question -> per choice row
        v["head_mask"] = tf.repeat(hm, choices, axis=0)
    v["num_choices"] = choices


def prepare(config: RobertaConfig, signature: tuple[str, ...], args: tuple,
            kwargs: dict[str, Any], *, choices: bool = False,
            check_label: Any = None) -> ForwardInputs:
    """The one way in: any of the seed's formats -> checked ``ForwardInputs``. Values are
    converted (numpy, torch, lists, int64 -> int32 tensors), checked against each other and
    the config (``input_checks``), and HF's tuple cache becomes a ``KVCache``.

    Task heads: ``choices`` flattens multiple-choice inputs (``flatten_choices``);
    ``check_label(name, value, inputs)`` converts and checks each given label
    (``LABEL_NAMES``) against the head and the label-free inputs."""
    v = dict.fromkeys(BASE_SIGNATURE)
    v.update(unpack_inputs(signature, args, kwargs))
    if choices:
        flatten_choices(v)
    given_labels = {}
    if check_label is not None:
        given_labels = {n: v.pop(n) for n in LABEL_NAMES if n in v}
        span = [given_labels.get(n) is None for n in ("start_positions", "end_positions")]
        if "start_positions" in given_labels and span[0] != span[1]:
            raise ValueError("start_positions and end_positions go together: give both for a "
                             "loss, or neither")
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
    given = v["past_key_values"]
    if isinstance(given, KVCache):  # our own output: checked as HF's tuples, keeps its count
        v["past_key_values"] = given.to_legacy_cache()
    check_shapes(config, v)
    if v["past_key_values"] is not None:
        v["past_key_values"] = KVCache.from_legacy_cache(
            v["past_key_values"], given.seen if isinstance(given, KVCache) else None)
    inputs = ForwardInputs(**v)
    checked = {n: check_label(n, x, inputs) for n, x in given_labels.items() if x is not None}
    return inputs.replace(**checked) if checked else inputs
