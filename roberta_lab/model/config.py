"""RobertaConfig: every field of Hugging Face's ``RobertaConfig``, with HF's names and defaults.

One config object drives every layer. It reads and writes HF ``config.json`` unchanged: keys this
class does not know (``architectures``, ``torch_dtype``, ``transformers_version``, ...) are kept
in ``extra`` and written back, so a round trip loses nothing.

Example:
    >>> from roberta_lab import RobertaConfig
    >>> cfg = RobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> cfg.head_dim
    8
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from .files import read_json, write_atomic
from .model_folder import CONFIG_NAME, write_model_files
from .hub import hub_kwargs, resolve_file

# HF's class defaults (transformers RobertaConfig + PretrainedConfig). Note that the *class*
# defaults differ from roberta-base's config.json (514 positions, eps 1e-5, one token type):
# use ``RobertaConfig.roberta_base()`` for those.
_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "position_embedding_type": "absolute",
    "use_cache": True,
    "classifier_dropout": None,
    # inherited from PretrainedConfig
    "is_decoder": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
    "return_dict": True,
    "output_attentions": False,
    "output_hidden_states": False,
    "tf_legacy_loss": False,
    "model_type": "roberta",
}

_POSITIVE_INTS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                  "intermediate_size", "max_position_embeddings", "type_vocab_size")
_TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id")
_BOOLS = ("use_cache", "is_decoder", "add_cross_attention", "tie_word_embeddings", "return_dict",
          "output_attentions", "output_hidden_states", "tf_legacy_loss")
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout")
# Far beyond any RoBERTa, small enough that a typo (an extra zero or two) is caught before a
# model is built: sizes are allocated as [vocab, hidden], [layers] x [hidden, intermediate].
_MAX_SIZE = 2**24
_MAX_LAYERS = 1024
_MAX_PARAMS = 10**11  # 400 GB of float32: a config beyond this is a typo, not a model

_ACTIVATIONS = ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu", "relu",
                "silu", "swish", "tanh", "sigmoid", "linear")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_field(name: str, value: Any) -> None:
    """One field's type and range; a TypeError/ValueError naming ``RobertaConfig.<name>``."""
    field = f"RobertaConfig.{name}"
    if name in _POSITIVE_INTS:
        if not _is_int(value) or not 0 < value <= _MAX_SIZE:
            raise ValueError(f"{field} must be a positive int (at most {_MAX_SIZE}), got {value!r}")
    elif name in _TOKEN_IDS:
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError(f"{field} must be a non-negative int or None, got {value!r}")
    elif name in _BOOLS:
        if not isinstance(value, bool):
            raise TypeError(f"{field} must be true or false, got {value!r}")
    elif name in _PROBABILITIES:
        if value is None and name == "classifier_dropout":
            return
        if not _is_real(value) or not 0.0 <= value < 1.0:
            raise ValueError(f"{field} must be a number in [0, 1), got {value!r}")
    elif name == "layer_norm_eps":
        if not _is_real(value) or not 0.0 < value < 1.0:
            raise ValueError(f"{field} must be a positive number below 1 (e.g. 1e-5), got "
                             f"{value!r}")
    elif name == "initializer_range":
        if not _is_real(value) or not 0.0 <= value < float("inf"):
            raise ValueError(f"{field} must be a finite number >= 0, got {value!r}")
    elif name == "hidden_act":
        if not isinstance(value, str) or value not in _ACTIVATIONS:
            raise ValueError(f"{field} must be one of {_ACTIVATIONS}, got {value!r}")
    elif name == "position_embedding_type":
        if value != "absolute":
            # HF TF 4.37 silently ignores the relative settings; we refuse rather than be wrong.
            raise ValueError(f"{field}: only 'absolute' is implemented, got {value!r}")
    elif name == "model_type":
        if not isinstance(value, str):
            raise TypeError(f"{field} must be a string, got {value!r}")


