"""Property-based tests (hypothesis) over small random configs, shapes, formats and masks.

Models are built once per small config and cached, so the file stays fast (about a minute on 2
cores). Properties: padding does not change the real tokens' outputs; the three input formats
agree exactly; cached decoding equals the full recompute at any split point and, step by step,
for any attention mask (one position rule); attention rows sum
to 1 (0 for masked heads) and put 0 on masked keys; a decoder never looks ahead.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roberta_lab import RobertaConfig, TFRobertaForCausalLM, TFRobertaModel

settings.register_profile("roberta_lab_properties", max_examples=25, deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("roberta_lab_properties")

VOCAB, PAD, MAX_POS = 50, 1, 40
_MODELS: dict[tuple, object] = {}


def _model(kind: str, layers: int, heads: int, hidden: int):
    """One model per (kind, small config), built on first use and kept."""
    key = (kind, layers, heads, hidden)
    if key not in _MODELS:
        cfg = RobertaConfig(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=2 * hidden,
                            max_position_embeddings=MAX_POS, type_vocab_size=2,
                            is_decoder=(kind == "decoder"))
        tf.random.set_seed(zlib.crc32(repr(key).encode()))
        cls = TFRobertaForCausalLM if kind == "decoder" else TFRobertaModel
        model = cls(cfg)
        model.compiled_forward = False  # op by op: no per-shape tracing of the eager fast path
        _MODELS[key] = model
    return _MODELS[key]


configs = st.tuples(st.integers(1, 2), st.sampled_from([1, 2, 4]), st.sampled_from([8, 16, 32]))
seeds = st.integers(0, 2**31 - 1)


def _ids(rng, batch, seq):
    ids = rng.integers(0, VOCAB, size=(batch, seq)).astype(np.int32)
    ids[ids == PAD] = 2  # real tokens only; pads are added explicitly
    return ids


def _call(model, fmt, **inputs):
    if fmt == "kwargs":
        return model(**inputs)
    if fmt == "dict":
        return model(dict(inputs))
    names = model.signature
    last = max(names.index(k) for k in inputs)
    return model([inputs.get(n) for n in names[:last + 1]])


@settings(PROFILE)
@given(cfg=configs, batch=st.integers(1, 3), seq=st.integers(1, 8), extra=st.integers(1, 4),
       fmt=st.sampled_from(["kwargs", "list", "dict"]), seed=seeds)
def test_right_padding_does_not_change_real_tokens(cfg, batch, seq, extra, fmt, seed):
    model = _model("encoder", *cfg)
    rng = np.random.default_rng(seed)
    ids = _ids(rng, batch, seq)
    lengths = rng.integers(1, seq + 1, size=batch)
    padded = np.full((batch, seq + extra), PAD, np.int32)
    mask = np.zeros((batch, seq + extra), np.int32)
    for i, n in enumerate(lengths):
        padded[i, :n], mask[i, :n] = ids[i, :n], 1
    out = _call(model, fmt, input_ids=padded, attention_mask=mask).last_hidden_state.numpy()
    for i, n in enumerate(lengths):
        alone = model(ids[i:i + 1, :n]).last_hidden_state.numpy()[0]
        np.testing.assert_allclose(out[i, :n], alone, atol=1e-5)


@settings(PROFILE)
@given(cfg=configs, kind=st.sampled_from(["encoder", "decoder"]), batch=st.integers(1, 3),
       seq=st.integers(1, 8), with_types=st.booleans(), seed=seeds)
def test_three_input_formats_agree_exactly(cfg, kind, batch, seq, with_types, seed):
    model = _model(kind, *cfg)
    rng = np.random.default_rng(seed)
    inputs = {"input_ids": _ids(rng, batch, seq),
              "attention_mask": rng.integers(0, 2, size=(batch, seq)).astype(np.int32)}
    inputs["attention_mask"][:, 0] = 1
    if with_types:
        inputs["token_type_ids"] = rng.integers(0, 2, size=(batch, seq)).astype(np.int32)
    field = "last_hidden_state" if kind == "encoder" else "logits"
    outs = [getattr(_call(model, fmt, **inputs), field).numpy()
            for fmt in ("kwargs", "list", "dict")]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


@settings(PROFILE)
@given(cfg=configs, batch=st.integers(1, 3), seq=st.integers(2, 9), seed=seeds,
       data=st.data())
def test_cached_decoding_equals_full_recompute(cfg, batch, seq, seed, data):
    model = _model("decoder", *cfg)
    split = data.draw(st.integers(1, seq - 1), label="split")
    ids = _ids(np.random.default_rng(seed), batch, seq)
    full = model(ids).logits.numpy()
    first = model(ids[:, :split], use_cache=True)
    second = model(ids[:, split:], past_key_values=first.past_key_values, use_cache=True,
                   attention_mask=np.ones((batch, seq), np.int32))
    cached = np.concatenate([first.logits.numpy(), second.logits.numpy()], axis=1)
    np.testing.assert_allclose(cached, full, atol=1e-5)
    assert second.past_key_values[0][0].shape[2] == seq


@settings(PROFILE)
@given(cfg=configs, kind=st.sampled_from(["encoder", "decoder"]), batch=st.integers(1, 3),
       seq=st.integers(1, 8), use_head_mask=st.booleans(), seed=seeds)
def test_attention_rows_sum_to_one_and_ignore_masked_keys(cfg, kind, batch, seq, use_head_mask,
                                                          seed):
    layers, heads, _ = cfg
    model = _model(kind, *cfg)
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 2, size=(batch, seq)).astype(np.int32)
    mask[:, 0] = 1  # no fully masked rows
    head_mask = (rng.integers(0, 2, size=(layers, heads)).astype(np.float32) if use_head_mask
                 else np.ones((layers, heads), np.float32))
    out = model(_ids(rng, batch, seq), attention_mask=mask, output_attentions=True,
                head_mask=head_mask if use_head_mask else None)
    assert len(out.attentions) == layers
    for layer, att in enumerate(out.attentions):
        a = att.numpy()  # [batch, head, q, k]
        assert a.shape == (batch, heads, seq, seq) and np.isfinite(a).all()
        want = np.broadcast_to(head_mask[layer][None, :, None], (batch, heads, seq))
        np.testing.assert_allclose(a.sum(-1), want, atol=1e-5)
        assert np.all(a[np.broadcast_to(mask[:, None, None, :] == 0, a.shape)] == 0)
        if kind == "decoder":
            future = np.triu(np.ones((seq, seq), bool), k=1)
            assert np.all(a[..., future] == 0)


@settings(PROFILE)
@given(cfg=configs, batch=st.integers(1, 3), seq=st.integers(2, 9), seed=seeds, data=st.data())
def test_step_by_step_decoding_equals_full_recompute_for_any_mask(cfg, batch, seq, seed, data):
    """One position rule (embeddings.position_ids) for the full pass and the cache: a prefix,
    then one token at a time, equals the full recompute whatever the attention mask - zeros on
    real tokens, pad ids with mask 1 - as long as each row's first token is attended (a query
    with no key to attend is undefined, as in HF)."""
    model = _model("decoder", *cfg)
    rng = np.random.default_rng(seed)
    ids = _ids(rng, batch, seq)
    ids[rng.random((batch, seq)) < 0.25] = PAD  # pad ids anywhere, whatever the mask says
    mask = rng.integers(0, 2, size=(batch, seq)).astype(np.int32)
    mask[:, 0] = 1
    split = data.draw(st.integers(1, seq - 1), label="split")
    full = model(ids, attention_mask=mask).logits.numpy()
    out = model(ids[:, :split], attention_mask=mask[:, :split], use_cache=True)
    steps = [out.logits.numpy()]
    for t in range(split, seq):
        out = model(ids[:, t:t + 1], attention_mask=mask[:, :t + 1],
                    past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


@settings(PROFILE)
@given(cfg=configs, batch=st.integers(1, 3), seq=st.integers(2, 9), seed=seeds, data=st.data())
def test_decoder_never_looks_ahead(cfg, batch, seq, seed, data):
    model = _model("decoder", *cfg)
    t = data.draw(st.integers(0, seq - 2), label="t")
    rng = np.random.default_rng(seed)
    ids = _ids(rng, batch, seq)
    changed = ids.copy()
    changed[:, t + 1:] = _ids(rng, batch, seq - t - 1)
    a = model(ids, output_hidden_states=True)
    b = model(changed, output_hidden_states=True)
    np.testing.assert_allclose(a.logits.numpy()[:, :t + 1], b.logits.numpy()[:, :t + 1],
                               atol=1e-5)
    for ha, hb in zip(a.hidden_states, b.hidden_states):
        np.testing.assert_allclose(ha.numpy()[:, :t + 1], hb.numpy()[:, :t + 1], atol=1e-5)


def test_profile_is_registered():
    assert PROFILE.max_examples == 25 and PROFILE.derandomize and PROFILE.deadline is None
    assert HealthCheck.too_slow in PROFILE.suppress_health_check


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
