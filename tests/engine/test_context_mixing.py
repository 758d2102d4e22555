"""Rollout, flow, value zeroing and ALTI against direct implementations of the papers' formulas
(loops over a numpy forward of the same tiny model)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import numpy_roberta as ref
from conftest import tiny_config
from roberta_lab import (TFRobertaForCausalLM, TFRobertaForMaskedLM, alti, attention_flow,
                         attention_rollout, value_zeroing)
from roberta_lab.engine.context_mixing import alti_layer, rollout

IDS = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]], np.int32)
MASK = (IDS != 1).astype(np.int32)


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM(tiny_config(hidden_dropout_prob=0.0, initializer_range=0.3,
                                             attention_probs_dropout_prob=0.0))
    rng = np.random.default_rng(0)
    for v in model.weights:  # non-trivial LayerNorms and biases
        if any(k in v.path for k in ("gamma", "beta", "bias")):
            v.assign(v.numpy() + rng.normal(0, 0.3, v.shape).astype(np.float32))
    return model


def residual_attention(layers, n):
    out = []
    for lay in layers:
        a = 0.5 * lay["pattern"][:, :n, :n].mean(0) + 0.5 * np.eye(n)
        out.append(a / a.sum(-1, keepdims=True))
    return out


def test_rollout_hand_computed_two_layers():
    a1 = np.array([[0.5, 0.5], [0.25, 0.75]])
    a2 = np.array([[1.0, 0.0], [0.5, 0.5]])
    got = rollout(np.stack([a1, a2])[None])[0]
    assert np.allclose(got, [[0.5, 0.5], [0.375, 0.625]])


def test_rollout_and_flow_against_direct(tiny):
    roll = attention_rollout(tiny, [IDS, MASK], (np.array([2, 1]), 0))
    flow = attention_flow(tiny, [IDS, MASK], (np.array([2, 1]), 0))
    for b in range(2):
        n = int(MASK[b].sum())
        a1, a2 = residual_attention(ref.forward(tiny, IDS[b], MASK[b]), n)
        expect = np.zeros((n, n))  # rollout: sum over the middle token, loops
        for i in range(n):
            for j in range(n):
                expect[i, j] = sum(a2[i, k] * a1[k, j] for k in range(n))
        assert np.allclose(roll.matrix[b, :n, :n], expect, atol=1e-6)
        # two layers: the paths i -> k -> j are edge-disjoint for a fixed j, so the max-flow
        # is sum_k min(a2[i, k], a1[k, j]); rows then normalised
        fl = np.array([[sum(min(a2[i, k], a1[k, j]) for k in range(n)) for j in range(n)]
                       for i in range(n)])
        fl /= fl.sum(-1, keepdims=True)
        assert np.allclose(flow.matrix[b, :n, :n], fl, atol=1e-6)
        assert np.all(roll.matrix[b, n:] == 0) and np.all(flow.matrix[b, :, n:] == 0)
    assert np.allclose(roll.attributions, roll.matrix[[0, 1], [2, 1]])
    assert np.allclose(roll.attributions.sum(-1), 1.0)


def test_value_zeroing_against_direct(tiny):
    got = value_zeroing(tiny, [IDS, MASK], (np.array([3, 2]), 0), chunk_size=5)
    for b in range(2):
        n = int(MASK[b].sum())
        clean = ref.forward(tiny, IDS[b], MASK[b])
        per_layer = []
        for l in range(2):
            c = np.zeros((n, n))
            for j in range(n):
                zeroed = ref.forward(tiny, IDS[b], MASK[b], zero_value=(l, j))[l]["resid_post"]
                for i in range(n):
                    x, xt = clean[l]["resid_post"][i], zeroed[i]
                    c[i, j] = 1 - x @ xt / (np.linalg.norm(x) * np.linalg.norm(xt))
            per_layer.append(c / c.sum(-1, keepdims=True))
            assert np.allclose(got.per_layer[b, l, :n, :n], per_layer[l], atol=1e-5)
        assert np.allclose(got.matrix[b, :n, :n], per_layer[1] @ per_layer[0], atol=1e-5)
    assert np.allclose(value_zeroing(tiny, [IDS, MASK], compile=True).matrix, got.matrix,
                       atol=1e-5)


def test_alti_against_direct(tiny):
    got = alti(tiny, [IDS, MASK], (np.array([3, 2]), 0))
    for b in range(2):
        n = int(MASK[b].sum())
        layers = ref.forward(tiny, IDS[b], MASK[b])
        per_layer = []
        for l, blk in enumerate(tiny.roberta.blocks):
            lay, a, ln = layers[l], blk.attn, blk.attn_ln
            w_o = ref.w(a.output_dense.kernel).reshape(a.n_heads, a.d_head, -1)
            mu = lay["ln1_in"].mean(-1)
            sigma = np.sqrt(((lay["ln1_in"] - mu[:, None]) ** 2).mean(-1) + ln.eps)
            gamma = ref.w(ln.gamma)
            c = np.zeros((n, n))
            for i in range(n):
                def frozen_ln(y):  # LN1's linear part with its actual scale at position i
                    return gamma * (y - y.mean()) / sigma[i]
                terms = []
                for j in range(n):
                    t = sum(lay["pattern"][h, i, j] * lay["v"][j, h] @ w_o[h]
                            for h in range(a.n_heads))
                    terms.append(frozen_ln(t + (lay["resid_pre"][i] if i == j else 0)))
                b_o = ref.w(a.output_dense.bias)
                y = sum(terms) + frozen_ln(b_o) + ref.w(ln.beta)
                assert np.allclose(y, lay["resid_mid"][i], atol=1e-6)  # sum_j T_i = LN1 out
                for j in range(n):
                    c[i, j] = max(0.0, np.abs(y).sum() - np.abs(y - terms[j]).sum())
            per_layer.append(c / c.sum(-1, keepdims=True))
            assert np.allclose(got.per_layer[b, l, :n, :n], per_layer[l], atol=1e-5)
        assert np.allclose(got.matrix[b, :n, :n], per_layer[1] @ per_layer[0], atol=1e-5)


def test_alti_parts_sum_to_ln1_output_and_causal_rows(tiny):
    _, cache = tiny.run_with_cache([IDS, MASK])
    t, y = alti_layer(tiny, cache, 1)
    assert np.allclose(y[0], cache["resid_mid", 1][0], atol=1e-5)
    tf.keras.utils.set_random_seed(1)
    causal = TFRobertaForCausalLM(tiny_config(is_decoder=True, hidden_dropout_prob=0.0,
                                              attention_probs_dropout_prob=0.0))
    for fn in (attention_rollout, alti, value_zeroing):
        m = fn(causal, IDS[:1]).matrix[0]
        assert np.allclose(np.triu(m, 1), 0, atol=1e-7), fn.__name__  # no future token
        assert np.allclose(m.sum(-1), 1.0)


def test_callable_target_read_where_it_depends(tiny):
    pair = attention_rollout(tiny, [IDS, MASK], (np.array([2, 1]), 7))
    call = attention_rollout(tiny, [IDS, MASK],
                             lambda out: tf.gather_nd(out.logits, [[0, 2, 7], [1, 1, 7]]))
    assert np.allclose(call.attributions, pair.attributions)  # the LM head reads one position
    with pytest.raises(TypeError, match="target"):
        attention_rollout(tiny, IDS, "logits")