# PretrainedConfig fields that task heads and HF code read; kept in ``extra`` when set.
_EXTRA_DEFAULTS: dict[str, Any] = {
    "id2label": {0: "LABEL_0", 1: "LABEL_1"}, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "problem_type": None, "is_encoder_decoder": False,
}
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def _init_labels(extra: dict[str, Any]) -> None:
    """HF's label fields: ``num_labels`` is not stored, it sizes ``id2label``; ``id2label`` keys
    are ints (JSON turns them into strings); ``label2id`` is its inverse."""
    num_labels = extra.pop("num_labels", None)
    if num_labels is not None and (isinstance(num_labels, bool) or not isinstance(num_labels, int)
                                   or num_labels < 1):
        raise ValueError(f"RobertaConfig.num_labels must be a positive int, got {num_labels!r}")
    id2label = extra.get("id2label")
    if id2label is not None:
        if not isinstance(id2label, dict):
            raise ValueError(f"RobertaConfig.id2label must be a dict, got {type(id2label).__name__}")
        try:
            id2label = {int(k): v for k, v in id2label.items()}
        except (TypeError, ValueError):
            raise ValueError(f"RobertaConfig.id2label keys must be ints, got "
                             f"{list(id2label)[:5]}") from None
        extra["id2label"] = id2label
    if num_labels is not None and (id2label is None or len(id2label) != num_labels):
        extra["id2label"] = {i: f"LABEL_{i}" for i in range(num_labels)}
        extra["label2id"] = {f"LABEL_{i}": i for i in range(num_labels)}
    elif "id2label" in extra and "label2id" not in extra:
        extra["label2id"] = {v: k for k, v in extra["id2label"].items()}
    if extra.get("label2id") is not None and not isinstance(extra["label2id"], dict):
        raise ValueError(f"RobertaConfig.label2id must be a dict, got "
                         f"{type(extra['label2id']).__name__}")


def _check_task_fields(extra: dict[str, Any]) -> None:
    if extra.get("problem_type") not in (None,) + PROBLEM_TYPES:
        raise ValueError(f"RobertaConfig.problem_type must be None or one of {PROBLEM_TYPES}, "
                         f"got {extra['problem_type']!r}")
    if extra.get("is_encoder_decoder"):
        raise ValueError("RobertaConfig.is_encoder_decoder=True: RoBERTa is an encoder (or, with "
                         "is_decoder=True, a decoder), never an encoder-decoder")


