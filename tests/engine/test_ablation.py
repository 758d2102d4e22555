"""Ablation sweeps: batched equals one-at-a-time; mean-ablation equals a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForMaskedLM
from roberta_lab.ablation import (Metric, head_means, masked_lm_metric, sweep, sweep_heads,
                                  sweep_layers)


@pytest.fixture(scope="module")
def setup():
    import keras

    keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM(tiny_config(num_hidden_layers=3))
    ids = random_ids(5, 9, seed=2)
    mask = np.ones_like(ids)
    mask[3, -3:] = 0
    ids[3, -3:] = 1
    labels = np.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    labels[:2, 5] = ids[:2, 5]
    ids_masked = np.where(labels != -100, 4, ids)
    return model, ids_masked, mask, labels


def _loop_metric(model, ids, mask, metric, head_mask=None, hooks=()):
    out = model.run_with_hooks(ids, attention_mask=mask, head_mask=head_mask, fwd_hooks=hooks)
    pos = np.maximum(metric.positions, 0)
    logits = np.take_along_axis(out.logits.numpy(), pos[:, :, None], axis=1)
    return metric.score(tf.constant(logits), np.arange(len(ids))).numpy()


@pytest.mark.parametrize("compile,chunk_size", [(False, 7), (True, 7), (True, None), ("xla", 7),
                                                ("xla", None)])
def test_single_head_sweep_equals_loop(setup, compile, chunk_size):
    # chunk_size=None: the whole sweep fits one chunk, so it runs as one fused compiled call.
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    result = sweep_heads(model, ids, mask, metric, chunk_size=chunk_size, compile=compile,
                         progress=False)
    L, H = 3, 4
    assert result.grid.shape == (L, H)
    for layer in range(L):
        for head in range(H):
            hm = np.ones((L, H), np.float32)
            hm[layer, head] = 0
            loop = _loop_metric(model, ids, mask, metric, head_mask=hm)
            np.testing.assert_allclose(result.per_text[layer * H + head], loop, atol=1e-5)
    base = _loop_metric(model, ids, mask, metric)
    assert abs(result.baseline - base.mean()) < 1e-5
    rows = result.rows()
    assert rows[5]["layer"] == 1 and rows[5]["head"] == 1
    assert abs(rows[5]["delta"] - (rows[5]["metric"] - result.baseline)) < 1e-9


def test_layer_and_set_sweeps_and_metrics(setup):
    model, ids, mask, labels = setup
    positions = np.array([[2, -1]] * 5)
    targets = np.stack([ids[:, 2] * 0 + 7, ids[:, 2] * 0 + 9], 1)
    for metric in (Metric("logprob", positions, targets),
                   Metric("logit_diff", positions, targets, np.full_like(targets, 11))):
        layers = sweep_layers(model, ids, mask, metric, chunk_size=4, progress=False)
        for layer in range(3):
            hm = np.ones((3, 4), np.float32)
            hm[layer] = 0
            np.testing.assert_allclose(layers.per_text[layer],
                                       _loop_metric(model, ids, mask, metric, hm), atol=1e-5)
        sets = sweep(model, ids, mask, metric, [[(0, 1), (2, 3)], [(1, 0), (1, 2)]],
                     chunk_size=16, progress=False)
        hm = np.ones((3, 4), np.float32)
        hm[0, 1] = hm[2, 3] = 0
        np.testing.assert_allclose(sets.per_text[0], _loop_metric(model, ids, mask, metric, hm),
                                   atol=1e-5)


def test_mean_ablation_equals_hand_computation(setup, tmp_path):
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    ref = random_ids(6, 9, seed=8)
    means = head_means(model, ref)
    # by hand: mean of z over every reference token
    _, cache = model.run_with_cache(ref, names_filter=lambda n: n.endswith("hook_z"))
    np.testing.assert_allclose(means[1, 2], cache["z", 1][:, :, 2].reshape(-1, 8).mean(0),
                               atol=1e-6)
    result = sweep(model, ids, mask, metric, [[(1, 2)]], method="mean", means=means,
                   progress=False)

    def replace(z, hook):
        keep = np.ones((1, 1, 4, 1), np.float32)
        keep[0, 0, 2] = 0
        return z * keep + means[1][None, None] * (1 - keep)
    loop = _loop_metric(model, ids, mask, metric, hooks=[("blocks.1.attn.hook_z", replace)])
    np.testing.assert_allclose(result.per_text[0], loop, atol=1e-5)
    result.to_csv(str(tmp_path / "sweep.csv"))
    assert (tmp_path / "sweep.csv").read_text().startswith("condition,layer,head,metric,delta")


def test_bad_arguments(setup):
    model, ids, mask, labels = setup
    metric = masked_lm_metric(labels)
    with pytest.raises(ValueError, match="conditions"):
        sweep(model, ids, mask, metric, [[(3, 0)]], progress=False)
    with pytest.raises(ValueError, match="method"):
        sweep(model, ids, mask, metric, [[(0, 0)]], method="noise", progress=False)
    with pytest.raises(ValueError, match="means"):
        sweep(model, ids, mask, metric, [[(0, 0)]], method="mean", progress=False)
    with pytest.raises(ValueError, match="compile"):
        sweep(model, ids, mask, metric, [[(0, 0)]], compile="jit", progress=False)
    with pytest.raises(ValueError, match="kind"):
        Metric("f1", np.zeros((1, 1)), np.zeros((1, 1)))
