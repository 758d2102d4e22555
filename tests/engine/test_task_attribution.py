"""Attribution on the four task heads: decompose sums to each head's own value (eager and
compiled), is batching-invariant and linear in the readout; the other methods run with a
callable readout (and with pair targets) and give the documented shapes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import (TFRobertaForMultipleChoice, TFRobertaForQuestionAnswering,
                         TFRobertaForSequenceClassification, TFRobertaForTokenClassification,
                         alti, attention_rollout, attribution_patch, decompose,
                         direct_logit_attribution, integrated_gradients, path_patch, saliency,
                         value_zeroing)

IDS = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1], [0, 11, 3, 12, 13, 2]], np.int32)
BAD = np.array([[0, 9, 6, 7, 8, 2], [0, 5, 10, 2, 1, 1], [0, 11, 4, 12, 13, 2]], np.int32)
CLASSES = np.array([2, 0, 1])
POS = np.array([1, 3, 4])


def _mask(ids):
    return (ids != 1).astype(np.int32)


def _build(kind):
    labels = {"seq": 3, "token": 3, "qa": 2, "mc": 2}[kind]
    cls = {"seq": TFRobertaForSequenceClassification, "token": TFRobertaForTokenClassification,
           "qa": TFRobertaForQuestionAnswering, "mc": TFRobertaForMultipleChoice}[kind]
    tf.keras.utils.set_random_seed(0)
    model = cls(tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                            initializer_range=0.3, num_labels=labels))
    rng = np.random.default_rng(0)
    for v in model.weights:  # non-trivial LayerNorms and biases: every bias term matters
        if any(k in v.path for k in ("gamma", "beta", "bias")):
            v.assign(v.numpy() + rng.normal(0, 0.3, v.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module", params=["seq", "token", "qa", "mc"])
def head(request):
    return request.param, _build(request.param)


def inputs(kind, ids=IDS, other=BAD):
    if kind == "mc":  # [batch, choices=2, seq]
        both = np.stack([ids, other], 1)
        return {"input_ids": both, "attention_mask": _mask(both)}
    return {"input_ids": ids, "attention_mask": _mask(ids)}


def own_value(kind, model, feed):
    """The value the pair target names, read off the model's own output."""
    out = model(feed)
    rows = np.arange(len(CLASSES))
    if kind in ("seq", "mc"):
        ids = CLASSES if kind == "seq" else CLASSES % 2
        return out.logits.numpy()[rows, ids], (0, ids)
    if kind == "token":
        return out.logits.numpy()[rows, POS, CLASSES], (POS, CLASSES)
    which = CLASSES % 2  # 0 = start, 1 = end
    both = np.stack([out.start_logits.numpy(), out.end_logits.numpy()], -1)
    return both[rows, POS, which], (POS, which)


def readout(kind):
    """An affine readout on each head's output (a logit difference)."""
    return {"seq": lambda o: o.logits[:, 2] - o.logits[:, 0],
            "token": lambda o: o.logits[:, 3, 1] - o.logits[:, 1, 0],
            "qa": lambda o: o.start_logits[:, 1] - o.end_logits[:, 3],
            "mc": lambda o: o.logits[:, 1] - o.logits[:, 0]}[kind]


@pytest.mark.parametrize("compile", [False, True])
def test_sums_to_the_heads_own_value(head, compile):
    kind, model = head
    feed = inputs(kind)
    value, target = own_value(kind, model, feed)
    d = decompose(model, feed, target, compile=compile)
    assert d.total.shape == (3,)
    assert np.allclose(d.total, value, atol=1e-5)
    assert np.abs(d.error).max() < 1e-4, d.error
    assert np.allclose(sum(d.bias_terms.values()), d.contributions["bias"])
    assert "head" in d.bias_terms and d.heads().shape == (3, 2, 4)
    parts = [k for k in d.contributions if k != "bias"]
    assert max(np.abs(d.contributions[k]).max() for k in parts) > 1e-2  # not all in the bias


def test_batching_invariance(head):
    kind, model = head
    _, target = own_value(kind, model, inputs(kind))
    full = decompose(model, inputs(kind), target)
    for b in range(3):
        one = decompose(model, inputs(kind, IDS[b:b + 1], BAD[b:b + 1]),
                        tuple(np.asarray(t)[b:b + 1] if np.ndim(t) else t for t in target))
        for name, v in full.contributions.items():
            assert np.allclose(v[b], one.contributions[name][0], atol=2e-5), (name, b)


