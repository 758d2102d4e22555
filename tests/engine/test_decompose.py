"""decompose: the parts sum to the model's value (small and base shape, masked, causal, through
cross-attention), the per-source split sums to each head, the last layer agrees with the classic
direct logit attribution where the head is linear, and batching changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import (TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaModel, decompose,
                         direct_logit_attribution)
from roberta_lab.engine.patching import logit_diff


def randomised(model, seed=0, scale=0.3):
    """Non-trivial gammas, betas and biases, so every bias term and scale matters."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if any(k in v.path for k in ("gamma", "beta", "bias")):
            v.assign(v.numpy() + rng.normal(0, scale, v.shape).astype(np.float32))
    return model


def small(cls, **kw):
    cfg = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      initializer_range=0.3, **kw)
    tf.keras.utils.set_random_seed(0) if hasattr(tf, "keras") else None
    return randomised(cls(cfg))


IDS = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1], [0, 11, 3, 12, 13, 2]], np.int32)
MASK = (IDS != 1).astype(np.int32)
TARGET = (np.array([2, 1, 4]), np.array([7, 20, 31]))


def check_sums(d, tol=1e-4):
    assert d.total.shape == (IDS.shape[0],)
    assert np.abs(d.error).max() < tol, d.error
    assert np.allclose(sum(d.bias_terms.values()), d.contributions["bias"])
    parts = [k for k in d.contributions if k != "bias"]
    assert max(np.abs(d.contributions[k]).max() for k in parts) > 1e-3  # not all in the bias


def test_masked_lm_sums_to_logit():
    model = small(TFRobertaForMaskedLM)
    d = decompose(model, {"input_ids": IDS, "attention_mask": MASK}, TARGET)
    logits = model(IDS, attention_mask=MASK).logits.numpy()
    assert np.allclose(d.total, logits[np.arange(3), TARGET[0], TARGET[1]], atol=1e-6)
    check_sums(d)
    assert set(d.contributions) >= {"embed", "blocks.0.attn.head3", "blocks.1.mlp", "bias"}
    assert d.heads().shape == (3, 2, 4)


def test_causal_and_other_input_formats():
    model = small(TFRobertaForCausalLM, is_decoder=True)
    by_list = decompose(model, [IDS, MASK], (-1, 5))
    by_dict = decompose(model, {"input_ids": IDS, "attention_mask": MASK}, (np.full(3, 5), 5))
    check_sums(by_list)
    assert np.allclose(by_list.total, by_dict.total)
    # causal: the logit at position 2 does not see later tokens, so their sources carry nothing
    src = decompose(model, [IDS, MASK], (2, 5)).by_source()
    assert max(np.abs(v[:, 3:]).max() for v in src.values()) == 0


def test_cross_attention_decoder_sums():
    model = small(TFRobertaForCausalLM, is_decoder=True, add_cross_attention=True)
    enc = np.random.default_rng(3).normal(size=(3, 4, 32)).astype(np.float32)
    enc_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], np.int32)
    d = decompose(model, {"input_ids": IDS, "attention_mask": MASK, "encoder_hidden_states": enc,
                          "encoder_attention_mask": enc_mask}, TARGET)
    check_sums(d)
    assert "blocks.1.cross_attn.head2" in d.contributions
    src = d.by_source()
    assert src["blocks.0.cross_attn.head0"].shape == (3, 4)
    assert np.abs(src["blocks.0.cross_attn.head1"][1, 2:]).max() == 0  # masked encoder tokens


def test_by_source_sums_to_each_head_and_head_mask():
    model = small(TFRobertaForMaskedLM)
    hm = np.array([[1.0, 0.0, 0.5, 1.0], [1.0, 1.0, 1.0, 0.0]], np.float32)
    d = decompose(model, {"input_ids": IDS, "attention_mask": MASK, "head_mask": hm}, TARGET)
    check_sums(d)
    assert np.abs(d.contributions["blocks.0.attn.head1"]).max() == 0
    for name, split in d.by_source().items():
        assert np.allclose(split.sum(-1), d.contributions[name], atol=1e-10)
        assert np.abs(split[1, 4:]).max() == 0  # pads are never read


def test_callable_readout_logit_difference_and_affine_check():
    model = small(TFRobertaForMaskedLM)
    d = decompose(model, IDS, logit_diff(7, 9, position=2))
    logits = model(IDS).logits.numpy()
    assert np.allclose(d.total, logits[:, 2, 7] - logits[:, 2, 9], atol=1e-6)
    check_sums(d)
    with pytest.raises(ValueError, match="affine"):
        decompose(model, IDS, lambda out: tf.nn.log_softmax(out.logits[:, 2])[:, 7])


