"""HF 4.37's ``TFRobertaForMultipleChoice``: each of several choices scored, one softmax over them.

Inputs [batch, choices, seq] run through the trunk as batch x choices sequences; the pooler
(tanh dense on ``<s>``) -> dropout (``hidden_dropout_prob``) -> ``classifier`` (1 unit) gives
logits [batch, choices]; the loss is the cross-entropy of ``labels`` [batch]. Unlike 4.37 TF,
per-call flags are honoured and ``inputs_embeds`` [batch, choices, seq, d_model] work.

Example:
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig, TFRobertaForMultipleChoice
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> ids = np.array([[[0, 5, 6, 2], [0, 7, 8, 2], [0, 9, 9, 2]]])   # [batch, choices, seq]
    >>> tuple(TFRobertaForMultipleChoice(cfg)(ids, labels=np.array([1])).logits.shape)
    (1, 3)
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from .config import RobertaConfig
from .inputs import BASE_SIGNATURE, prepare, to_tensor, unpack_inputs
from .layers import Linear
from .outputs import TFMultipleChoiceModelOutput
from .task_heads import _check_range, _TaskModel


class TFRobertaForMultipleChoice(_TaskModel):
    """RoBERTa scoring each of several choices: inputs [batch, choices, seq] (inputs_embeds
    [batch, choices, seq, d_model]); logits [batch, choices]; labels [batch] in [0, choices).
    Hidden states and attentions are over the batch x choices flattened sequences. A head mask
    may be (heads,), (layers, heads) or (batch, layers, heads) (one per question)."""

    add_pooling_layer = True

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(config, **kw)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, autocast=False)
        self.classifier = Linear(config.hidden_size, 1, config.initializer_range,
                                 name="classifier")
        self.built = True

    def _flatten(self, raw: dict[str, Any]) -> dict[str, Any]:
        out = dict(raw)
        ref_name = "input_ids" if raw["input_ids"] is not None else "inputs_embeds"
        ref = to_tensor(ref_name, raw[ref_name], "int" if ref_name == "input_ids" else "float") \
            if raw[ref_name] is not None else None
        if ref is None:
            return out  # prepare() names the missing input
        rank = 3 if ref_name == "input_ids" else 4
        if ref.shape.rank != rank:
            raise ValueError(f"{ref_name} must be [batch, choices, seq{', d_model' * (rank == 4)}]"
                             f" for multiple choice, got shape {list(ref.shape)}")
        choices = tf.shape(ref)[1]
        out["num_choices"] = ref.shape[1] if ref.shape[1] is not None else choices
        for name, kind in (("input_ids", "int"), ("attention_mask", "mask"),
                           ("token_type_ids", "int"), ("position_ids", "int"),
                           ("inputs_embeds", "float")):
            t = ref if name == ref_name else to_tensor(name, raw[name], kind)
            if t is None:
                continue
            want = rank if name == "inputs_embeds" else 3
            if t.shape.rank != want:
                raise ValueError(f"{name} must have the inputs' [batch, choices, ...] shape "
                                 f"(rank {want}), got {list(t.shape)}")
            out[name] = tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))
        hm = to_tensor("head_mask", raw["head_mask"], "mask")
        if hm is not None and hm.shape.rank == 3:  # one mask per question -> per choice row
            out["head_mask"] = tf.repeat(hm, choices, axis=0)
        return out

    def _prepare(self, input_ids: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        raw = unpack_inputs(self.signature, input_ids, kwargs)
        labels = raw.pop("labels")
        flat = self._flatten(raw)
        choices = flat.pop("num_choices", None)
        v = dict.fromkeys(BASE_SIGNATURE)
        v.update(flat)
        v = prepare(self.config, v)
        v["num_choices"] = choices
        v["labels"] = None if labels is None else self._check_label("labels", labels, v)
        return v

    def _check_label(self, name: str, value: Any, v: dict[str, Any]) -> tf.Tensor:
        t = to_tensor(name, value, "int")
        if t.shape.rank != 1:
            raise ValueError(f"{name} must be [batch] choice indices, got {list(t.shape)}")
        choices = v["num_choices"]
        return _check_range(name, t, choices)

    def head_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        pooled = tf.tanh(self.roberta.pooler(hidden))
        return tf.cast(self.classifier(pooled), tf.float32)

    def _forward(self, v: dict[str, Any], training: bool) -> Any:
        trunk = self._trunk(v, training)
        pooled = self.dropout(trunk["pooler_output"], training=training)  # [batch*choices, d]
        scores = tf.cast(self.classifier(pooled), tf.float32)  # [batch*choices, 1]
        logits = tf.reshape(scores, [-1, v["num_choices"]])  # [batch, choices]
        loss = None
        if v["labels"] is not None:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(v["labels"],
                                                                                 logits))
        return TFMultipleChoiceModelOutput(loss=loss, logits=logits,
                                           hidden_states=trunk.get("hidden_states"),
                                           attentions=trunk.get("attentions"))