def test_logit_difference_is_the_difference_of_decompositions(head):
    kind, model = head
    feed = inputs(kind)
    pairs = {"seq": [(0, 2), (0, 0)], "token": [(3, 1), (1, 0)], "qa": [(1, 0), (3, 1)],
             "mc": [(0, 1), (0, 0)]}[kind]
    diff = decompose(model, feed, readout(kind))
    a, b = (decompose(model, feed, p) for p in pairs)
    assert np.abs(diff.error).max() < 1e-4
    assert np.allclose(diff.total, a.total - b.total, atol=1e-5)
    for name in diff.contributions:
        assert np.allclose(diff.contributions[name], a.contributions[name] -
                           b.contributions[name], atol=1e-5), name


def test_targets_are_validated():
    model = _build("seq")
    with pytest.raises(ValueError, match="target.*class ids must be in \\[0, 3\\)"):
        decompose(model, IDS, (0, 3))
    with pytest.raises(ValueError, match="target.*affine"):
        decompose(model, IDS, lambda o: tf.nn.softmax(o.logits)[:, 0])
    with pytest.raises(TypeError, match="target"):
        decompose(model, IDS, "logits")
    mc = _build("mc")
    with pytest.raises(ValueError, match="target.*choice indices must be in \\[0, 2\\)"):
        decompose(mc, inputs("mc"), (0, 2))


def test_other_methods_run_with_a_readout(head):
    kind, model = head
    feed, bad = inputs(kind), inputs(kind, BAD, IDS)
    shape = feed["input_ids"].shape  # [batch, seq] or [batch, choices, seq]
    read = readout(kind)
    ig = integrated_gradients(model, feed, read, n_steps=64)
    assert ig.attributions.shape == shape
    assert np.all(ig.relative_error < 0.01), ig.relative_error
    assert np.allclose(ig.attributions.reshape(3, -1).sum(1), ig.delta, rtol=0.01, atol=1e-4)
    assert saliency(model, feed, read).attributions.shape == shape
    ap = attribution_patch(model, feed, read, corrupted=bad)
    assert ap.effects.shape == (3, 2, 4) and ap.clean.shape == (3,)
    pp = path_patch(model, feed, read, corrupted=bad, sender=(0, 1))
    assert pp.patched.shape == (3,)
    assert np.allclose(pp.clean, decompose(model, feed, read).total, atol=1e-5)
    for fn in (value_zeroing, alti, attention_rollout):
        r = fn(model, feed, read)
        assert r.attributions.shape == shape, fn.__name__
        assert np.allclose(r.attributions.reshape(3, -1).sum(1), 1.0), fn.__name__


def test_pair_targets_in_other_methods_and_where_rollout_reads():
    model = _build("seq")
    feed = inputs("seq")
    by_pair = saliency(model, feed, (0, CLASSES))
    by_call = saliency(model, feed, lambda o: tf.gather(o.logits, CLASSES, batch_dims=1))
    assert np.allclose(by_pair.attributions, by_call.attributions, atol=1e-6)
    r = attention_rollout(model, feed, (0, CLASSES))
    assert np.allclose(r.attributions, r.matrix[:, 0])  # the classifier reads <s>
    qa = _build("qa")
    r = alti(qa, feed, lambda o: o.end_logits[:, 4])
    assert np.allclose(r.attributions, r.matrix[:, 4])


@pytest.mark.parametrize("kind", ["token", "qa", "mc"])
def test_classic_dla_on_task_heads(kind):
    """Token classification and QA are linear readouts: the last layer's decompose parts equal
    the classic DLA. Multiple choice's tanh: DLA uses its tangent, decompose its exact slope."""
    model = _build(kind)
    feed = inputs(kind)
    target = {"token": (POS, CLASSES), "qa": (POS, CLASSES % 2), "mc": (0, CLASSES % 2)}[kind]
    d = decompose(model, feed, target)
    dla = direct_logit_attribution(model, feed, target)
    assert set(dla) == {f"blocks.1.attn.head{h}" for h in range(4)} | {"blocks.1.mlp"}
    gap = max(np.abs(v - d.contributions[name]).max() for name, v in dla.items())
    if kind == "mc":
        assert gap > 1e-3
    else:
        assert gap < 1e-4