def test_batching_invariance():
    model = small(TFRobertaForMaskedLM)
    whole = decompose(model, {"input_ids": IDS, "attention_mask": MASK}, TARGET)
    for b in range(3):
        n = int(MASK[b].sum())  # each row alone, without its padding
        one = decompose(model, IDS[b:b + 1, :n], (TARGET[0][b:b + 1], TARGET[1][b:b + 1]))
        for name, value in whole.contributions.items():
            assert abs(value[b] - one.contributions[name][0]) < 1e-5, name


def test_compiled_matches_eager():
    model = small(TFRobertaForMaskedLM)
    eager = decompose(model, IDS, TARGET)
    graph = decompose(model, IDS, TARGET, compile=True)
    for name, value in eager.contributions.items():
        assert np.allclose(value, graph.contributions[name], atol=1e-5), name


def test_agrees_with_classic_dla_where_the_head_is_linear():
    model = small(TFRobertaModel)
    w = np.random.default_rng(1).normal(size=32).astype(np.float32)

    def readout(out):  # linear in the last hidden state: the tangent is the exact map
        return tf.einsum("bd,d->b", out.last_hidden_state[:, 2], w)

    d = decompose(model, [IDS, MASK], readout)
    check_sums(d)
    dla = direct_logit_attribution(model, [IDS, MASK], readout)
    assert set(dla) == {f"blocks.1.attn.head{h}" for h in range(4)} | {"blocks.1.mlp"}
    for name, value in dla.items():
        assert np.allclose(value, d.contributions[name], atol=1e-4, rtol=1e-4), name


def test_classic_dla_differs_through_the_nonlinear_lm_head():
    # The LM head's GELU and LayerNorm: DLA uses their tangent, decompose their exact
    # zero-order linearisation; the two disagree (which is why decompose exists).
    model = small(TFRobertaForMaskedLM)
    d = decompose(model, [IDS, MASK], TARGET)
    dla = direct_logit_attribution(model, [IDS, MASK], TARGET)
    gap = max(np.abs(dla[k] - d.contributions[k]).max() for k in dla)
    assert gap > 1e-3


@pytest.mark.parametrize("cls", [TFRobertaForMaskedLM, TFRobertaForCausalLM])
def test_base_shape_sums(cls):
    from roberta_lab import RobertaConfig

    cfg = RobertaConfig(vocab_size=1000, hidden_size=768, num_hidden_layers=12,
                        num_attention_heads=12, intermediate_size=3072,
                        max_position_embeddings=514, is_decoder=cls is TFRobertaForCausalLM,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    tf.keras.utils.set_random_seed(1)
    model = randomised(cls(cfg), scale=0.1)
    ids = np.random.default_rng(2).integers(3, 1000, size=(2, 16)).astype(np.int32)
    ids[:, 0], ids[:, -1], ids[1, -3:] = 0, 2, 1
    mask = (ids != 1).astype(np.int32)
    d = decompose(model, [ids, mask], (np.array([5, 9]), np.array([17, 400])))
    assert np.abs(d.error).max() < 1e-4, d.error
    assert len(d.contributions) == 1 + 12 * 12 + 12 + 1


def test_bundled_seq2seq_decoder_through_cross_attention():
    from pathlib import Path

    from roberta_lab import AutoTokenizer

    root = Path(__file__).resolve().parents[2] / "data" / "mini-seq2seq"
    tok = AutoTokenizer.from_pretrained(str(root))
    encoder = TFRobertaModel.from_pretrained(str(root / "encoder"), add_pooling_layer=False)
    decoder = TFRobertaForCausalLM.from_pretrained(str(root / "decoder"))
    src = tok(["a b c d"], return_tensors="np")
    states = encoder(src["input_ids"], attention_mask=src["attention_mask"]).last_hidden_state
    dec_ids = np.array([[0] + tok("d c", add_special_tokens=False)["input_ids"]], np.int32)
    inputs = {"input_ids": dec_ids, "encoder_hidden_states": states.numpy(),
              "encoder_attention_mask": src["attention_mask"]}
    logits = decoder(inputs).logits.numpy()[0, -1]
    d = decompose(decoder, inputs, (-1, int(logits.argmax())))
    assert np.isclose(d.total[0], logits.max(), atol=1e-5)
    assert abs(d.error[0]) < 1e-4
    cross = sum(abs(v[0]) for k, v in d.contributions.items() if ".cross_attn." in k)
    assert cross > 0.1  # the reversal task must read the source
