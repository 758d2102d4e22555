"""Property-based misuse (hypothesis): random dtypes and values for every integer and mask input
(eagerly and under tf.function), random corruptions of model files. The property each time: the
exact answer of the well-formed call, or an error that names the argument or the file - never a
different number, never another kind of exception."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import random_ids, tiny_config
from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, TFRobertaModel

IDS = random_ids(2, 4)
LIMITS = {"input_ids": 99, "token_type_ids": 16, "position_ids": 16, "labels": 99}
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
SETTINGS = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def mlm():
    tf.random.set_seed(41)
    return TFRobertaForMaskedLM(tiny_config(max_position_embeddings=16))


def _valid(name, arr):
    wide = arr.astype(object)
    ok = (wide >= 0) & (wide < LIMITS[name])
    if name == "labels":
        ok |= wide == -100
    return bool(ok.all())


def _call(model, name, arr):
    if name == "input_ids":
        return model(arr).logits.numpy()
    out = model(IDS, **{name: arr})
    return (out.loss if name == "labels" else out.logits).numpy()


@SETTINGS
@given(name=st.sampled_from(sorted(LIMITS)), dtype=st.sampled_from(INT_DTYPES), data=st.data())
def test_every_int_input_exact_or_named(mlm, name, dtype, data):
    info = np.iinfo(dtype)
    special = [0, 1, 15, 98, 99, 100, -1, -100, 2**31, 2**32 + 3, -(2**32) + 3, int(info.max),
               int(info.min)]
    values = st.one_of(st.integers(int(info.min), int(info.max)),
                       st.sampled_from([v for v in special if info.min <= v <= info.max]))
    arr = np.array(data.draw(st.lists(values, min_size=8, max_size=8)), dtype).reshape(2, 4)
    if _valid(name, arr):
        got = _call(mlm, name, arr)
        np.testing.assert_array_equal(got, _call(mlm, name, arr.astype(np.int32)))
    else:
        with pytest.raises(ValueError, match=name):
            _call(mlm, name, arr)


@SETTINGS
@given(name=st.sampled_from(sorted(LIMITS)),
       dtype=st.sampled_from([np.float16, np.float32, np.float64, np.bool_]))
def test_int_inputs_refuse_floats_and_bools(mlm, name, dtype):
    with pytest.raises(TypeError, match=name):
        _call(mlm, name, np.ones((2, 4), dtype))


@SETTINGS
@given(dtype=st.sampled_from([np.bool_, np.int8, np.int64, np.uint64, np.float16, np.float32,
                              np.float64]),
       values=st.lists(st.sampled_from([0, 1, 1, 1, 0.5, 2, -1, float("nan"), 2**32 + 1]),
                       min_size=8, max_size=8))
def test_attention_mask_binary_or_named(mlm, dtype, values):
    raw = np.array(values, np.float64).reshape(2, 4)
    raw[:, 0] = 1
    if dtype is np.bool_:
        arr = raw != 0
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            arr = raw.astype(dtype)
    binary = np.isin(arr.astype(np.float64), [0.0, 1.0]).all()
    if binary:
        np.testing.assert_array_equal(mlm(IDS, attention_mask=arr).logits.numpy(),
                                      mlm(IDS, attention_mask=arr.astype(np.int32)).logits.numpy())
    else:
        with pytest.raises(ValueError, match="attention_mask"):
            mlm(IDS, attention_mask=arr)


@settings(max_examples=12, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.integers(0, 98), st.integers(-(2**63), 2**63 - 1)),
                       min_size=8, max_size=8))
def test_int64_ids_in_tf_function_exact_or_refused(mlm, values):
    fn = _graph_fn(mlm)
    arr = np.array(values, np.int64).reshape(2, 4)
    if ((arr >= 0) & (arr < 99)).all():
        np.testing.assert_allclose(fn(tf.constant(arr)).numpy(),
                                   mlm(arr.astype(np.int32)).logits.numpy(), atol=1e-5)
    else:
        with pytest.raises(tf.errors.InvalidArgumentError, match="input_ids"):
            fn(tf.constant(arr)).numpy()


_FN = {}


def _graph_fn(model):
    if id(model) not in _FN:
        _FN[id(model)] = tf.function(lambda x: model(x).logits,
                                     input_signature=[tf.TensorSpec([2, 4], tf.int64)])
    return _FN[id(model)]


# --- corrupted files: loading works, or the error names the file ------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tf.random.set_seed(42)
    folder = tmp_path_factory.mktemp("props") / "m"
    TFRobertaModel(tiny_config(num_hidden_layers=1)).save_pretrained(folder)
    return folder


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["config.json", "model.safetensors"]), data=st.data())
def test_corrupted_files_name_the_file(saved, tmp_path_factory, which, data):
    folder = tmp_path_factory.mktemp("corrupt")
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((saved / name).read_bytes())
    raw = bytearray((folder / which).read_bytes())
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "truncate":
        raw = raw[:at]
    elif kind == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    (folder / which).write_bytes(bytes(raw))
    try:
        TFRobertaModel.from_pretrained(folder)
    except (ValueError, TypeError, OSError) as err:
        assert which in str(err), err


@SETTINGS
@given(field=st.sampled_from(sorted(RobertaConfig().to_dict())),
       value=st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                       st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
                       st.lists(st.integers(), max_size=2)))
def test_config_field_values_accepted_or_named(tmp_path_factory, field, value):
    data = tiny_config().to_dict()
    data[field] = value
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.json").write_text(json.dumps(data))
    try:
        cfg = RobertaConfig.from_pretrained(folder)
    except (ValueError, TypeError) as err:
        assert field in str(err) and "config.json" in str(err), err
    else:
        assert getattr(cfg, field) == value or (value != value)  # kept as given (NaN != NaN)
