"""Task heads of HF 4.37's TF RoBERTa: sequence classification, token classification, question
answering (span start/end) and multiple choice, with HF's signatures, outputs and weight names.

Heads (HF's layers and weight names):

* ``TFRobertaForSequenceClassification``: ``classifier`` reads ``<s>`` (position 0):
  dropout -> ``dense`` (tanh) -> dropout -> ``out_proj`` -> logits [batch, num_labels].
* ``TFRobertaForTokenClassification``: dropout -> ``classifier`` -> [batch, seq, num_labels].
* ``TFRobertaForQuestionAnswering``: ``qa_outputs`` -> start_logits, end_logits [batch, seq].
* ``TFRobertaForMultipleChoice`` (in ``multiple_choice``): inputs [batch, choices, seq].

Dropout is ``config.classifier_dropout`` where HF uses it (sequence and token classification),
else ``hidden_dropout_prob``. Losses are scalar means, as in HF PyTorch (HF 4.37 TF returns
per-example vectors): sequence classification picks its loss by ``config.problem_type`` as HF
PyTorch does (regression: MSE; single_label_classification: cross-entropy; multi_label_...:
sigmoid cross-entropy; None: regression when num_labels == 1, else single-label for integer
labels, multi-label for float labels); token labels of -100 are ignored; question answering is
(CE(start) + CE(end)) / 2.

Example:
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig, TFRobertaForSequenceClassification
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37, num_labels=3)
    >>> out = TFRobertaForSequenceClassification(cfg)(np.array([[0, 5, 6, 2]]), labels=np.array([2]))
    >>> tuple(out.logits.shape), tuple(out.loss.shape)
    ((1, 3), ())
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .config import RobertaConfig
from .heads import masked_mean_loss
from .inputs import ForwardInputs, to_tensor
from .layers import Linear
from .trunk import RobertaMainLayer, RobertaPreTrainedModel
from .outputs import (TFQuestionAnsweringModelOutput, TFSequenceClassifierOutput,
                      TFTokenClassifierOutput)

# HF 4.37's call signature of the task heads (no encoder states, cache or use_cache); each head
# adds its labels. ``check_label(name, value, inputs)`` (called by ``inputs.prepare``) checks a
# given label against the head; ``head_logits(hidden)`` is the head without dropout on final
# hidden states [rows, P, d_model] (what sweeps and importance read).
TASK_SIGNATURE = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask",
                  "inputs_embeds", "output_attentions", "output_hidden_states", "return_dict")


def _dropout(config: RobertaConfig) -> keras.layers.Dropout:
    rate = config.classifier_dropout
    return keras.layers.Dropout(config.hidden_dropout_prob if rate is None else rate,
                                autocast=False)


def _concrete(t: tf.Tensor) -> np.ndarray | None:
    if tf.executing_eagerly():
        return t.numpy()
    return tf.get_static_value(t)


def check_range(name: str, t: tf.Tensor, high: Any, allow: tuple[int, ...] = ()) -> tf.Tensor:
    """Integer labels in [0, high) (or one of ``allow``): ValueError on concrete values, an
    assert in graphs (a label out of range would make a silent wrong loss)."""
    arr = _concrete(t)
    if arr is not None and isinstance(high, int):
        bad = ~np.isin(arr, allow) & ((arr < 0) | (arr >= high))
        if bad.any():
            extra = f" or {list(allow)}" if allow else ""
            raise ValueError(f"{name} must be in [0, {high}){extra}; got {arr[bad][:5].tolist()}")
        return t
    ok = tf.logical_and(t >= 0, t < tf.cast(high, t.dtype))
    for value in allow:
        ok = tf.logical_or(ok, tf.equal(t, value))
    check = tf.debugging.Assert(tf.reduce_all(ok), [f"{name} out of range"])
    with tf.control_dependencies([check]):
        return tf.identity(t)


class RobertaClassificationHead(keras.layers.Layer):
    """HF's sentence head: [..., d_model] -> dropout -> dense, tanh -> dropout -> out_proj
    -> [..., num_labels]. The model feeds it ``<s>``'s final hidden state."""

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        h, std = config.hidden_size, config.initializer_range
        self.dense = Linear(h, h, std, name="dense")
        self.dropout = _dropout(config)
        self.out_proj = Linear(h, config.num_labels, std, name="out_proj")
        self.built = True

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = tf.tanh(self.dense(self.dropout(x, training=training)))
        return self.out_proj(self.dropout(x, training=training))


def _batch(inputs: ForwardInputs) -> Any:
    ref = inputs.input_ids if inputs.input_ids is not None else inputs.inputs_embeds
    return ref.shape[0], ref.shape[1]


