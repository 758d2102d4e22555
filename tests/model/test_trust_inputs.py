"""Trust under misuse, inputs: integer inputs are range-checked in their own dtype before any
cast (eagerly, under tf.function, under XLA), 0/1 masks in every mode, engine arguments named.

Each case here failed (silently, or with a traceback naming nothing) before issue 15."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM

MAX_POS = 16
WRAP = 2**32  # real_id + 2**32 wraps to real_id in int32


@pytest.fixture(scope="module")
def mlm():
    tf.random.set_seed(11)
    return TFRobertaForMaskedLM(tiny_config(max_position_embeddings=MAX_POS))


@pytest.fixture(scope="module")
def dec():
    tf.random.set_seed(12)
    return TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=MAX_POS))


IDS = random_ids(2, 5)


def _wrapped(dtype, row=1):
    """IDS in ``dtype`` with one entry of ``row`` replaced by an id + 2**32 (same int32 bits)."""
    ids = IDS.astype(dtype)
    ids[row, 2] = ids[row, 2] + WRAP
    return ids


# --- kind: wide integers are checked before the cast -----------------------------------------
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("arg", ["input_ids", "token_type_ids", "position_ids", "labels"])
def test_wide_int_inputs_are_not_wrapped_eagerly(mlm, dtype, arg):
    bad = np.zeros_like(IDS, dtype) + (2 if arg == "position_ids" else 0)
    if arg == "input_ids":
        bad = IDS.astype(dtype)
    bad[1, 2] += WRAP
    kwargs = {} if arg == "input_ids" else {arg: bad}
    ids = bad if arg == "input_ids" else IDS
    with pytest.raises(ValueError, match=arg):
        mlm(ids, **kwargs)
    with pytest.raises(ValueError, match=arg):
        mlm(tf.constant(ids), **{k: tf.constant(x) for k, x in kwargs.items()})


@pytest.mark.parametrize("dtype", [tf.int64, tf.uint64, tf.uint32])
def test_wide_int_ids_under_tf_function_raise(mlm, dtype):
    if dtype == tf.uint32:
        ids = tf.constant(IDS.astype(np.uint32) + np.uint32(2**31), tf.uint32)
    else:
        ids = tf.constant(_wrapped(dtype.as_numpy_dtype))
    fn = tf.function(lambda x: mlm(x).logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input_ids"):
        fn(ids).numpy()


@pytest.mark.parametrize("dtype", [tf.int64, tf.uint64])
def test_wide_int_ids_under_xla_poison_only_their_row(mlm, dtype):
    fn = tf.function(lambda x: mlm(x).logits, jit_compile=True)
    out = fn(tf.constant(_wrapped(dtype.as_numpy_dtype))).numpy()
    ref = mlm(IDS).logits.numpy()
    assert np.isnan(out[1]).all()
    np.testing.assert_allclose(out[0], ref[0], atol=1e-5)


def test_wide_int_labels_under_xla_give_nan_loss(mlm):
    labels = np.full(IDS.shape, -100, np.int64)
    labels[0, 1] = 5 + WRAP
    fn = tf.function(lambda x, y: mlm(x, labels=y).loss, jit_compile=True)
    assert np.isnan(fn(tf.constant(IDS), tf.constant(labels)).numpy())
    fn = tf.function(lambda x, y: mlm(x, labels=y).loss)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels"):
        fn(tf.constant(IDS), tf.constant(labels)).numpy()


# --- kind: 0/1 masks in every mode ------------------------------------------------------------
SOFT = np.ones(IDS.shape, np.float32)
SOFT[1, 3] = 0.5


def test_soft_mask_refused_in_tf_function(mlm):
    fn = tf.function(lambda x, m: mlm(x, attention_mask=m).logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match="attention_mask"):
        fn(tf.constant(IDS), tf.constant(SOFT)).numpy()


def test_soft_mask_under_xla_poisons_its_row(mlm):
    fn = tf.function(lambda x, m: mlm(x, attention_mask=m).logits, jit_compile=True)
    out = fn(tf.constant(IDS), tf.constant(SOFT)).numpy()
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


def test_wide_int_mask_is_not_binary(mlm):
    mask = np.ones(IDS.shape, np.int64)
    mask[0, 1] = WRAP + 1
    with pytest.raises(ValueError, match="attention_mask"):
        mlm(IDS, attention_mask=mask)


# --- property: any integer dtype and value either gives the int32 answer or a named error ------
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=st.sampled_from(INT_DTYPES), data=st.data())
def test_property_int_inputs_exact_or_named_error(mlm, dtype, data):
    info = np.iinfo(dtype)
    vals = data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=10, max_size=10))
    ids = np.array(vals, dtype=dtype).reshape(2, 5)
    in_range = bool(((ids >= 0) & (ids < 99)).all()) if ids.dtype.kind == "u" else \
        bool(((ids.astype(np.int64) >= 0) & (ids.astype(np.int64) < 99)).all())
    if in_range:
        got = mlm(ids).logits.numpy()
        np.testing.assert_allclose(got, mlm(ids.astype(np.int32)).logits.numpy(), atol=1e-6)
    else:
        with pytest.raises(ValueError, match="input_ids"):
            mlm(ids)


# --- kind: engine arguments are integers checked in their own dtype, masks 0/1 ----------------
def _metric():
    from roberta_lab.ablation import Metric

    return Metric("loss", np.array([[1], [2]]), np.array([[5], [6]]))


def test_sweep_ids_and_masks_checked_before_cast(mlm):
    from roberta_lab.ablation import sweep

    conds = [[(0, 0)]]
    with pytest.raises(ValueError, match="input_ids"):
        sweep(mlm, _wrapped(np.int64), None, _metric(), conds, progress=False)
    with pytest.raises(ValueError, match="attention_mask"):
        sweep(mlm, IDS, SOFT, _metric(), conds, progress=False)


@pytest.mark.parametrize("field,value", [("positions", [[1], [2 + WRAP]]),
                                         ("targets", [[5], [6 + WRAP]]),
                                         ("positions", [[1], [-2]]),
                                         ("positions", [[1.0], [2.0]])])
def test_metric_fields_checked(field, value):
    from roberta_lab.ablation import Metric

    args = {"positions": [[1], [2]], "targets": [[5], [6]], field: np.array(value)}
    with pytest.raises((ValueError, TypeError), match=field):
        Metric("loss", args["positions"], args["targets"])


def test_metric_positions_and_targets_checked_against_inputs(mlm):
    from roberta_lab.ablation import Metric, sweep

    for positions, targets, name in (([[1], [5]], [[5], [6]], "positions"),
                                     ([[1], [2]], [[5], [99]], "targets")):
        with pytest.raises(ValueError, match=name):
            sweep(mlm, IDS, None, Metric("loss", positions, targets), [[(0, 0)]], progress=False)


@pytest.mark.parametrize("kwargs,name", [({"chunk_size": 0}, "chunk_size"),
                                         ({"chunk_size": -3}, "chunk_size"),
                                         ({"chunk_size": 2.5}, "chunk_size"),
                                         ({"memory_mb": 0}, "memory_mb"),
                                         ({"labels": ["a", "b"]}, "labels")])
def test_sweep_arguments_named(mlm, kwargs, name):
    from roberta_lab.ablation import sweep

    with pytest.raises((ValueError, TypeError), match=name):
        sweep(mlm, IDS, None, _metric(), [[(0, 0)], [(1, 1)], [(0, 1)]], progress=False, **kwargs)


@pytest.mark.parametrize("conditions", [[], [[(0.0, 1)]], [[(True, 1)]], [[(0, 1, 2)]], "L0H0"])
def test_sweep_conditions_named(mlm, conditions):
    from roberta_lab.ablation import sweep

    with pytest.raises((ValueError, TypeError), match="conditions"):
        sweep(mlm, IDS, None, _metric(), conditions, progress=False)


def test_sweep_means_checked(mlm):
    from roberta_lab.ablation import sweep

    means = np.full((2, 4, 8), np.nan, np.float32)
    with pytest.raises(ValueError, match="means"):
        sweep(mlm, IDS, None, _metric(), [[(0, 0)]], method="mean", means=means, progress=False)


def test_masked_lm_metric_labels_checked():
    from roberta_lab.ablation import masked_lm_metric

    labels = np.full((2, 4), -100, np.int64)
    labels[:, 1] = 3
    labels[1, 2] = 3 + WRAP
    with pytest.raises(ValueError, match="labels"):
        masked_lm_metric(labels)


@pytest.mark.parametrize("kwargs,name", [({"seed": 2**32 + 7}, "seed"), ({"seed": -1}, "seed"),
                                         ({"temperature": float("nan")}, "temperature"),
                                         ({"temperature": float("inf")}, "temperature"),
                                         ({"temperature": "hot"}, "temperature"),
                                         ({"top_k": 0}, "top_k"), ({"top_k": -2}, "top_k"),
                                         ({"top_p": float("nan")}, "top_p"),
                                         ({"top_p": 1.5}, "top_p"),
                                         ({"eos_token_id": 99}, "eos_token_id"),
                                         ({"max_new_tokens": 0}, "max_new_tokens")])
def test_generation_arguments_named(dec, kwargs, name):
    from roberta_lab.generation import generate

    args = dict(max_new_tokens=3, do_sample=True, compiled=False)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        generate(dec, IDS[:1], **args)


def test_generation_ids_and_mask_checked_before_cast(dec):
    from roberta_lab.generation import generate

    with pytest.raises(ValueError, match="input_ids"):
        generate(dec, _wrapped(np.int64)[1:], max_new_tokens=2, compiled=False)
    with pytest.raises(ValueError, match="attention_mask"):
        generate(dec, IDS, SOFT, max_new_tokens=2, compiled=False)


def test_tiny_temperature_is_greedy_not_nan(dec):
    from roberta_lab.generation import generate

    greedy = generate(dec, IDS[:1], max_new_tokens=4, compiled=False)
    for t in (1e-30, 1e-45):
        out = generate(dec, IDS[:1], max_new_tokens=4, do_sample=True, temperature=t, seed=3,
                       compiled=False)
        np.testing.assert_array_equal(out, greedy)


def test_mask_random_tokens_checks(mlm):
    from roberta_lab.ablation import mask_random_tokens

    with pytest.raises(ValueError, match="attention_mask"):
        mask_random_tokens(IDS, SOFT, [0, 2], 4)
    with pytest.raises(ValueError, match="rate"):
        mask_random_tokens(IDS, np.ones_like(IDS), [0, 2], 4, rate=0.0)
    with pytest.raises(ValueError, match="seed"):
        mask_random_tokens(IDS, np.ones_like(IDS), [0, 2], 4, seed=-5)


# --- kind: losses over all-ignored labels are defined ----------------------------------------
def test_all_ignored_labels_zero_loss_and_gradient(mlm):
    labels = np.full(IDS.shape, -100)
    with tf.GradientTape() as tape:
        loss = mlm(IDS, labels=labels, training=False).loss
    grads = tape.gradient(loss, mlm.trainable_variables)
    assert float(loss) == 0.0
    assert all(g is None or not np.any(np.asarray(tf.convert_to_tensor(g))) for g in grads)


def test_fit_on_all_ignored_batch_keeps_weights_finite():
    import keras

    tf.random.set_seed(5)
    model = TFRobertaForMaskedLM(tiny_config(max_position_embeddings=MAX_POS))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    labels = np.full(IDS.shape, -100)
    labels[0, 1] = 4
    x = {"input_ids": np.concatenate([IDS, IDS]), "labels": np.concatenate(
        [labels, np.full(IDS.shape, -100)])}
    hist = model.fit(x, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert all(np.isfinite(v) for v in hist.history["loss"])
    assert all(np.isfinite(w.numpy()).all() for w in model.trainable_variables)


# --- kind: other engines and widgets name their arguments -------------------------------------
def test_lens_positions_and_targets_never_wrap(mlm):
    from roberta_lab.engine.lens import logit_lens

    for kwargs, name in (({"positions": [5]}, "positions"), ({"positions": [-6]}, "positions"),
                         ({"positions": [1.5]}, "positions"),
                         ({"positions": [1], "target_ids": 99}, "target_ids"),
                         ({"positions": [1], "target_ids": 5 + WRAP}, "target_ids"),
                         ({"positions": [1], "k": 0}, "k")):
        with pytest.raises((ValueError, TypeError), match=name):
            logit_lens(mlm, IDS, **kwargs)
    with pytest.raises(ValueError, match="input_ids"):
        logit_lens(mlm, _wrapped(np.int64), positions=[1])


def test_patching_arguments_named(mlm):
    from roberta_lab.engine.patching import logit_diff, run_conditions

    with pytest.raises(ValueError, match="chunk_size"):
        run_conditions(mlm, IDS[:1], IDS[1:], [], logit_diff(3, 4), chunk_size=0)
    for args, name in (((-1, 4), "correct_id"), ((3, 4.5), "wrong_id"),
                       ((3, 2**40), "wrong_id")):
        with pytest.raises((ValueError, TypeError), match=name):
            logit_diff(*args)


@pytest.mark.parametrize("top_k", [0, -3, True, 2.5, 10**9])
def test_widget_top_k_named(top_k):
    from roberta_lab.views.widgets._common import MAX_TOP_K, WidgetInputError, int_argument

    with pytest.raises(WidgetInputError, match="top_k"):
        int_argument("top_k", top_k, 1, MAX_TOP_K)


def test_fill_mask_top_k_bool_refused(mlm):
    from roberta_lab.engine.fill_mask import fill_mask

    class Tok:
        mask_token = "<mask>"

    with pytest.raises(ValueError, match="top_k"):
        fill_mask(mlm, Tok(), "a <mask>", top_k=True)


@pytest.mark.parametrize("kwargs,name", [({"top_k": -3}, "top_k"), ({"top_k": 10**6}, "top_k"),
                                         ({"mask_rate": 0.0}, "mask_rate"),
                                         ({"seed": -1}, "seed")])
def test_widget_controller_arguments_named(mlm, kwargs, name):
    from roberta_lab.views.widgets._common import WidgetInputError
    from roberta_lab.views.widgets.ablation_controller import HeadAblationController

    with pytest.raises(WidgetInputError, match=name):
        HeadAblationController(mlm, None, **kwargs)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_importance_batch_size_named(mlm, batch_size):
    from roberta_lab.engine.importance import michel_importance

    with pytest.raises((ValueError, TypeError), match="batch_size"):
        michel_importance(mlm, IDS, None, _metric(), batch_size=batch_size)


def test_metric_position_on_padding_refused(mlm):
    from roberta_lab.ablation import sweep

    mask = np.ones_like(IDS)
    mask[1, 2:] = 0
    with pytest.raises(ValueError, match="padding"):
        sweep(mlm, IDS, mask, _metric().__class__("loss", [[1], [3]], [[5], [6]]), [[(0, 0)]],
              progress=False)
