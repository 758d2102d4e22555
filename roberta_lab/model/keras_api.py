"""The Keras and HF ways of working, shared by every model class.

* ``fit``/``evaluate`` with labels inside ``x`` (``{"input_ids": ..., "labels": ...}``), as ``y``
  or as ``{"labels": y}``; ``compile(metrics=[...])`` sees the labels and the logits, and
  ``compile()`` needs no loss (the model computes its own, HF's convention).
* ``.keras`` save/load (every class is registered with Keras) and ``tf.saved_model.save(model,
  path, signatures=model.serving)``: ``serving`` takes ``input_ids``, ``attention_mask`` and
  ``token_type_ids`` (int32, [batch, seq], or [batch, choices, seq] for multiple choice) and
  returns a dict of the output tensors.
* Keras mixed precision: a ``mixed_bfloat16``/``mixed_float16`` global policy at construction
  runs the dense matmuls in that dtype (the model's ``set_compute_dtype`` mode: weights float32,
  softmax, LayerNorm, residual stream and losses float32); policies that store weights in half
  precision are refused.
* HF's API: ``from_config`` (a ``RobertaConfig`` or a dict), ``get_input_embeddings``,
  ``get_output_embeddings``/``get_bias`` (None without an LM head), ``resize_token_embeddings``.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> model = TFRobertaForMaskedLM(cfg)
    >>> model.compile(keras.optimizers.SGD(0.0), metrics=["sparse_categorical_accuracy"])
    >>> ids = np.array([[0, 5, 6, 2]] * 4)
    >>> sorted(model.evaluate({"input_ids": ids, "labels": ids}, verbose=0, return_dict=True))
    ['loss', 'sparse_categorical_accuracy']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .config import RobertaConfig
from .inputs import LABEL_NAMES


def check_dtype_policy(kw: dict[str, Any]) -> None:
    """Refuse what the model cannot honour: a ``dtype`` given to the constructor, or a global
    policy whose variables are not float32."""
    if kw.get("dtype") is not None:
        raise ValueError("dtype= is not supported by roberta_lab models: set a Keras policy "
                         "(keras.mixed_precision.set_global_policy('mixed_bfloat16')) before "
                         "constructing the model, or call model.set_compute_dtype('bfloat16')")
    policy = keras.mixed_precision.global_policy()
    if policy.variable_dtype != "float32":
        raise ValueError(f"Keras dtype policy {policy.name!r} stores weights in "
                         f"{policy.variable_dtype}; roberta_lab keeps weights in float32. Use "
                         f"'mixed_{policy.compute_dtype}' (float32 weights, "
                         f"{policy.compute_dtype} matmuls) or model.set_compute_dtype()")


def _replace_variable(uses: list[tuple[Any, str]], values: np.ndarray) -> keras.Variable:
    """Give a variable (held as ``layer.attr`` for each of ``uses``) new values of a new shape,
    keeping each layer's variable order (``.keras`` files store variables by position)."""
    old = getattr(*uses[0])
    new = keras.Variable(values.astype(np.float32), name=old.name.split("/")[-1].split(":")[0])
    for layer, attr in uses:
        index = next(i for i, v in enumerate(layer._trainable_variables) if v is old)
        layer._untrack_variable(old)
        setattr(layer, attr, new)  # Keras tracks it (appended)
        store = layer._trainable_variables
        store.insert(index, store.pop(next(i for i, v in enumerate(store) if v is new)))
    return new


