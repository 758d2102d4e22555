"""Parity with HF transformers' PyTorch RoBERTa on checkpoints HF writes with random weights."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import hf_model, max_diff, random_ids, random_mask, tiny_config, torch_inputs
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaModel

torch = pytest.importorskip("torch")

TOL = 1e-5


def _load_pair(kind, cls, cfg, tmp_path):
    ref = hf_model(kind, cfg)
    ref.save_pretrained(tmp_path / kind)
    ours, info = cls.from_pretrained(tmp_path / kind, output_loading_info=True)
    return ref, ours, info


def _compare_all(ours_out, ref_out, names):
    for name in names:
        a, b = ours_out[name], getattr(ref_out, name)
        if isinstance(b, (tuple, list)):
            assert len(a) == len(b), name
            for i, (x, y) in enumerate(zip(a, b)):
                if isinstance(y, (tuple, list)):
                    for xx, yy in zip(x, y):
                        assert max_diff(xx, yy) < TOL, f"{name}[{i}]"
                else:
                    assert max_diff(x, y) < TOL, f"{name}[{i}]: {max_diff(x, y)}"
        else:
            assert max_diff(a, b) < TOL, f"{name}: {max_diff(a, b)}"


def test_base_model_parity(tmp_path):
    cfg = tiny_config()
    ref, ours, info = _load_pair("model", TFRobertaModel, cfg, tmp_path)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    ids, mask = random_ids(), random_mask()
    types = np.random.default_rng(3).integers(0, 16, size=ids.shape).astype(np.int32)
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types),
                output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, token_type_ids=types, output_attentions=True,
             output_hidden_states=True)
    _compare_all(o, r, ["last_hidden_state", "pooler_output", "hidden_states", "attentions"])


def test_masked_lm_parity_with_loss_and_pads(tmp_path):
    cfg = tiny_config()
    ref, ours, info = _load_pair("mlm", TFRobertaForMaskedLM, cfg, tmp_path)
    assert info["missing_keys"] == []
    ids = random_ids()
    ids[:3, -2:] = 1  # right padding: RoBERTa positions skip pads
    mask = (ids != 1).astype(np.int32)
    labels = np.where(np.random.default_rng(5).random(ids.shape) < 0.3, ids, -100)
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, labels=labels),
                output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, labels=labels, output_attentions=True,
             output_hidden_states=True)
    _compare_all(o, r, ["logits", "hidden_states", "attentions"])
    assert o.loss.shape == ()
    assert abs(float(o.loss) - float(r.loss)) < TOL


def test_head_mask_parity_rank1_rank2(tmp_path):
    cfg = tiny_config()
    ref, ours, _ = _load_pair("mlm", TFRobertaForMaskedLM, cfg, tmp_path)
    ids, mask = random_ids(), random_mask()
    for hm in (np.array([1, 0, 1, 0], np.float32),
               np.array([[1, 1, 0, 1], [0, 1, 1, 0]], np.float32),
               np.array([[0.5, 1, 0, 2], [1, 0.25, 1, 0]], np.float32)):
        with torch.no_grad():
            r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, head_mask=hm),
                    output_attentions=True)
        o = ours(ids, attention_mask=mask, head_mask=hm, output_attentions=True)
        _compare_all(o, r, ["logits", "attentions"])


def test_causal_lm_parity_with_cache_and_cross_attention(tmp_path):
    cfg = tiny_config(is_decoder=True, add_cross_attention=True)
    ref, ours, info = _load_pair("causal", TFRobertaForCausalLM, cfg, tmp_path)
    assert info["missing_keys"] == []
    ids, mask = random_ids(), random_mask()
    enc = np.random.default_rng(7).normal(size=(13, 5, 32)).astype(np.float32)
    enc_mask = random_mask(13, 5, seed=9)
    labels = random_ids(seed=11)
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, encoder_hidden_states=enc,
                               encoder_attention_mask=enc_mask, labels=labels),
                output_attentions=True, output_hidden_states=True, use_cache=True)
    o = ours(ids, attention_mask=mask, encoder_hidden_states=enc,
             encoder_attention_mask=enc_mask, labels=labels, output_attentions=True,
             output_hidden_states=True, use_cache=True)
    _compare_all(o, r, ["logits", "hidden_states", "attentions", "cross_attentions"])
    assert abs(float(o.loss) - float(r.loss)) < TOL
    with torch.no_grad():  # HF drops the cache when labels are given: ask again without them
        ref_past = ref(**torch_inputs(input_ids=ids, attention_mask=mask,
                                      encoder_hidden_states=enc, encoder_attention_mask=enc_mask),
                       use_cache=True).past_key_values
    if hasattr(ref_past, "to_legacy_cache"):
        ref_past = ref_past.to_legacy_cache()
    for ours_layer, ref_layer in zip(o.past_key_values, ref_past):
        assert len(ours_layer) == len(ref_layer) == 4
        for a, b in zip(ours_layer, ref_layer):
            assert max_diff(a, b) < TOL


def test_roberta_base_shape_parity(tmp_path):
    """The roberta-base shape (12 x 768, 50265 words, 514 positions) within 1e-4."""
    from roberta_lab import RobertaConfig

    cfg = RobertaConfig.roberta_base()
    ref, ours, info = _load_pair("mlm", TFRobertaForMaskedLM, cfg, tmp_path)
    assert info["missing_keys"] == []
    ids = random_ids(2, 24, vocab=50265, seed=4)
    ids[:, 0], ids[:, -1] = 0, 2
    ids[1, -4:] = 1
    mask = (ids != 1).astype(np.int32)
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask), output_hidden_states=True,
                output_attentions=True)
    o = ours(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    assert max_diff(o.logits, r.logits) < 1e-4
    for a, b in zip(o.hidden_states, r.hidden_states):
        assert max_diff(a, b) < 1e-4
    for a, b in zip(o.attentions, r.attentions):
        assert max_diff(a, b) < 1e-4
