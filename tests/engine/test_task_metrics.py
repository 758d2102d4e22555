"""Sweeps, importance and pruning on the task heads: the gold label's log-probability or
accuracy for a classifier, the answer span's log-probability for question answering."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, random_mask, tiny_config
from roberta_lab import (TFRobertaForMultipleChoice, TFRobertaForQuestionAnswering,
                         TFRobertaForSequenceClassification, TFRobertaForTokenClassification)
from roberta_lab.engine.ablation import (classification_metric, masked_lm_metric, span_metric,
                                         sweep_heads)
from roberta_lab.engine.importance import michel_importance, pruning_curve


def _log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _ablated(model, ids, mask, layer, head, **kw):
    hm = np.ones((2, 4), np.float32)
    hm[layer, head] = 0.0
    return model(ids, attention_mask=mask, head_mask=hm, **kw)


@pytest.fixture(scope="module")
def data():
    return random_ids(6, 7), random_mask(6, 7)


@pytest.mark.parametrize("compile", [True, False])
def test_classification_sweep_matches_direct_runs(data, compile):
    ids, mask = data
    model = TFRobertaForSequenceClassification(tiny_config(num_labels=3))
    labels = np.array([0, 1, 2, 2, 1, 0])
    metric = classification_metric(labels)
    res = sweep_heads(model, ids, mask, metric, compile=compile, progress=False,
                      chunk_size=None if compile else 5)
    want = _log_softmax(model(ids, attention_mask=mask).logits.numpy())[np.arange(6), labels]
    assert abs(res.baseline - want.mean()) < 1e-5
    for layer, head in [(0, 1), (1, 3)]:
        logits = _ablated(model, ids, mask, layer, head).logits.numpy()
        direct = _log_softmax(logits)[np.arange(6), labels].mean()
        assert abs(res.grid[layer, head] - direct) < 1e-5
    acc = sweep_heads(model, ids, mask, classification_metric(labels, "accuracy"),
                      compile=compile, progress=False)
    logits = model(ids, attention_mask=mask).logits.numpy()
    assert acc.baseline == pytest.approx(np.mean(logits.argmax(-1) == labels), abs=1e-6)


def test_span_metric_sweep_and_loss(data):
    ids, mask = data
    model = TFRobertaForQuestionAnswering(tiny_config())
    start, end = np.array([1, 2, 0, 3, 4, 6]), np.array([2, 5, 1, 3, 6, 6])
    metric = span_metric(start, end, ids.shape[1])
    res = sweep_heads(model, ids, mask, metric, progress=False)
    loss = model(ids, attention_mask=mask, start_positions=start, end_positions=end).loss
    assert abs(res.baseline - (-2.0 * float(loss))) < 1e-5  # one mean over texts either way
    out = _ablated(model, ids, mask, 1, 2)
    direct = (_log_softmax(out.start_logits.numpy())[np.arange(6), start] +
              _log_softmax(out.end_logits.numpy())[np.arange(6), end]).mean()
    assert abs(res.grid[1, 2] - direct) < 1e-5
    with pytest.raises(ValueError, match="positions"):
        span_metric(start, end + 2, 7)


def test_token_classification_uses_the_label_metric(data):
    ids, mask = data
    model = TFRobertaForTokenClassification(tiny_config(num_labels=3))
    labels = np.where(mask > 0, ids % 3, -100)
    res = sweep_heads(model, ids, mask, masked_lm_metric(labels), progress=False)
    logp = _log_softmax(model(ids, attention_mask=mask).logits.numpy())
    per_text = [-(logp[i][labels[i] >= 0, labels[i][labels[i] >= 0]]).mean() for i in range(6)]
    assert abs(res.baseline - np.mean(per_text)) < 1e-5


def test_importance_and_pruning_on_a_classifier(data):
    ids, mask = data
    model = TFRobertaForSequenceClassification(tiny_config(num_labels=3))
    labels = np.array([0, 1, 2, 2, 1, 0])
    metric = classification_metric(labels)
    scores = michel_importance(model, ids, mask, metric, normalize=False)
    xi = tf.Variable(np.ones((6, 2, 4), np.float32))
    with tf.GradientTape() as tape:
        logits = model(ids, attention_mask=mask, head_mask=xi).logits
        total = tf.reduce_sum(tf.gather(tf.nn.log_softmax(logits), labels, batch_dims=1))
    want = np.abs(tape.gradient(total, xi).numpy()).mean(axis=0)
    assert np.allclose(scores, want, atol=1e-5) and scores.shape == (2, 4)
    curve = pruning_curve(model, ids, mask, metric, step=0.25, progress=False)
    assert curve.shares[0] == 0 and curve.shares[-1] == 1 and len(curve.order) == 8
    base = _log_softmax(model(ids, attention_mask=mask).logits.numpy())[np.arange(6), labels]
    assert abs(curve.metric[0] - base.mean()) < 1e-5


def test_multiple_choice_is_refused(data):
    ids, mask = data
    model = TFRobertaForMultipleChoice(tiny_config())
    with pytest.raises(ValueError, match="softmax spans its choices"):
        sweep_heads(model, ids, mask, classification_metric(np.zeros(6)), progress=False)
