"""Generation: the compiled, eager and no-cache engines agree token for token; padding, cross-
attention, sampling, filters, eos, the teaching trace and argument checks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM
from roberta_lab.generation import generate, next_token, top_k_filter, top_p_filter
from roberta_lab.step_trace import trace_generation

NEW = 64


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    # A wider init than the default 0.02, so that the next token really depends on the prompt.
    return TFRobertaForCausalLM(tiny_config(is_decoder=True, initializer_range=0.2))


@pytest.fixture(scope="module")
def greedy(model):
    """Two prompts [2, 6], 64 greedy tokens by full recompute: the reference."""
    prompt = random_ids(2, 6, seed=11)
    return prompt, generate(model, prompt, max_new_tokens=NEW, use_cache=False)


def test_cached_equals_uncached_64_steps(model, greedy):
    prompt, ref = greedy
    assert ref.shape == (2, 6 + NEW) and (ref[:, :6] == prompt).all()
    assert len(np.unique(ref[:, 6:])) > 3  # not a degenerate model
    np.testing.assert_array_equal(generate(model, prompt, max_new_tokens=NEW), ref)  # XLA
    np.testing.assert_array_equal(generate(model, prompt, max_new_tokens=NEW, compiled="graph"),
                                  ref)
    np.testing.assert_array_equal(generate(model, prompt, max_new_tokens=NEW, compiled=False), ref)


def test_compile_words_and_the_old_keyword(model, greedy):
    """compile=False | True | "xla" as everywhere; compiled= still works, with a warning."""
    prompt, ref = greedy
    for mode in (True, False):
        np.testing.assert_array_equal(generate(model, prompt, max_new_tokens=NEW, compile=mode),
                                      ref)
    with pytest.warns(DeprecationWarning, match="compile="):
        old = generate(model, prompt, max_new_tokens=NEW, compiled="graph")
    np.testing.assert_array_equal(old, ref)


def test_compiled_loop_traced_once(model, greedy):
    prompt, ref = greedy
    generate(model, prompt, max_new_tokens=NEW)
    fns = model.compiled_functions.entries("generation")
    counts = {k: f.experimental_get_tracing_count() for k, f in fns.items()}
    other = random_ids(2, 6, seed=12)  # same shapes, other values and mask
    generate(model, other, np.array([[0, 1, 1, 1, 1, 1], [1] * 6]), max_new_tokens=NEW,
             eos_token_id=5, pad_token_id=7)  # eos and pad are inputs, not baked in
    generate(model, prompt, max_new_tokens=NEW)
    assert model.compiled_functions.entries("generation") == fns
    assert {k: f.experimental_get_tracing_count() for k, f in fns.items()} == counts


def test_left_padded_batch_equals_rows_alone(model):
    ids = random_ids(2, 6, seed=13)
    mask = np.ones_like(ids)
    ids[0, :3], mask[0, :3] = 1, 0  # row 0: a 3-token prompt, left-padded
    batch = generate(model, ids, mask, max_new_tokens=NEW)  # same shapes: reuses the trace
    for row, start in ((0, 3), (1, 0)):
        alone = generate(model, ids[row:row + 1, start:], max_new_tokens=NEW, compiled=False)
        np.testing.assert_array_equal(batch[row, 6:], alone[0, 6 - start:])
    np.testing.assert_array_equal(
        generate(model, ids, mask, max_new_tokens=NEW, use_cache=False), batch)


def test_cross_attention_decoder_cached_equals_uncached():
    keras.utils.set_random_seed(1)
    cfg = tiny_config(is_decoder=True, add_cross_attention=True, initializer_range=0.2)
    model = TFRobertaForCausalLM(cfg)
    prompt = random_ids(2, 3, seed=14)
    enc = np.random.default_rng(0).normal(size=(2, 5, 32)).astype(np.float32)
    enc_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.int32)
    # the plain graph here (quicker to trace than XLA); the loop's cross-K/V reuse is the same
    kw = dict(max_new_tokens=24, encoder_hidden_states=enc, encoder_attention_mask=enc_mask,
              compiled="graph")
    ref = generate(model, prompt, use_cache=False, **kw)
    np.testing.assert_array_equal(generate(model, prompt, **kw), ref)
    np.testing.assert_array_equal(generate(model, prompt, **{**kw, "compiled": False}), ref)
    # the encoder matters: other encoder states give other tokens
    other = generate(model, prompt, **{**kw, "encoder_hidden_states": -enc})
    assert (other != ref).any()


def test_sampling_seeded_reproducible_across_engines(model, greedy):
    prompt, ref = greedy
    kw = dict(max_new_tokens=16, do_sample=True, temperature=1.5, top_k=20, top_p=0.9)
    a = generate(model, prompt, seed=7, **kw)
    np.testing.assert_array_equal(generate(model, prompt, seed=7, **kw), a)
    assert (generate(model, prompt, seed=8, **kw) != a).any()
    assert (a[:, 6:] != ref[:, 6:22]).any()  # it does sample
    np.testing.assert_array_equal(generate(model, prompt, seed=7, compiled=False, **kw), a)
    np.testing.assert_array_equal(generate(model, prompt, seed=7, use_cache=False, **kw), a)
    # global seed -> reproducible when seed is None
    keras.utils.set_random_seed(3)
    b = generate(model, prompt, compiled=False, **kw)
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(generate(model, prompt, compiled=False, **kw), b)


def test_top_k_1_is_greedy(model, greedy):
    prompt, ref = greedy
    out = generate(model, prompt, max_new_tokens=10, do_sample=True, top_k=1, temperature=3.0,
                   seed=1, compiled=False)
    np.testing.assert_array_equal(out, ref[:, :16])


def test_top_k_filter_keeps_k():
    logits = tf.constant(np.random.default_rng(0).normal(size=(3, 50)), tf.float32)
    out = top_k_filter(logits, 5).numpy()
    kept = np.isfinite(out)
    assert (kept.sum(axis=1) == 5).all()
    expect = np.argsort(-logits.numpy(), axis=1)[:, :5]
    for row in range(3):
        assert set(np.flatnonzero(kept[row])) == set(expect[row])
        np.testing.assert_array_equal(out[row, kept[row]], logits.numpy()[row, kept[row]])
    assert np.isfinite(top_k_filter(logits, 500).numpy()).all()  # k > vocab keeps everything


def test_top_p_filter_smallest_set():
    probs = np.array([[0.5, 0.2, 0.15, 0.1, 0.05], [0.05, 0.1, 0.6, 0.2, 0.05]])
    logits = tf.constant(np.log(probs), tf.float32)
    keep = lambda p: np.isfinite(top_p_filter(logits, p).numpy())  # noqa: E731
    # p exactly at a cumulative mass (0.5, 0.6) is a float boundary: float32 softmax may give
    # 0.59999996 (AVX-512) or 0.6 (AVX2). A mass within TOL of p counts as reaching it.
    TOL = 1e-6
    np.testing.assert_array_equal(keep(0.5 - TOL), [[1, 0, 0, 0, 0], [0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(keep(0.6 - TOL), [[1, 1, 0, 0, 0], [0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(keep(0.75), [[1, 1, 1, 0, 0], [0, 0, 1, 1, 0]])
    np.testing.assert_array_equal(keep(0.01), [[1, 0, 0, 0, 0], [0, 0, 1, 0, 0]])  # at least 1
    assert keep(1.0).all()
    # sampling only ever picks kept tokens
    picks = {int(next_token(logits[:1], s, 5, True, 1.0, None, 0.75)[0]) for s in range(60)}
    assert picks == {0, 1, 2}


def test_eos_stops_a_row(model, greedy):
    prompt, ref = greedy
    eos = int(ref[0, 6 + 5])  # row 0's 6th new token
    new = ref[:, 6:]
    expect = new.copy()
    for row in range(2):
        hits = np.flatnonzero(new[row] == eos)
        if hits.size:
            expect[row, hits[0] + 1:] = 98
    assert (expect != new).any()
    for kw in (dict(), dict(compiled=False), dict(use_cache=False)):
        out = generate(model, prompt, max_new_tokens=NEW, eos_token_id=eos, pad_token_id=98, **kw)
        np.testing.assert_array_equal(out[:, 6:], expect, err_msg=str(kw))
    # every row finished early: fixed shape, padded to the end
    out = generate(model, prompt[:1], max_new_tokens=20, eos_token_id=int(ref[0, 6]),
                   pad_token_id=98, compiled=False)
    assert out.shape == (1, 26) and (out[0, 7:] == 98).all()


def test_trace_is_complete(model, greedy):
    prompt, ref = greedy
    cfg = model.config
    trace = trace_generation(model, prompt[:1], max_new_tokens=6, top_k=4)
    assert len(trace.steps) == 6 and trace.tokens == ref[0, 6:12].tolist()
    assert trace.tokens_match and trace.uncached_tokens == trace.tokens
    per_token = cfg.num_hidden_layers * 2 * cfg.num_attention_heads * cfg.head_dim * 4
    assert np.diff(trace.cache_bytes).tolist() == [per_token] * 5
    assert trace.cache_bytes[0] == per_token * 6
    for i, step in enumerate(trace.steps):
        assert step.self_attention.shape == (2, 4, 6 + i) and step.cross_attention is None
        np.testing.assert_allclose(step.self_attention.sum(-1), 1, atol=1e-5)
        assert step.cache_shapes[0] == [(1, 4, 6 + i, 8)] * 2
        assert len(step.top_ids) == 4 and step.top_ids[0] == step.token_id
        assert step.top_probs == sorted(step.top_probs, reverse=True)
        assert step.time_s > 0 and step.time_uncached_s > 0
    assert all(t > 0 for t in trace.times_cached + trace.times_uncached)
    json.dumps(trace.to_dict())


def test_trace_cross_attention_and_text(tok_dir):
    from roberta_lab import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    keras.utils.set_random_seed(2)
    model = TFRobertaForCausalLM(tiny_config(vocab_size=tok.vocab_size, is_decoder=True,
                                             add_cross_attention=True))
    enc = np.random.default_rng(0).normal(size=(1, 5, 32)).astype(np.float32)
    trace = trace_generation(model, "The capital", max_new_tokens=3, tokenizer=tok,
                             encoder_hidden_states=enc)
    n = len(trace.prompt_ids)
    assert trace.tokens_match and trace.prompt_text is not None
    for i, step in enumerate(trace.steps):
        assert step.cross_attention.shape == (2, 4, 5)
        assert step.self_attention.shape == (2, 4, n + i)
        assert step.cache_shapes[1] == [(1, 4, n + i, 8)] * 2 + [(1, 4, 5, 8)] * 2
        assert isinstance(step.text, str) and len(step.top_texts) == 5


@pytest.mark.parametrize("kw, name", [
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=2.0), "max_new_tokens"),
    (dict(max_new_tokens=510), "max_new_tokens"),
    (dict(max_new_tokens=2, temperature=0.0), "temperature"),
    (dict(max_new_tokens=2, top_k=0), "top_k"),
    (dict(max_new_tokens=2, top_p=0.0), "top_p"),
    (dict(max_new_tokens=2, top_p=1.5), "top_p"),
    (dict(max_new_tokens=2, compiled="fast"), "compiled"),
    (dict(max_new_tokens=2, attention_mask=np.zeros((2, 6))), "attention_mask"),
    (dict(max_new_tokens=2, encoder_hidden_states=np.zeros((2, 3, 32), np.float32)),
     "encoder_hidden_states"),
])
def test_bad_arguments(model, kw, name):
    with pytest.raises((ValueError, TypeError), match=name):
        generate(model, random_ids(2, 6), **kw)


def test_not_a_decoder():
    with pytest.raises(ValueError, match="is_decoder"):
        generate(TFRobertaForCausalLM(tiny_config()), random_ids(1, 3), max_new_tokens=2)
    with pytest.raises(TypeError, match="model"):
        generate(object(), random_ids(1, 3), max_new_tokens=2)
    with pytest.raises(ValueError, match="batch"):
        trace_generation(TFRobertaForCausalLM(tiny_config(is_decoder=True)), random_ids(2, 3),
                         max_new_tokens=2)
    assert TFRobertaForMaskedLM  # an MLM has no causal mask; generate refuses via is_decoder


# --- causal prompts, stopping at </s>, and how the trace times its steps ------------------------
def test_prompt_ids_drop_the_closing_eos(tok_dir):
    from roberta_lab import AutoTokenizer
    from roberta_lab.generation import prompt_ids

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    full = tok("The capital", return_tensors="np")["input_ids"]
    ids = prompt_ids(tok, "The capital")
    assert full[0, -1] == tok.eos_token_id  # what RoBERTa's tokenizer does with a text
    np.testing.assert_array_equal(ids, full[:, :-1])
    assert ids[0, 0] == tok.bos_token_id and tok.eos_token_id not in ids[0].tolist()


def test_generation_stops_at_config_eos_unless_asked_not_to(model, greedy):
    prompt, ref = greedy
    eos = int(ref[0, 6 + 3])  # row 0's 4th new token plays </s>
    model.config.eos_token_id = eos
    try:
        for kw in (dict(), dict(compiled=False), dict(use_cache=False)):
            out = generate(model, prompt[:1], max_new_tokens=12, **kw)
            first = int(np.flatnonzero(ref[0, 6:] == eos)[0])
            assert out[0, 6 + first] == eos, kw
            assert (out[0, 7 + first:] == model.config.pad_token_id).all(), kw
            on = generate(model, prompt[:1], max_new_tokens=12, stop_at_eos=False, **kw)
            np.testing.assert_array_equal(on, ref[:1, :18], err_msg=str(kw))
        trace = trace_generation(model, prompt[:1], max_new_tokens=12, top_k=2)
        assert trace.tokens[-1] == eos and len(trace.steps) == first + 1
        trace = trace_generation(model, prompt[:1], max_new_tokens=12, top_k=2,
                                 stop_at_eos=False)
        assert trace.tokens == ref[0, 6:18].tolist()
    finally:
        model.config.eos_token_id = 2


def test_trace_times_both_ways_compiled_and_warm(model, greedy, monkeypatch):
    """The measurement method: cached and uncached steps go through one compiled forward each,
    each traced exactly once, and no timed call is a tracing call (warm-up excluded)."""
    from roberta_lab.engine import step_trace

    seen = []
    real = step_trace._median_time

    def spy(fn, *args, repeats):
        seen.append(fn.experimental_get_tracing_count())  # traced before it is ever timed
        return real(fn, *args, repeats=repeats)

    monkeypatch.setattr(step_trace, "_median_time", spy)
    prompt, ref = greedy
    trace = trace_generation(model, prompt[:1], max_new_tokens=5, top_k=2, stop_at_eos=False,
                             repeats=3)
    assert trace.timing == {"mode": "graph", "repeats": 3, "warmup_excluded": True,
                            "traces": (1, 1)}
    assert seen == [1] * (5 + 4)  # 5 uncached steps, 4 cached ones (step 0 is the prefill)
    assert trace.times_cached[0] == trace.times_uncached[0]


def test_timed_cached_steps_run_one_position_uncached_ones_the_whole_text(monkeypatch):
    """Why cached steps are faster, checked without a clock (timings are no CI assertion here):
    each timed cached step feeds one new position, each timed uncached step the whole text."""
    from roberta_lab.engine import step_trace

    fed = []
    real = step_trace._median_time

    def spy(fn, *args, repeats):
        fed.append(int(args[0].shape[1]))
        return real(fn, *args, repeats=repeats)

    monkeypatch.setattr(step_trace, "_median_time", spy)
    keras.utils.set_random_seed(1)
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=160))
    ids = random_ids(1, 100, seed=3, vocab=model.config.vocab_size)
    t = step_trace.time_steps(model, ids, list(range(5, 17)), repeats=1)
    assert len(t["cached"]) == len(t["uncached"]) == 12
    # Per step: the uncached call (100 + i positions), then from step 1 the cached call (1).
    assert fed == [100] + [n for i in range(1, 12) for n in (100 + i, 1)]
