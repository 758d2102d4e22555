"""Michel importance equals finite differences; the pruning curve is well formed."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForMaskedLM
from roberta_lab.ablation import masked_lm_metric
from roberta_lab.importance import head_mask_gradients, michel_importance, pruning_curve


@pytest.fixture(scope="module")
def setup():
    import keras

    keras.utils.set_random_seed(3)
    model = TFRobertaForMaskedLM(tiny_config())
    ids = random_ids(4, 8, seed=1)
    labels = np.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    labels[:, 6] = ids[:, 6]
    return model, np.where(labels != -100, 4, ids), np.ones_like(ids), labels


def _loss(model, ids, mask, metric, hm):
    out = model(ids, attention_mask=mask, head_mask=hm)
    pos = np.maximum(metric.positions, 0)
    logits = np.take_along_axis(out.logits.numpy().astype(np.float64), pos[:, :, None], axis=1)
    return metric.score(tf.constant(logits), np.arange(len(ids))).numpy()


def test_gradients_equal_finite_differences(setup):
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    grads = head_mask_gradients(model, ids, mask, metric)  # [batch, L, H]
    eps = 1e-2
    for layer, head in [(0, 0), (0, 3), (1, 2)]:
        up = np.ones((4, 2, 4), np.float32)
        down = up.copy()
        up[:, layer, head] += eps
        down[:, layer, head] -= eps
        fd = (_loss(model, ids, mask, metric, up) - _loss(model, ids, mask, metric, down)) / (2 * eps)
        np.testing.assert_allclose(grads[:, layer, head], fd, atol=2e-3, rtol=2e-2)
    raw = michel_importance(model, ids, mask, metric, normalize=False, batch_size=3)
    np.testing.assert_allclose(raw, np.abs(grads).mean(0), rtol=1e-5, atol=1e-7)
    normed = michel_importance(model, ids, mask, metric)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, rtol=1e-5)


def test_pruning_curve(setup):
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    curve = pruning_curve(model, ids, mask, metric, step=0.25, progress=False)
    assert curve.shares[0] == 0 and curve.shares[-1] == 1.0
    assert len(curve.order) == 8 and len(set(curve.order)) == 8
    assert np.all(np.diff(curve.shares) > 0)
    # the last point (everything masked) matches a direct evaluation
    full = _loss(model, ids, mask, metric, np.zeros((4, 2, 4), np.float32)).mean()
    assert abs(curve.metric[-1] - full) < 1e-4
    with pytest.raises(ValueError, match="step"):
        pruning_curve(model, ids, mask, metric, step=0)


def test_compile_words_agree(setup):
    """compile=False | True | "xla": the same gradients; compiled ones live in the registry."""
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    eager = head_mask_gradients(model, ids, mask, metric, compile=False)
    for mode in (True, "xla"):
        np.testing.assert_allclose(head_mask_gradients(model, ids, mask, metric, compile=mode),
                                   eager, atol=1e-5)
    assert {key[1] for key in model.compiled_functions.entries("importance")} >= {True, "xla"}
    with pytest.raises(ValueError, match="compile"):
        head_mask_gradients(model, ids, mask, metric, compile="fast")
