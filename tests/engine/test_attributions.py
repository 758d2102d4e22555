"""Input attributions: integrated gradients' completeness on the bundled models, gradients
against an independent tape over inputs_embeds, batching and compiled runs, baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import (AutoTokenizer, TFRobertaForCausalLM, TFRobertaForMaskedLM, grad_x_input,
                         integrated_gradients, saliency, smooth_grad)
from roberta_lab.engine.attributions import baseline_embeddings, quadrature
from roberta_lab.engine.patching import logit_diff

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(str(DATA / "mini-mlm"))


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config(hidden_dropout_prob=0.0, initializer_range=0.3,
                                            attention_probs_dropout_prob=0.0))


IDS = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]], np.int32)
MASK = (IDS != 1).astype(np.int32)
TARGET = (np.array([2, 1]), np.array([7, 20]))


@pytest.mark.parametrize("baseline", ["pad", "mask", "zero"])
def test_ig_completeness_on_bundled_mlm(tok, baseline):
    model = TFRobertaForMaskedLM.from_pretrained(str(DATA / "mini-mlm"))
    enc = tok(["The capital of France is <mask>."], return_tensors="np")
    pos = int(np.where(enc["input_ids"][0] == tok.mask_token_id)[0][0])
    paris = tok.convert_tokens_to_ids("ĠParis")
    ig = integrated_gradients(model, enc, (pos, paris), n_steps=64, baseline=baseline,
                              mask_token_id=tok.mask_token_id)
    assert ig.attributions.shape == enc["input_ids"].shape
    assert abs(ig.delta[0]) > 1.0  # something to explain
    assert ig.relative_error[0] < 0.01
    words = tok.convert_ids_to_tokens(enc["input_ids"][0])
    assert words[int(np.argmax(ig.attributions[0]))] == "ĠFrance"
    assert ig.attributions[0, 0] == 0 and ig.attributions[0, -1] == 0  # <s>, </s> kept


def test_ig_completeness_on_bundled_causal(tok):
    model = TFRobertaForCausalLM.from_pretrained(str(DATA / "mini-causal"))
    ids = tok(["The capital of France is"], return_tensors="np")["input_ids"][:, :-1]
    ig = integrated_gradients(model, ids, (-1, tok.convert_tokens_to_ids("ĠParis")),
                              n_steps=64)
    assert ig.relative_error[0] < 0.01 and abs(ig.delta[0]) > 1.0


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_middle"])
def test_quadratures_converge_and_warn_when_not(tiny, method):
    ig = integrated_gradients(tiny, [IDS, MASK], TARGET, n_steps=64, method=method)
    assert np.all(ig.relative_error < 0.01)
    a, w = quadrature(7, method)
    assert np.isclose(w.sum(), 1.0) and a.min() >= 0 and a.max() <= 1


def test_convergence_warning(tiny):
    with pytest.warns(UserWarning, match="not converged"):
        integrated_gradients(tiny, [IDS, MASK], TARGET, n_steps=1, method="riemann_left",
                             tolerance=1e-6)


def test_gradients_match_a_tape_over_inputs_embeds(tiny):
    ids = IDS[:1]  # no pads: inputs_embeds' consecutive positions are then the same
    emb = tf.constant(tf.gather(tiny.roberta.embeddings.word_embeddings, ids))
    with tf.GradientTape() as tape:
        tape.watch(emb)
        value = tiny(inputs_embeds=emb).logits[0, 2, 7]
    grad = tape.gradient(value, emb).numpy()[0]
    sal = saliency(tiny, ids, (2, 7))
    gxi = grad_x_input(tiny, ids, (2, 7))
    assert np.allclose(sal.attributions[0], np.linalg.norm(grad, axis=-1), atol=1e-6)
    assert np.allclose(gxi.attributions[0], (grad * emb.numpy()[0]).sum(-1), atol=1e-6)
    assert np.isclose(sal.value[0], float(value), atol=1e-6)


def test_batched_and_compiled_match_one_by_one(tiny):
    both = integrated_gradients(tiny, [IDS, MASK], TARGET, n_steps=16, chunk_size=7)
    for b in range(2):
        n = int(MASK[b].sum())
        one = integrated_gradients(tiny, IDS[b:b + 1, :n], (TARGET[0][b], TARGET[1][b]),
                                   n_steps=16)
        assert np.allclose(both.attributions[b, :n], one.attributions[0], atol=1e-5)
        assert np.all(both.attributions[b, n:] == 0)
    for mode in (True, "xla"):
        graph = integrated_gradients(tiny, [IDS, MASK], TARGET, n_steps=16, compile=mode)
        assert np.allclose(graph.attributions, both.attributions, atol=1e-5)
    assert np.allclose(grad_x_input(tiny, [IDS, MASK], TARGET, compile=True).attributions,
                       grad_x_input(tiny, [IDS, MASK], TARGET).attributions, atol=1e-5)


def test_callable_readout_is_linear_in_ig(tiny):
    diff = integrated_gradients(tiny, IDS, logit_diff(7, 9, position=2), n_steps=32)
    a = integrated_gradients(tiny, IDS, (2, 7), n_steps=32)
    b = integrated_gradients(tiny, IDS, (2, 9), n_steps=32)
    assert np.allclose(diff.attributions, a.attributions - b.attributions, atol=1e-5)


def test_smooth_grad(tiny):
    plain = grad_x_input(tiny, [IDS, MASK], TARGET)
    flat = smooth_grad(tiny, [IDS, MASK], TARGET, noise_level=0.0, n_samples=3)
    assert np.allclose(flat.attributions, plain.attributions, atol=1e-6)
    s1 = smooth_grad(tiny, [IDS, MASK], TARGET, n_samples=8, seed=1)
    s2 = smooth_grad(tiny, [IDS, MASK], TARGET, n_samples=8, seed=1)
    assert np.array_equal(s1.attributions, s2.attributions)
    assert not np.allclose(s1.attributions, plain.attributions, atol=1e-4)
    assert smooth_grad(tiny, IDS, TARGET, base="saliency", n_samples=2).attributions.min() >= 0


def test_baselines(tiny):
    emb = baseline_embeddings(tiny, IDS, "zero")
    assert np.all(emb[0, 1:5] == 0)
    special = np.isin(IDS, [0, 1, 2])
    table = tiny.roberta.embeddings.word_embeddings.numpy()
    assert np.array_equal(emb[special], table[IDS[special]])  # <s>, </s>, pads kept
    assert np.array_equal(baseline_embeddings(tiny, IDS, 4)[0, 1], table[4])
    assert np.array_equal(baseline_embeddings(tiny, IDS, "mask", mask_token_id=4)[0, 2], table[4])
    assert np.array_equal(baseline_embeddings(tiny, IDS, np.full_like(IDS, 3),
                                              keep_special=False)[0, 0], table[3])
    with pytest.raises(ValueError, match="mask_token_id"):
        baseline_embeddings(tiny, IDS, "mask")
    with pytest.raises(ValueError, match="baseline"):
        baseline_embeddings(tiny, IDS, "unk")
    with pytest.raises(TypeError, match="target"):
        saliency(tiny, IDS, 3)


def test_cross_attention_decoder_ig_and_compiled_xla_decompose():
    from roberta_lab import decompose

    tf.keras.utils.set_random_seed(2)
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True, add_cross_attention=True,
                                             hidden_dropout_prob=0.0,
                                             attention_probs_dropout_prob=0.0))
    enc = np.random.default_rng(0).normal(size=(2, 3, 32)).astype(np.float32)
    inputs = {"input_ids": IDS, "attention_mask": MASK, "encoder_hidden_states": enc}
    ig = integrated_gradients(model, inputs, TARGET, n_steps=64)
    assert np.all(ig.relative_error < 0.01)
    eager = decompose(model, inputs, TARGET)
    xla = decompose(model, inputs, TARGET, compile="xla")
    assert np.allclose(eager.total, xla.total, atol=1e-5)
    assert np.abs(xla.error).max() < 1e-4
