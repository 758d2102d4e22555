"""Path patching against hand-written patched runs; attribution patching against the exact
directional derivative and, on the bundled mini-mlm, against exact head patching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import (AutoTokenizer, TFRobertaForMaskedLM, attribution_patch, patch_heads,
                         path_patch)
from roberta_lab.engine.patching import logit_diff

DATA = Path(__file__).resolve().parents[2] / "data"
CLEAN = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 11, 12, 2]], np.int32)
CORR = np.array([[0, 15, 6, 17, 8, 2], [0, 9, 20, 11, 22, 2]], np.int32)
TARGET = (np.array([3, 2]), np.array([7, 30]))


def model_with(layers):
    tf.keras.utils.set_random_seed(layers)
    return TFRobertaForMaskedLM(tiny_config(num_hidden_layers=layers, initializer_range=0.3,
                                            hidden_dropout_prob=0.0,
                                            attention_probs_dropout_prob=0.0))


def read(out):
    return out.logits.numpy()[[0, 1], TARGET[0], TARGET[1]]


def head_swap(source, head):
    """Hook: head ``head`` of a [batch, pos, head, d] activation from ``source``."""
    def fn(x, hook):
        parts = tf.unstack(x, axis=2)
        parts[head] = tf.constant(source[:, :, head])
        return tf.stack(parts, axis=2)
    return fn


def test_sender_to_logits_in_last_layer_is_activation_noising():
    model = model_with(2)
    _, corr = model.run_with_cache(CORR)
    hand = read(model.run_with_hooks(CLEAN, fwd_hooks=[
        ("blocks.1.attn.hook_z", head_swap(corr["blocks.1.attn.hook_z"], 2))]))
    got = path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(1, 2))
    assert np.allclose(got.patched, hand, atol=1e-5)
    assert np.allclose(got.clean, read(model(CLEAN))) and np.allclose(got.corrupted,
                                                                      read(model(CORR)))


def test_head_to_query_two_runs_by_hand():
    model = model_with(2)
    _, corr = model.run_with_cache(CORR)
    _, run1 = model.run_with_cache(CLEAN, names_filter="blocks.1.attn.hook_q", fwd_hooks=[
        ("blocks.0.attn.hook_z", head_swap(corr["blocks.0.attn.hook_z"], 1))])
    hand = read(model.run_with_hooks(CLEAN, fwd_hooks=[
        ("blocks.1.attn.hook_q", head_swap(run1["blocks.1.attn.hook_q"], 3))]))
    got = path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(0, 1), receiver=(1, 3, "q"))
    assert np.allclose(got.patched, hand, atol=1e-5)
    assert np.abs(got.effect).max() > 1e-4  # the path carries something


def test_head_to_value_freezes_the_heads_between():
    model = model_with(3)
    _, clean = model.run_with_cache(CLEAN)
    _, corr = model.run_with_cache(CORR)
    hooks = [("blocks.0.attn.hook_z", head_swap(corr["blocks.0.attn.hook_z"], 1)),
             ("blocks.1.attn.hook_z", lambda z, hook: tf.constant(clean["blocks.1.attn.hook_z"]))]
    _, run1 = model.run_with_cache(CLEAN, names_filter="blocks.2.attn.hook_v", fwd_hooks=hooks)
    hand = read(model.run_with_hooks(CLEAN, fwd_hooks=[
        ("blocks.2.attn.hook_v", head_swap(run1["blocks.2.attn.hook_v"], 0))]))
    got = path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(0, 1), receiver=(2, 0, "v"))
    assert np.allclose(got.patched, hand, atol=1e-5)
    # without freezing layer 1 the number differs: the freeze is doing something
    _, loose = model.run_with_cache(CLEAN, names_filter="blocks.2.attn.hook_v",
                                    fwd_hooks=hooks[:1])
    unfrozen = read(model.run_with_hooks(CLEAN, fwd_hooks=[
        ("blocks.2.attn.hook_v", head_swap(loose["blocks.2.attn.hook_v"], 0))]))
    assert np.abs(unfrozen - hand).max() > 1e-5
    compiled = path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(0, 1),
                          receiver=[(2, 0, "v")], compile=True)
    assert np.allclose(compiled.patched, got.patched, atol=1e-5)


def test_path_patch_argument_errors():
    model = model_with(2)
    with pytest.raises(ValueError, match="above every sender"):
        path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(1, 0), receiver=(1, 2, "k"))
    with pytest.raises(ValueError, match="shape"):
        path_patch(model, CLEAN, TARGET, corrupted=CORR[:, :4], sender=(0, 0))
    with pytest.raises(ValueError, match="'q'"):
        path_patch(model, CLEAN, TARGET, corrupted=CORR, sender=(0, 0), receiver=(1, 2, "z"))


def test_attribution_patch_is_the_directional_derivative():
    model = model_with(2)
    res = attribution_patch(model, CLEAN, TARGET, corrupted=CORR)
    assert res.effects.shape == (2, 2, 4)
    _, clean = model.run_with_cache(CLEAN)
    _, corr = model.run_with_cache(CORR)
    eps = 1e-2
    for layer, head in [(0, 1), (1, 3)]:
        name = f"blocks.{layer}.attn.hook_z"
        step = []
        for sign in (1, -1):  # central difference along z_clean - z_corrupted, one head
            z = corr[name].copy()
            z[:, :, head] += sign * eps * (clean[name] - corr[name])[:, :, head]
            step.append(read(model.run_with_hooks(CORR, fwd_hooks=[
                (name, lambda x, hook, z=z: tf.constant(z))])))
        derivative = (step[0] - step[1]) / (2 * eps)
        assert np.allclose(res.effects[:, layer, head], derivative, atol=2e-3, rtol=2e-2)
    graph = attribution_patch(model, CLEAN, TARGET, corrupted=CORR, compile=True)
    assert np.allclose(graph.effects, res.effects, atol=1e-5)
    one = attribution_patch(model, CLEAN[1:], (TARGET[0][1:], TARGET[1][1:]),
                            corrupted=CORR[1:])
    assert np.allclose(one.effects[0], res.effects[1], atol=1e-5)


def test_attribution_patching_agrees_with_exact_head_patching_on_mini_mlm():
    tok = AutoTokenizer.from_pretrained(str(DATA / "mini-mlm"))
    model = TFRobertaForMaskedLM.from_pretrained(str(DATA / "mini-mlm"))
    clean = tok(["The capital of France is <mask>."], return_tensors="np")["input_ids"]
    corr = tok(["The capital of Italy is <mask>."], return_tensors="np")["input_ids"]
    pos = int(np.where(clean[0] == tok.mask_token_id)[0][0])
    metric = logit_diff(tok.convert_tokens_to_ids("ĠParis"), tok.convert_tokens_to_ids("ĠRome"),
                        pos)
    exact = patch_heads(model, clean, corr, metric, progress=False)
    approx = attribution_patch(model, clean, metric, corrupted=corr)
    assert np.isclose(approx.clean[0], exact.clean, atol=1e-4)
    corr_coef = np.corrcoef((exact.patched - exact.corrupted).ravel(),
                            approx.effects[0].ravel())[0, 1]
    print(f"attribution vs exact head patching on mini-mlm: Pearson r = {corr_coef:.4f}")
    assert corr_coef > 0.95  # measured 0.997 (2026-11-30)
    top_exact = set(np.argsort(-exact.scores.ravel())[:3])
    top_approx = set(np.argsort(-approx.scores[0].ravel())[:3])
    assert top_exact == top_approx
