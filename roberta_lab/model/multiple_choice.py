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
from .inputs import ForwardInputs, to_tensor
from .layers import Linear
from .outputs import TFMultipleChoiceModelOutput
from .task_heads import TASK_SIGNATURE, check_range
from .trunk import RobertaMainLayer, RobertaPreTrainedModel


class TFRobertaForMultipleChoice(RobertaPreTrainedModel):
    """RoBERTa scoring each of several choices: inputs [batch, choices, seq] (inputs_embeds
    [batch, choices, seq, d_model]); logits [batch, choices]; labels [batch] in [0, choices).
    Hidden states and attentions are over the batch x choices flattened sequences. A head mask
    may be (heads,), (layers, heads) or (batch, layers, heads) (one per question)."""

    signature = TASK_SIGNATURE + ("labels",)
    has_choices = True  # inputs.prepare flattens [batch, choices, ...] to rows

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer=True, name="roberta")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, autocast=False)
        self.classifier = Linear(config.hidden_size, 1, config.initializer_range,
                                 name="classifier")
        self.built = True

    def check_label(self, name: str, value: Any, inputs: ForwardInputs) -> tf.Tensor:
        t = to_tensor(name, value, "int")
        if t.shape.rank != 1:
            raise ValueError(f"{name} must be [batch] choice indices, got {list(t.shape)}")
        choices = tf.get_static_value(inputs.num_choices)
        return check_range(name, t, inputs.num_choices if choices is None else int(choices))

    def head_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        pooled = tf.tanh(self.roberta.pooler(hidden))
        return tf.cast(self.classifier(pooled), tf.float32)

    def forward(self, inputs: ForwardInputs, training: bool = False) -> Any:
        """The model's math on prepared (flattened) inputs: trunk, pooler, head, loss."""
        trunk = self.roberta.call(inputs, training=training)
        pooled = self.dropout(trunk["pooler_output"], training=training)  # [batch*choices, d]
        scores = tf.cast(self.classifier(pooled), tf.float32)  # [batch*choices, 1]
        logits = tf.reshape(scores, [-1, inputs.num_choices])  # [batch, choices]
        loss = None
        if inputs.labels is not None:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(inputs.labels,
                                                                                 logits))
        return TFMultipleChoiceModelOutput(loss=loss, logits=logits,
                                           hidden_states=trunk.get("hidden_states"),
                                           attentions=trunk.get("attentions"))