class KerasModelMixin:
    """Keras plumbing for ``RobertaPreTrainedModel`` (see the module docstring)."""

    # --- configs ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> Any:
        """A new model with random weights from a ``RobertaConfig``, Keras' ``get_config()``
        dict, or a plain config dict (HF's ``from_config``)."""
        if isinstance(config, Mapping) and isinstance(config.get("config"), Mapping):
            config = config["config"]
        if isinstance(config, Mapping):
            config = RobertaConfig.from_dict(dict(config))
        if not isinstance(config, RobertaConfig):
            raise TypeError(f"config must be a RobertaConfig or a dict, got "
                            f"{type(config).__name__}")
        return cls(config, **kwargs)

    # --- embeddings -------------------------------------------------------------------------
    def get_input_embeddings(self) -> Any:
        return self.roberta.embeddings

    def get_output_embeddings(self) -> Any:
        """The LM head (tied to the input embeddings), or None for models without one."""
        return getattr(self, "lm_head", None)

    def get_bias(self) -> dict[str, Any] | None:
        head = getattr(self, "lm_head", None)
        return None if head is None else {"bias": head.bias}

    def resize_token_embeddings(self, new_num_tokens: int | None = None) -> Any:
        """HF's resize: old rows kept (or the last rows dropped), new rows drawn from
        TruncatedNormal(initializer_range) as HF TF does, the LM head's tied decoder follows and
        its bias gets zeros; ``config.vocab_size`` becomes ``new_num_tokens``. None returns the
        embedding variable unchanged."""
        emb = self.get_input_embeddings()
        if new_num_tokens is None:
            return emb.word_embeddings
        if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, int) or \
                new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive int, got {new_num_tokens!r}")
        old = emb.word_embeddings.numpy()
        n_old, width = old.shape
        if new_num_tokens > n_old:
            init = keras.initializers.TruncatedNormal(stddev=self.config.initializer_range)
            rows = np.asarray(init((new_num_tokens - n_old, width)))
            values = np.concatenate([old, rows])
        else:
            values = old[:new_num_tokens]
        head = getattr(self, "lm_head", None)
        uses = [(emb, "word_embeddings")] + ([(head, "decoder")] if head is not None else [])
        new = _replace_variable(uses, values)  # the LM head's decoder stays tied
        if head is not None:
            bias = np.concatenate([head.bias.numpy(),
                                   np.zeros(max(0, new_num_tokens - n_old), np.float32)])
            _replace_variable([(head, "bias")], bias[:new_num_tokens])
        self.config.vocab_size = new_num_tokens
        self.set_compute_dtype(self._matmul_dtype())  # drops every compiled function
        return new

    def _matmul_dtype(self) -> Any:
        for layer in self._flatten_layers(include_self=False, recursive=True):
            if hasattr(layer, "matmul_dtype"):
                return layer.matmul_dtype
        return None

    def prepare_tf_dataset(self, dataset: Any, batch_size: int = 8, shuffle: bool = True,
                           tokenizer: Any = None, **kwargs: Any) -> tf.data.Dataset:
        """Tokenized texts -> a ``tf.data.Dataset`` of padded batches (see ``tf_data``)."""
        from .tf_data import prepare_tf_dataset  # noqa: PLC0415

        return prepare_tf_dataset(self, dataset, batch_size, shuffle, tokenizer, **kwargs)

    # --- serving ----------------------------------------------------------------------------
    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        rank = 3 if self.has_choices else 2
        return {name: tf.TensorSpec([None] * rank, tf.int32, name=name)
                for name in ("input_ids", "attention_mask", "token_type_ids")}

    @property
    def serving(self) -> Any:
        """A ``tf.function`` over ``input_signature`` returning a dict of the output tensors,
        for ``tf.saved_model.save(model, path, signatures=model.serving)``."""
        def serve(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            out = self(inputs)
            return {k: v for k, v in out.items() if isinstance(v, tf.Tensor)}

        return self.compiled_functions.get(
            "serving", (), lambda: tf.function(serve, input_signature=[self.input_signature]))

    # --- fit / evaluate ---------------------------------------------------------------------
    def train_step(self, data):
        return super().train_step(self._labels_into_inputs(data))

    def test_step(self, data):
        return super().test_step(self._labels_into_inputs(data))

    def _labels_into_inputs(self, data):
        # HF's convention: labels given as y are moved into the input dict and the model
        # computes its own loss; metrics still need them as y.
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        names = [n for n in LABEL_NAMES if n in self.signature]
        if not isinstance(x, Mapping):
            x = {"input_ids": x}
        x = dict(x)
        if isinstance(y, Mapping):
            unknown = set(y) - set(names)
            if unknown:
                raise ValueError(f"y has keys {sorted(unknown)}; this model's labels are {names}")
            x.update({k: v for k, v in y.items() if k not in x})
            y = y[names[0]] if len(y) == 1 and names[0] in y else dict(y)
        elif y is not None and names and names[0] not in x:
            if len(names) > 1:
                raise ValueError(f"give this model's labels as a dict with keys {names}")
            x[names[0]] = y
        if y is None:
            present = [n for n in names if n in x]
            if len(present) == 1:
                y = x[present[0]]
            elif present:
                y = {n: x[n] for n in present}
        return x, y, sw

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = getattr(y_pred, "loss", None) if isinstance(y_pred, dict) else None
        if loss is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        # The legacy per-token loss of an all-ignored batch is empty: its mean is 0, not NaN.
        size = tf.cast(tf.size(loss), loss.dtype)
        return tf.reduce_sum(loss) / tf.maximum(size, 1.0)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, dict) and "logits" in y_pred:
            y_pred = y_pred["logits"]
        elif isinstance(y_pred, dict):  # question answering: y is {start_positions, end_positions}
            y_pred = {k.replace("_logits", "_positions"): v for k, v in y_pred.items()
                      if k.endswith("_logits")}
        return super().compute_metrics(x, y, y_pred, sample_weight)