class RobertaConfig:
    """Configuration of a RoBERTa model, field for field as in HF transformers.

    Fields (HF names): vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
    intermediate_size, hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
    max_position_embeddings, type_vocab_size, initializer_range, layer_norm_eps, pad_token_id,
    bos_token_id, eos_token_id, position_embedding_type, use_cache, classifier_dropout,
    is_decoder, add_cross_attention, tie_word_embeddings, return_dict, output_attentions,
    output_hidden_states, tf_legacy_loss.

    Derived values are properties: ``head_dim``, ``max_sequence_length`` (positions usable by
    tokens: RoBERTa's position ids start after the pad index, so 514 rows allow 512 tokens).
    """

    model_type = "roberta"

    def __init__(self, **kwargs: Any):
        fields = dict(_DEFAULTS)
        extra: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in fields:
                fields[key] = value
            else:
                extra[key] = value
        self.__dict__["extra"] = extra
        for key, value in fields.items():
            self.__dict__[key] = value
        _init_labels(extra)
        self._validate()

    # --- derived values ---------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def padding_idx(self) -> int:
        return self.pad_token_id if self.pad_token_id is not None else 1

    @property
    def max_sequence_length(self) -> int:
        """Longest input the position table allows (positions start at ``padding_idx + 1``)."""
        return self.max_position_embeddings - self.padding_idx - 1

    @property
    def num_labels(self) -> int:
        """Number of classes of a task head: ``len(id2label)`` (HF's default is 2). Setting it
        (or passing ``num_labels=n``) makes ``id2label``/``label2id`` ``LABEL_0..LABEL_{n-1}``
        unless they already have n entries, as in HF."""
        return len(self.id2label)

    # --- checks -----------------------------------------------------------------------------
    def _validate(self, source: str | None = None) -> None:
        """Every field's type and range, then the fields' consistency; errors name the field
        (and ``source``, the file it came from)."""
        try:
            for name in _DEFAULTS:
                _check_field(name, self.__dict__[name])
            self._check_consistency()
        except (TypeError, ValueError) as err:
            if source is None:
                raise
            raise type(err)(f"{source}: {err}") from None

    def _check_consistency(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"RobertaConfig.hidden_size ({self.hidden_size}) must be a multiple of "
                f"num_attention_heads ({self.num_attention_heads})")
        if self.add_cross_attention and not self.is_decoder:
            raise ValueError("RobertaConfig.add_cross_attention=True needs is_decoder=True")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = self.__dict__[name]
            if value is not None and value >= self.vocab_size:
                raise ValueError(f"RobertaConfig.{name} ({value}) must be < vocab_size "
                                 f"({self.vocab_size})")
        if self.num_hidden_layers > _MAX_LAYERS:
            raise ValueError(f"RobertaConfig.num_hidden_layers ({self.num_hidden_layers}) is "
                             f"beyond any RoBERTa (at most {_MAX_LAYERS} here)")
        h, i = self.hidden_size, self.intermediate_size
        params = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h + \
            self.num_hidden_layers * (4 * h * h + 2 * h * i)
        if params > _MAX_PARAMS:
            raise ValueError(f"RobertaConfig: vocab_size={self.vocab_size}, hidden_size={h}, "
                             f"num_hidden_layers={self.num_hidden_layers}, intermediate_size={i} "
                             f"make {params:.3g} weights, beyond {_MAX_PARAMS:.0e} (a typo?)")
        if self.max_sequence_length < 1:
            raise ValueError(f"RobertaConfig.max_position_embeddings ({self.max_position_embeddings})"
                             f" must exceed pad_token_id + 1 ({self.padding_idx + 1}): RoBERTa's "
                             "positions start after the pad index")
        _check_task_fields(self.extra)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _DEFAULTS:
            _check_field(key, value)
            self.__dict__[key] = value
        elif key in ("num_labels", "id2label", "label2id", "problem_type", "is_encoder_decoder"):
            extra = dict(self.__dict__["extra"], **{key: value})
            _init_labels(extra)
            _check_task_fields(extra)
            self.__dict__["extra"] = extra
        elif key in type(self).__dict__ and isinstance(type(self).__dict__[key], property):
            raise AttributeError(f"RobertaConfig.{key} is derived and cannot be set")
        else:
            self.__dict__["extra"][key] = value

    def __getattr__(self, key: str) -> Any:
        extra = self.__dict__.get("extra", {})
        if key in extra:
            return extra[key]
        if key in _EXTRA_DEFAULTS:  # HF PretrainedConfig fields, written only when set
            return copy.deepcopy(_EXTRA_DEFAULTS[key])
        raise AttributeError(f"RobertaConfig has no field {key!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RobertaConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"RobertaConfig {json.dumps(self.to_dict(), indent=2, sort_keys=True)}"

    # --- dict / json ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {key: self.__dict__[key] for key in _DEFAULTS}
        out.update(copy.deepcopy(self.extra))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, _source: str | None = None,
                  **overrides: Any) -> "RobertaConfig":
        if not isinstance(data, dict):
            raise TypeError(f"config must be a dict, got {type(data).__name__}")
        merged = dict(data)
        merged.update(overrides)
        if _source is None:
            return cls(**merged)
        if not all(isinstance(k, str) for k in merged):
            raise ValueError(f"{_source}: config keys must be strings")
        try:
            return cls(**merged)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{_source}: {err}") from None

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str | os.PathLike) -> None:
        write_atomic(path, self.to_json_string().encode("utf-8"))

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "RobertaConfig":
        """Read and validate ``path``; every problem names the file (and the field)."""
        data = read_json(path, "config file")
        return cls.from_dict(data, _source=f"config file {os.fspath(path)}")

    def copy(self, **overrides: Any) -> "RobertaConfig":
        return self.from_dict(self.to_dict(), **overrides)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``config.json`` into ``directory`` as the model's ``save_pretrained`` does:
        atomically, never into a file or a folder that is not a model folder, keeping
        permissions (``model_folder.write_model_files``)."""
        write_model_files(directory, [(CONFIG_NAME, self.to_json_string().encode("utf-8"))],
                          "config save_pretrained")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> "RobertaConfig":
        """Load ``config.json`` from a folder, a bundled model name or a hub id."""
        path = resolve_file(name_or_path, "config.json", **hub_kwargs(kwargs))
        return cls.from_dict(read_json(path, "config file"), _source=f"config file {path}",
                             **kwargs)

    # --- presets ----------------------------------------------------------------------------
    @classmethod
    def roberta_base(cls, **overrides: Any) -> "RobertaConfig":
        """roberta-base's published config.json values."""
        base = dict(max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                    architectures=["RobertaForMaskedLM"])
        base.update(overrides)
        return cls(**base)