class TFRobertaForSequenceClassification(RobertaPreTrainedModel):
    """RoBERTa with a sentence classifier on ``<s>``; logits [batch, num_labels]."""

    signature = TASK_SIGNATURE + ("labels",)

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer=False, name="roberta")
        self.classifier = RobertaClassificationHead(config, name="classifier")
        self.built = True

    def _problem(self, labels_dtype: tf.DType | None) -> str:
        problem = self.config.problem_type
        if problem is not None:
            return problem
        if self.config.num_labels == 1:
            return "regression"
        return ("single_label_classification" if labels_dtype is None or labels_dtype.is_integer
                else "multi_label_classification")

    def check_label(self, name: str, value: Any, inputs: ForwardInputs) -> tf.Tensor:
        batch, _ = _batch(inputs)
        n = self.config.num_labels
        dtype = getattr(value, "dtype", None)
        if dtype is None or isinstance(value, (list, tuple)):
            dtype = np.asarray(value).dtype
        problem = self._problem(tf.as_dtype(dtype) if np.dtype(getattr(dtype, "as_numpy_dtype",
                                                                        dtype)).kind in "biuf"
                                else tf.int32)
        if problem == "single_label_classification":
            t = to_tensor(name, value, "int")
            if t.shape.rank == 2 and t.shape[1] == 1:
                t = t[:, 0]
            if t.shape.rank != 1 or (batch is not None and t.shape[0] not in (None, batch)):
                raise ValueError(f"{name} must be [batch] = [{batch}] class ids for "
                                 f"{problem}, got shape {list(t.shape)}")
            return check_range(name, t, n)
        t = tf.cast(to_tensor(name, value, "mask"), tf.float32)
        want = [batch] if problem == "regression" and n == 1 else [batch, n]
        if problem == "regression" and n == 1 and t.shape.rank == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.shape.rank != len(want) or any(a is not None and b is not None and a != b
                                            for a, b in zip(t.shape, want)):
            raise ValueError(f"{name} must be {want} for {problem} (num_labels={n}), got shape "
                             f"{list(t.shape)}")
        if tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(t))):
            raise ValueError(f"{name} must be finite; got NaN or inf")
        return t

    def head_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.classifier(hidden), tf.float32)

    def forward(self, inputs: ForwardInputs, training: bool = False) -> Any:
        """The model's math on prepared inputs (no checks): trunk, head, loss."""
        trunk = self.roberta.call(inputs, training=training)
        cls = trunk["last_hidden_state"][:, 0]  # <s>: [batch, d_model]
        logits = tf.cast(self.classifier(cls, training=training), tf.float32)  # [batch, labels]
        loss = None
        labels = inputs.labels
        if labels is not None:
            problem = self._problem(labels.dtype)
            if problem == "regression":
                pred = logits[:, 0] if self.config.num_labels == 1 else logits
                loss = tf.reduce_mean(tf.square(pred - labels))
            elif problem == "single_label_classification":
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            else:
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
        return TFSequenceClassifierOutput(loss=loss, logits=logits,
                                          hidden_states=trunk.get("hidden_states"),
                                          attentions=trunk.get("attentions"))


class TFRobertaForTokenClassification(RobertaPreTrainedModel):
    """RoBERTa with a per-token classifier; logits [batch, seq, num_labels]; labels of -100
    are not scored."""

    signature = TASK_SIGNATURE + ("labels",)

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer=False, name="roberta")
        self.dropout = _dropout(config)
        self.classifier = Linear(config.hidden_size, config.num_labels,
                                 config.initializer_range, name="classifier")
        self.built = True

    def check_label(self, name: str, value: Any, inputs: ForwardInputs) -> tf.Tensor:
        batch, seq = _batch(inputs)
        t = to_tensor(name, value, "int")
        if t.shape.rank != 2 or any(a is not None and b is not None and a != b
                                    for a, b in zip(t.shape, (batch, seq))):
            raise ValueError(f"{name} must be [batch, seq] = [{batch}, {seq}], got "
                             f"{list(t.shape)}")
        return check_range(name, t, self.config.num_labels, allow=(-100,))

    def head_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.classifier(hidden), tf.float32)

    def forward(self, inputs: ForwardInputs, training: bool = False) -> Any:
        """The model's math on prepared inputs (no checks): trunk, head, loss."""
        trunk = self.roberta.call(inputs, training=training)
        h = self.dropout(trunk["last_hidden_state"], training=training)
        logits = tf.cast(self.classifier(h), tf.float32)  # [batch, seq, labels]
        loss = None
        if inputs.labels is not None:
            loss = masked_mean_loss(inputs.labels, logits, self.config.tf_legacy_loss)
        return TFTokenClassifierOutput(loss=loss, logits=logits,
                                       hidden_states=trunk.get("hidden_states"),
                                       attentions=trunk.get("attentions"))


class TFRobertaForQuestionAnswering(RobertaPreTrainedModel):
    """RoBERTa with a span head: start_logits, end_logits [batch, seq]; the loss needs both
    ``start_positions`` and ``end_positions`` [batch], each in [0, seq)."""

    signature = TASK_SIGNATURE + ("start_positions", "end_positions")

    def __init__(self, config: RobertaConfig, **kw):
        if config.num_labels != 2:  # HF splits the output in two and fails later
            raise ValueError(f"TFRobertaForQuestionAnswering needs config.num_labels == 2 (start "
                             f"and end), got {config.num_labels}")
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer=False, name="roberta")
        self.qa_outputs = Linear(config.hidden_size, config.num_labels,
                                 config.initializer_range, name="qa_outputs")
        self.built = True

    def check_label(self, name: str, value: Any, inputs: ForwardInputs) -> tf.Tensor:
        batch, seq = _batch(inputs)
        t = to_tensor(name, value, "int")
        if t.shape.rank == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.shape.rank != 1 or (batch is not None and t.shape[0] not in (None, batch)):
            raise ValueError(f"{name} must be [batch] = [{batch}], got {list(t.shape)}")
        return check_range(name, t, seq if seq is not None else inputs.batch_and_seq[1])

    def head_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.qa_outputs(hidden), tf.float32)

    def forward(self, inputs: ForwardInputs, training: bool = False) -> Any:
        """The model's math on prepared inputs (no checks): trunk, head, loss."""
        trunk = self.roberta.call(inputs, training=training)
        logits = tf.cast(self.qa_outputs(trunk["last_hidden_state"]), tf.float32)
        start, end = logits[..., 0], logits[..., 1]  # [batch, seq] each
        loss = None
        if inputs.start_positions is not None:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits
            loss = (tf.reduce_mean(ce(inputs.start_positions, start)) +
                    tf.reduce_mean(ce(inputs.end_positions, end))) / 2.0
        return TFQuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end,
                                              hidden_states=trunk.get("hidden_states"),
                                              attentions=trunk.get("attentions"))
