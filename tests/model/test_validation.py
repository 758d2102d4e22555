"""Input validation at the public boundary: every bad input fails with an error naming the
argument, before any graph runs; out-of-range ids are refused eagerly, by asserts in graphs and by
NaN rows under XLA; masking stays finite in low precision; outputs are deterministic."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import AutoTokenizer, TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaModel
from roberta_lab.attention import RobertaAttention

MAX_POS = 16  # with pad id 1, sequences of up to 14 tokens fit


@pytest.fixture(scope="module")
def enc():
    tf.random.set_seed(0)
    return TFRobertaModel(tiny_config(max_position_embeddings=MAX_POS))


@pytest.fixture(scope="module")
def mlm():
    tf.random.set_seed(1)
    return TFRobertaForMaskedLM(tiny_config(max_position_embeddings=MAX_POS))


@pytest.fixture(scope="module")
def dec():
    tf.random.set_seed(2)
    return TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=MAX_POS))


@pytest.fixture(scope="module")
def cross():
    tf.random.set_seed(3)
    return TFRobertaForCausalLM(tiny_config(is_decoder=True, add_cross_attention=True,
                                            max_position_embeddings=MAX_POS))


IDS = random_ids(2, 5)


def _raises(exc, names, fn):
    """fn() raises exc and the message names every string in names."""
    with pytest.raises(exc) as info:
        fn()
    for name in ([names] if isinstance(names, str) else names):
        assert name in str(info.value), (name, str(info.value))
    return info


def _past(model, ids=IDS, **kw):
    return model(ids, use_cache=True, **kw).past_key_values


# --- ids out of range: eagerly ------------------------------------------------------------------
def test_input_ids_too_large_eager(enc):
    bad = IDS.copy()
    bad[1, 2] = 99
    _raises(ValueError, ["input_ids", "[0, 99)", "99"], lambda: enc(bad))


def test_input_ids_negative_eager(enc):
    bad = IDS.copy()
    bad[0, 1] = -1
    _raises(ValueError, ["input_ids", "-1"], lambda: enc(bad))


def test_token_type_ids_out_of_range_eager(enc):
    types = np.zeros_like(IDS)
    types[0, 0] = 16
    _raises(ValueError, ["token_type_ids", "[0, 16)"], lambda: enc(IDS, token_type_ids=types))
    types[0, 0] = -2
    _raises(ValueError, ["token_type_ids", "-2"], lambda: enc(IDS, token_type_ids=types))


def test_position_ids_out_of_range_eager(enc):
    pos = np.tile(np.arange(2, 7), (2, 1))
    pos[1, 4] = MAX_POS
    _raises(ValueError, ["position_ids", f"[0, {MAX_POS})"], lambda: enc(IDS, position_ids=pos))
    pos[1, 4] = -5
    _raises(ValueError, ["position_ids", "-5"], lambda: enc(IDS, position_ids=pos))


def test_labels_out_of_range_eager(mlm):
    labels = np.full_like(IDS, -100)
    labels[0, 0] = 99
    _raises(ValueError, ["labels", "-100"], lambda: mlm(IDS, labels=labels))
    labels[0, 0] = -7
    _raises(ValueError, ["labels", "-7"], lambda: mlm(IDS, labels=labels))


def test_constant_ids_inside_a_graph_are_checked_at_trace_time(enc):
    bad = IDS.copy()
    bad[0, 0] = 500
    fn = tf.function(lambda: enc(tf.constant(bad)).last_hidden_state)
    _raises(ValueError, "input_ids", fn)


# --- ids out of range: compiled ------------------------------------------------------------------
def test_out_of_range_ids_in_tf_function_raise_naming_the_argument(enc):
    fn = tf.function(lambda i, t, p: enc(i, token_type_ids=t, position_ids=p).last_hidden_state)
    types = np.zeros_like(IDS)
    pos = np.tile(np.arange(2, 7), (2, 1)).astype(np.int32)
    assert np.isfinite(fn(IDS, types, pos).numpy()).all()
    bad = IDS.copy()
    bad[1, 1] = 1000
    _raises(tf.errors.InvalidArgumentError, "input_ids", lambda: fn(bad, types, pos))
    bad[1, 1] = -1
    _raises(tf.errors.InvalidArgumentError, "input_ids", lambda: fn(bad, types, pos))
    bad_t = types.copy()
    bad_t[0, 3] = 16
    _raises(tf.errors.InvalidArgumentError, "token_type_ids", lambda: fn(IDS, bad_t, pos))
    bad_p = pos.copy()
    bad_p[0, 3] = MAX_POS
    _raises(tf.errors.InvalidArgumentError, "position_ids", lambda: fn(IDS, types, bad_p))


def _xla_case(model, bad_row_kwargs):
    """Row 0 valid, row 1 not: under XLA row 1 is all NaN and row 0 matches eager."""
    fn = tf.function(lambda i, t, p: model(i, token_type_ids=t, position_ids=p).logits,
                     jit_compile=True)
    ids, types = IDS.copy(), np.zeros_like(IDS)
    pos = np.tile(np.arange(2, 7), (2, 1)).astype(np.int32)
    args = {"ids": ids, "types": types, "pos": pos}
    for key, value in bad_row_kwargs.items():
        args[key][1, 2] = value
    out = fn(args["ids"], args["types"], args["pos"]).numpy()
    assert np.isnan(out[1]).all(), bad_row_kwargs
    expect = model(ids[:1], token_type_ids=types[:1], position_ids=pos[:1]).logits.numpy()
    assert np.isfinite(out[0]).all()
    np.testing.assert_allclose(out[0], expect[0], atol=1e-5)


@pytest.mark.parametrize("bad", [{"ids": 99}, {"ids": 5000}, {"ids": -1}, {"types": 16},
                                 {"types": -1}, {"pos": MAX_POS}, {"pos": -3}],
                         ids=["ids_eq_vocab", "ids_huge", "ids_neg", "types_big", "types_neg",
                              "pos_big", "pos_neg"])
def test_out_of_range_ids_under_xla_give_nan_rows_not_silent_answers(mlm, bad):
    _xla_case(mlm, bad)


def test_too_long_sequence_under_xla_gives_nan(mlm):
    fn = tf.function(lambda i: mlm(i).logits, jit_compile=True,
                     input_signature=[tf.TensorSpec([None, None], tf.int32)])
    ok = random_ids(2, MAX_POS - 2)
    assert np.isfinite(fn(ok).numpy()).all()
    assert np.isnan(fn(random_ids(2, MAX_POS - 1)).numpy()).all()
    # the same input called eagerly is refused with a clear error
    _raises(ValueError, ["sequence length", "max_position_embeddings"],
            lambda: mlm(random_ids(2, MAX_POS - 1)))


# --- dtypes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["input_ids", "token_type_ids", "position_ids"])
def test_float_ids_are_refused(enc, name):
    kw = {"input_ids": IDS, name: np.full(IDS.shape, 2.0, np.float32)}
    _raises(TypeError, [name, "integer", "float32"], lambda: enc(**kw))


def test_float_labels_are_refused(mlm):
    _raises(TypeError, ["labels", "integer"], lambda: mlm(IDS, labels=IDS.astype(np.float32)))


def test_string_and_ragged_inputs_are_refused(enc):
    _raises(TypeError, "input_ids", lambda: enc(input_ids=np.array([["a", "b"]])))
    _raises(TypeError, "input_ids", lambda: enc(input_ids="hello"))
    _raises(ValueError, ["token_type_ids", "ragged"],
            lambda: enc(IDS, token_type_ids=[[0, 0, 0, 0, 0], [0, 0]]))
    # a list as the first input is HF's list format: [input_ids, attention_mask, ...]
    _raises(ValueError, ["input_ids", "list format"],
            lambda: enc([np.array([0, 5, 2]), np.array([1, 1, 1])]))


def test_integer_inputs_embeds_are_refused(enc):
    _raises(TypeError, ["inputs_embeds", "floating"],
            lambda: enc(inputs_embeds=np.ones((2, 5, 32), np.int32)))


def test_non_finite_inputs_embeds_are_refused(enc):
    emb = np.zeros((2, 5, 32), np.float32)
    emb[0, 0, 0] = np.nan
    _raises(ValueError, ["inputs_embeds", "finite"], lambda: enc(inputs_embeds=emb))


# --- lengths and shapes --------------------------------------------------------------------------
def test_sequence_longer_than_position_table(enc):
    enc(random_ids(1, MAX_POS - 2))  # 14 tokens fit
    _raises(ValueError, ["sequence length 15", f"max_position_embeddings={MAX_POS}"],
            lambda: enc(random_ids(1, MAX_POS - 1)))
    _raises(ValueError, ["sequence length", "inputs_embeds"],
            lambda: enc(inputs_embeds=np.zeros((1, MAX_POS - 1, 32), np.float32)))


def test_sequence_plus_cache_longer_than_position_table(dec):
    past = _past(dec, random_ids(1, 10))
    dec(random_ids(1, 4), past_key_values=past)  # 10 + 4 = 14 fits
    _raises(ValueError, ["sequence length 15", "past_key_values"],
            lambda: dec(random_ids(1, 5), past_key_values=past))


def test_attention_mask_shape_disagrees(enc):
    _raises(ValueError, ["attention_mask", "[2, 5]", "[2, 4]"],
            lambda: enc(IDS, attention_mask=np.ones((2, 4))))
    _raises(ValueError, ["attention_mask", "[3, 5]"],
            lambda: enc(IDS, attention_mask=np.ones((3, 5))))


def test_attention_mask_must_cover_the_cache(dec):
    past = _past(dec)
    step = random_ids(2, 1)
    dec(step, past_key_values=past, attention_mask=np.ones((2, 6)))
    _raises(ValueError, ["attention_mask", "past + seq", "[2, 6]"],
            lambda: dec(step, past_key_values=past, attention_mask=np.ones((2, 1))))


def test_attention_mask_wrong_rank(enc):
    _raises(ValueError, "attention_mask", lambda: enc(IDS, attention_mask=np.ones((2, 1, 5))))
    _raises(ValueError, "attention_mask", lambda: enc(IDS, attention_mask=np.ones(5)))


def test_attention_mask_values_must_be_0_or_1(enc):
    _raises(ValueError, ["attention_mask", "0", "1"],
            lambda: enc(IDS, attention_mask=np.full((2, 5), 2)))


def test_head_mask_shape_disagrees(enc):
    for shape in [(3,), (2, 3), (3, 4), (5, 2, 4), (1, 1, 2, 4)]:
        _raises(ValueError, ["head_mask", "(layers, heads)"],
                lambda: enc(IDS, head_mask=np.ones(shape, np.float32)))


def test_labels_shape_disagrees(mlm):
    _raises(ValueError, ["labels", "[2, 5]"], lambda: mlm(IDS, labels=IDS[:, :4]))
    _raises(ValueError, ["labels", "[2, 5]"], lambda: mlm(IDS, labels=IDS[:, :, None]))


def test_labels_to_a_model_without_a_head(enc):
    _raises(TypeError, "labels", lambda: enc(IDS, labels=IDS))


def test_encoder_states_shape_disagrees(cross):
    good = np.zeros((2, 3, 32), np.float32)
    cross(IDS, encoder_hidden_states=good)
    _raises(ValueError, ["encoder_hidden_states", "32"],
            lambda: cross(IDS, encoder_hidden_states=np.zeros((2, 3, 16), np.float32)))
    _raises(ValueError, ["encoder_hidden_states", "batch=2"],
            lambda: cross(IDS, encoder_hidden_states=np.zeros((1, 3, 32), np.float32)))
    _raises(ValueError, "encoder_hidden_states",
            lambda: cross(IDS, encoder_hidden_states=np.zeros((2, 32), np.float32)))
    _raises(ValueError, ["encoder_hidden_states", "empty"],
            lambda: cross(IDS, encoder_hidden_states=np.zeros((2, 0, 32), np.float32)))
    _raises(TypeError, ["encoder_hidden_states", "floating"],
            lambda: cross(IDS, encoder_hidden_states=np.zeros((2, 3, 32), np.int32)))


def test_encoder_attention_mask_shape_disagrees(cross):
    states = np.zeros((2, 3, 32), np.float32)
    cross(IDS, encoder_hidden_states=states, encoder_attention_mask=np.ones((2, 3)))
    cross(IDS, encoder_hidden_states=states, encoder_attention_mask=np.ones((2, 5, 3)))
    for shape in [(2, 4), (1, 3), (2, 4, 3), (3,)]:
        _raises(ValueError, ["encoder_attention_mask", "[2, 3]"],
                lambda: cross(IDS, encoder_hidden_states=states,
                              encoder_attention_mask=np.ones(shape)))


def test_encoder_states_without_cross_attention(dec, enc):
    states = np.zeros((2, 3, 32), np.float32)
    for model in (dec, enc):
        _raises(ValueError, ["encoder_hidden_states", "add_cross_attention"],
                lambda: model(IDS, encoder_hidden_states=states))


def test_encoder_attention_mask_without_encoder_states(cross):
    _raises(ValueError, ["encoder_attention_mask", "encoder_hidden_states"],
            lambda: cross(IDS, encoder_attention_mask=np.ones((2, 3))))


def test_cache_wrong_number_of_layers(dec):
    past = _past(dec)
    _raises(ValueError, ["past_key_values", "1 layers", "2"],
            lambda: dec(random_ids(2, 1), past_key_values=past[:1]))


def test_cache_shape_disagrees(dec):
    past = _past(dec)
    step = random_ids(2, 1)
    wrong_batch = tuple((k[:1], v[:1]) for k, v in past)
    _raises(ValueError, ["past_key_values[0][0]", "[2, 4, None, 8]"],
            lambda: dec(step, past_key_values=wrong_batch))
    wrong_heads = tuple((k[:, :2], v[:, :2]) for k, v in past)
    _raises(ValueError, "past_key_values[0][0]", lambda: dec(step, past_key_values=wrong_heads))
    kv_disagree = tuple((k, v[:, :, :3]) for k, v in past)
    _raises(ValueError, ["past_key_values[0]", "disagree"],
            lambda: dec(step, past_key_values=kv_disagree))
    layers_disagree = (past[0], tuple(t[:, :, :3] for t in past[1]))
    _raises(ValueError, ["past_key_values", "disagree"],
            lambda: dec(step, past_key_values=layers_disagree))
    as_int = tuple(tuple(tf.cast(t, tf.int32) for t in layer) for layer in past)
    _raises(TypeError, ["past_key_values[0][0]", "floating"],
            lambda: dec(step, past_key_values=as_int))
    _raises(ValueError, "past_key_values[0]",
            lambda: dec(step, past_key_values=tuple((k,) for k, v in past)))
    _raises(TypeError, "past_key_values", lambda: dec(step, past_key_values=past[0][0]))


def test_cross_cache_given_to_model_without_cross_attention(dec, cross):
    states = np.zeros((2, 3, 32), np.float32)
    past = _past(cross, encoder_hidden_states=states)
    assert len(past[0]) == 4
    _raises(ValueError, ["past_key_values[0]", "cross-attention"],
            lambda: dec(random_ids(2, 1), past_key_values=past))


def test_past_key_values_to_a_non_decoder(dec, enc):
    past = _past(dec)
    _raises(ValueError, ["past_key_values", "decoder"],
            lambda: enc(random_ids(2, 1), past_key_values=past))


def test_both_or_neither_of_ids_and_embeds(enc):
    emb = np.zeros((2, 5, 32), np.float32)
    _raises(ValueError, ["input_ids", "inputs_embeds"], lambda: enc(IDS, inputs_embeds=emb))
    _raises(ValueError, ["input_ids", "inputs_embeds"], lambda: enc(attention_mask=np.ones((2, 5))))
    _raises(ValueError, ["input_ids", "inputs_embeds"], lambda: enc({"attention_mask": np.ones((2, 5))}))


def test_inputs_embeds_wrong_shape(enc):
    _raises(ValueError, ["inputs_embeds", "32"],
            lambda: enc(inputs_embeds=np.zeros((2, 5, 16), np.float32)))
    _raises(ValueError, "inputs_embeds", lambda: enc(inputs_embeds=np.zeros((5, 32), np.float32)))


def test_input_ids_wrong_rank(enc):
    _raises(ValueError, ["input_ids", "[batch, seq]"], lambda: enc(IDS[0]))
    _raises(ValueError, ["input_ids", "[batch, seq]"], lambda: enc(IDS[:, :, None]))


def test_token_type_and_position_ids_shape_disagree(enc):
    _raises(ValueError, ["token_type_ids", "[2, 5]"],
            lambda: enc(IDS, token_type_ids=np.zeros((2, 4), np.int32)))
    _raises(ValueError, ["position_ids", "[2, 5]"],
            lambda: enc(IDS, position_ids=np.zeros((1, 5), np.int32) + 2))


def test_empty_batch(enc):
    _raises(ValueError, ["input_ids", "empty"], lambda: enc(np.zeros((0, 5), np.int32)))
    _raises(ValueError, ["inputs_embeds", "empty"],
            lambda: enc(inputs_embeds=np.zeros((0, 5, 32), np.float32)))


def test_zero_length_sequence(enc):
    _raises(ValueError, ["input_ids", "empty"], lambda: enc(np.zeros((2, 0), np.int32)))
    _raises(ValueError, ["inputs_embeds", "empty"],
            lambda: enc(inputs_embeds=np.zeros((2, 0, 32), np.float32)))


# --- arguments, keys, flags ----------------------------------------------------------------------
def test_unknown_keyword_argument(enc):
    _raises(TypeError, "foo", lambda: enc(IDS, foo=1))


def test_unknown_dict_key(enc):
    _raises(TypeError, ["unknown key", "foo"], lambda: enc({"input_ids": IDS, "foo": IDS}))


def test_input_list_too_long(enc):
    _raises(ValueError, ["input list", "14 entries"], lambda: enc([IDS] + [None] * 13))


@pytest.mark.parametrize("flag", ["use_cache", "output_attentions", "output_hidden_states",
                                  "return_dict"])
def test_non_bool_flags(dec, flag):
    for value in ("yes", 1, 0.0):
        _raises(TypeError, [flag, "bool"], lambda: dec(IDS, **{flag: value}))
    dec(IDS, **{flag: np.bool_(True)})  # numpy bools are bools


def test_flags_inside_dict_and_list_formats(dec):
    out = dec({"input_ids": IDS, "output_attentions": True})
    assert out.attentions is not None
    _raises(TypeError, "output_attentions", lambda: dec({"input_ids": IDS, "output_attentions": "no"}))
    out = dec([IDS, None, None, None, None, None, None, None, None, None, True])
    assert out.attentions is not None


def test_training_not_a_bool_direct_path():
    model = TFRobertaModel(tiny_config(max_position_embeddings=MAX_POS))
    model.compiled_forward = False  # the math runs directly (as under fit / tf.function)
    for value in ("yes", 1, 0.5):
        _raises(TypeError, ["training", "bool"], lambda: model(IDS, training=value))
    model(IDS, training=False)
    model(IDS, training=np.bool_(False))


def test_training_not_a_bool(enc):
    for value in ("yes", 1, 0.5):
        _raises(TypeError, ["training", "bool"], lambda: enc(IDS, training=value))
    enc(IDS, training=False)
    enc(IDS, training=np.bool_(False))


# --- tokenizer -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tok(tok_dir):
    return AutoTokenizer.from_pretrained(str(tok_dir))


def test_tokenizer_non_str_text(tok):
    for bad in (5, None, b"bytes", ["ok", 3], {"a": 1}):
        _raises(TypeError, "text", lambda: tok(bad))


def test_tokenizer_non_str_text_pair(tok):
    for bad in (5, ["ok", 3], b"x"):
        _raises(TypeError, "text_pair", lambda: tok(["a", "b"], bad))


def test_tokenizer_text_pair_length_mismatch(tok):
    _raises(ValueError, ["text_pair", "1", "2"], lambda: tok(["a", "b"], ["c"]))
    _raises(ValueError, ["text_pair", "2", "1"], lambda: tok("a", ["c", "d"]))


def test_tokenizer_bad_padding(tok):
    for bad in ("both", "left", 2, None):
        _raises(ValueError, "padding", lambda: tok(["a"], padding=bad))


def test_tokenizer_bad_truncation(tok):
    for bad in ("longest", 2, None):
        _raises(ValueError, "truncation", lambda: tok(["a"], truncation=bad))


def test_tokenizer_bad_max_length(tok):
    for bad in (0, -3, "8", 2.5, True):
        _raises(ValueError, "max_length",
                lambda: tok(["a"], truncation=True, padding="max_length", max_length=bad))
        _raises(ValueError, "max_length", lambda: tok(["a"], padding="max_length", max_length=bad))
    for bad in (0, -2, 1.5):
        _raises(ValueError, "pad_to_multiple_of",
                lambda: tok(["a"], padding=True, pad_to_multiple_of=bad))


def test_tokenizer_unknown_return_tensors(tok):
    for bad in ("jax", "TF", 1):
        _raises(ValueError, "return_tensors", lambda: tok(["a"], return_tensors=bad))


# --- numerics ------------------------------------------------------------------------------------
def test_padded_mask_finite_under_mixed_bfloat16():
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        tf.random.set_seed(4)
        model = TFRobertaModel(tiny_config(max_position_embeddings=MAX_POS))
        emb = tf.cast(np.random.default_rng(0).normal(size=(2, 6, 32)), tf.bfloat16)
        mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], np.int32)
        out = model(inputs_embeds=emb, attention_mask=mask, output_attentions=True)
        assert np.isfinite(tf.cast(out.last_hidden_state, tf.float32).numpy()).all()
        for att in out.attentions:
            a = tf.cast(att, tf.float32).numpy()
            assert np.isfinite(a).all()
            assert np.all(a[0, :, :, 4:] == 0) and np.all(a[1, :, :, 2:] == 0)
            np.testing.assert_allclose(a.sum(-1), 1.0, atol=2e-2)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("policy,dtype", [("mixed_float16", tf.float16),
                                          ("mixed_bfloat16", tf.bfloat16)])
def test_attention_low_precision_finite_and_fully_masked_row_uniform(policy, dtype):
    try:
        keras.mixed_precision.set_global_policy(policy)
        tf.random.set_seed(5)
        attn = RobertaAttention(tiny_config(), "blocks.0.attn")
        x = tf.cast(np.random.default_rng(0).normal(size=(2, 5, 32)) * 30, dtype)
        keep = np.ones((2, 1, 1, 5), bool)
        keep[0, ..., 3:] = False
        keep[1] = False  # a fully masked row
        out, pattern, _ = attn(x, x, tf.constant(keep))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == dtype  # (the softmax itself runs in float32 by design)
    p = tf.cast(pattern, tf.float32).numpy()
    assert np.isfinite(tf.cast(out, tf.float32).numpy()).all() and np.isfinite(p).all()
    assert np.all(p[0, ..., 3:] == 0)
    np.testing.assert_allclose(p[0].sum(-1), 1.0, atol=1e-2)
    np.testing.assert_allclose(p[1], 0.2, atol=1e-3)  # uniform over 5 keys, not NaN


def test_repeated_calls_are_bit_identical(mlm, dec):
    ids = random_ids(3, 7, seed=9)
    mask = np.ones_like(ids)
    mask[0, 5:] = 0
    a = mlm(ids, attention_mask=mask).logits.numpy()
    b = mlm(ids, attention_mask=mask).logits.numpy()
    assert np.array_equal(a, b)
    fn = tf.function(lambda i, m: dec(i, attention_mask=m).logits)
    c, d = fn(ids, mask).numpy(), fn(ids, mask).numpy()
    assert np.array_equal(c, d)


def test_bfloat16_mode_padded_mask_finite_and_low_precision_inputs_accepted(cross):
    model = TFRobertaModel(tiny_config(max_position_embeddings=MAX_POS))
    model.set_compute_dtype("bfloat16")
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], np.int32)
    out = model(IDS, attention_mask=mask, output_attentions=True)
    assert np.isfinite(tf.cast(out.last_hidden_state, tf.float32).numpy()).all()
    for att in out.attentions:
        a = tf.cast(att, tf.float32).numpy()
        assert np.isfinite(a).all() and np.all(a[0, :, :, 3:] == 0) and np.all(a[1, :, :, 1:] == 0)
    emb = tf.cast(np.random.default_rng(1).normal(size=(2, 5, 32)), tf.float16)
    assert np.isfinite(model(inputs_embeds=emb, attention_mask=mask).last_hidden_state.numpy()).all()
    states = tf.cast(np.zeros((2, 3, 32)), tf.bfloat16)
    assert np.isfinite(cross(IDS, encoder_hidden_states=states).logits.numpy()).all()
