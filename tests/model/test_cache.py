"""Cached step-by-step decoding equals the full recompute, at the logits, at every step."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import max_diff, random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaModel

TOL = 1e-5


def _step_by_step(model, ids, mask, prompt_len, **kw):
    """Run the prompt, then one token at a time with the cache; logits at every new position."""
    out = model(ids[:, :prompt_len], attention_mask=mask[:, :prompt_len], use_cache=True, **kw)
    logits = [out.logits.numpy()]
    past = out.past_key_values
    for t in range(prompt_len, ids.shape[1]):
        step_kw = dict(kw)
        out = model(ids[:, t:t + 1], attention_mask=mask[:, :t + 1], past_key_values=past,
                    use_cache=True, **step_kw)
        logits.append(out.logits.numpy())
        past = out.past_key_values
        assert past[0][0].shape[2] == t + 1
    return np.concatenate(logits, axis=1)


@pytest.mark.parametrize("left_pad", [False, True])
def test_cached_equals_recompute(left_pad):
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True))
    ids = random_ids(3, 10, seed=5)
    mask = np.ones_like(ids)
    if left_pad:  # a batch of prompts of different lengths, padded on the left
        ids[0, :3], mask[0, :3] = 1, 0
        ids[1, :1], mask[1, :1] = 1, 0
    full = model(ids, attention_mask=mask).logits.numpy()
    cached = _step_by_step(model, ids, mask, prompt_len=4)
    real = mask.astype(bool)
    assert max_diff(full[real], cached[real]) < TOL


def test_cached_equals_recompute_with_cross_attention():
    cfg = tiny_config(is_decoder=True, add_cross_attention=True)
    model = TFRobertaForCausalLM(cfg)
    ids = random_ids(2, 8, seed=6)
    mask = np.ones_like(ids)
    enc = np.random.default_rng(0).normal(size=(2, 5, 32)).astype(np.float32)
    enc_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.int32)
    kw = dict(encoder_hidden_states=enc, encoder_attention_mask=enc_mask)
    full = model(ids, attention_mask=mask, **kw).logits.numpy()
    cached = _step_by_step(model, ids, mask, prompt_len=3, **kw)
    assert max_diff(full, cached) < TOL
    # the cross-attention keys/values are cached once and reused without the encoder states
    out = model(ids[:, :3], use_cache=True, **kw)
    assert len(out.past_key_values[0]) == 4 and out.past_key_values[0][2].shape == (2, 4, 5, 8)
    step = model(ids[:, 3:4], past_key_values=out.past_key_values,
                 encoder_attention_mask=enc_mask, use_cache=True)
    assert max_diff(step.logits[:, 0], full[:, 3]) < TOL


def test_cache_only_for_decoders_and_hf_layout():
    enc = TFRobertaModel(tiny_config())
    assert enc(random_ids(1, 4), use_cache=True).past_key_values is None
    dec = TFRobertaModel(tiny_config(is_decoder=True))
    out = dec(random_ids(2, 4))  # config.use_cache defaults to True
    assert len(out.past_key_values) == 2
    assert [tuple(t.shape) for t in out.past_key_values[0]] == [(2, 4, 4, 8)] * 2
    assert dec(random_ids(2, 4), use_cache=False).past_key_values is None


def test_greedy_decoding_64_steps_same_tokens():
    import keras

    keras.utils.set_random_seed(1)
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=80))
    prompt = random_ids(1, 3, seed=9)
    no_cache = prompt.copy()
    for _ in range(64):
        nxt = int(np.argmax(model(no_cache).logits[0, -1]))
        no_cache = np.concatenate([no_cache, [[nxt]]], axis=1).astype(np.int32)
    out = model(prompt, use_cache=True)
    seq, past = prompt.copy(), out.past_key_values
    nxt = int(np.argmax(out.logits[0, -1]))
    for _ in range(64):
        seq = np.concatenate([seq, [[nxt]]], axis=1).astype(np.int32)
        out = model(seq[:, -1:], past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = int(np.argmax(out.logits[0, -1]))
    np.testing.assert_array_equal(seq, no_cache)
