"""Keras habits on every model class, each one a reproduction of a failure users met:
metrics in compile(), labels as y or {"labels": y}, functional wrapping on keras.Input,
.keras and SavedModel files with a serving signature, mixed-precision policies, embeddings
called on ids alone; and HF's from_config / get_output_embeddings / get_bias."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import max_diff, random_ids, tiny_config
from model_zoo import ALL_CLASSES, config_for, ids_name, inputs_for, labels_for, main_output
from roberta_lab import (RobertaConfig, TFRobertaForMaskedLM, TFRobertaForSequenceClassification,
                         TFRobertaForTokenClassification, TFRobertaModel)


def _accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, -1) == labels))


@pytest.mark.parametrize("how", ["labels_in_x", "y", "y_dict"])
def test_compile_metrics_with_labels_anywhere(how):
    """Was: ValueError 'None values not supported' (labels in x) / TypeError ({"labels": y})."""
    model = TFRobertaForSequenceClassification(config_for(TFRobertaForSequenceClassification))
    model.compile(keras.optimizers.SGD(0.0), metrics=["sparse_categorical_accuracy"])
    x = inputs_for(TFRobertaForSequenceClassification)
    y = labels_for(TFRobertaForSequenceClassification)["labels"]
    args = {"labels_in_x": ({**x, "labels": y},), "y": (x, y), "y_dict": (x, {"labels": y})}[how]
    history = model.fit(*args, batch_size=13, epochs=1, verbose=0)
    result = model.evaluate(*args, batch_size=13, verbose=0, return_dict=True)
    out = model(x, labels=y)
    assert abs(result["loss"] - float(out.loss)) < 1e-5
    assert abs(result["sparse_categorical_accuracy"] - _accuracy(out.logits.numpy(), y)) < 1e-6
    assert set(history.history) == {"loss", "sparse_categorical_accuracy"}


def test_masked_lm_fit_with_metrics_and_training_moves_the_loss():
    """The issue's exact call: labels inside x, metrics in compile()."""
    model = TFRobertaForMaskedLM(tiny_config(hidden_dropout_prob=0.0,
                                             attention_probs_dropout_prob=0.0))
    ids = random_ids()
    model.compile(keras.optimizers.Adam(1e-2), metrics=["sparse_categorical_accuracy"])
    before = float(model({"input_ids": ids, "labels": ids}).loss)
    history = model.fit({"input_ids": ids, "labels": ids}, epochs=3, batch_size=13, verbose=0)
    assert history.history["loss"][0] == pytest.approx(before, abs=1e-5)
    assert float(model({"input_ids": ids, "labels": ids}).loss) < before


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=ids_name)
def test_functional_api_on_keras_input(cls):
    """Was: 'All operation outputs must be tensors ... Non-tensor received: None'."""
    model = cls(config_for(cls))
    rank = 3 if "MultipleChoice" in cls.__name__ else 2
    inp = keras.Input((None,) * (rank - 1), dtype="int32")
    out = model(inp)
    wrapped = keras.Model(inp, out[main_output(cls)])
    ids = inputs_for(cls)["input_ids"]
    assert max_diff(wrapped(ids), model(ids)[main_output(cls)]) < 1e-6
    whole = keras.Model(inp, out)  # the output object itself, absent fields and all
    assert max_diff(whole(ids)[main_output(cls)], model(ids)[main_output(cls)]) < 1e-6


def test_functional_classifier_on_the_encoder_trains():
    """The usual way to put a new head on a pretrained encoder."""
    encoder = TFRobertaModel(tiny_config())
    ids_in = keras.Input((None,), dtype="int32", name="input_ids")
    mask_in = keras.Input((None,), dtype="int32", name="attention_mask")
    hidden = encoder({"input_ids": ids_in, "attention_mask": mask_in}).last_hidden_state
    logits = keras.layers.Dense(2)(hidden[:, 0])
    clf = keras.Model([ids_in, mask_in], logits)
    clf.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    x = inputs_for(TFRobertaModel)
    before = [w.numpy().copy() for w in encoder.trainable_weights[:1]]
    clf.fit([x["input_ids"], x["attention_mask"]], np.arange(13) % 2, epochs=1, verbose=0)
    assert not np.array_equal(before[0], encoder.trainable_weights[0].numpy())


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=ids_name)
def test_keras_file_round_trip(cls, tmp_path):
    model = cls(config_for(cls, num_labels=2 if "Question" in cls.__name__ else 4))
    x = inputs_for(cls)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is cls and loaded.config == model.config
    assert max_diff(loaded(x)[main_output(cls)], model(x)[main_output(cls)]) == 0.0


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=ids_name)
def test_saved_model_serving_signature(cls, tmp_path):
    model = cls(config_for(cls))
    x = inputs_for(cls, batch=3)
    tf.saved_model.save(model, str(tmp_path / "sm"), signatures=model.serving)
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    got = serve(**{k: tf.constant(v) for k, v in x.items()})
    want = model(x)
    assert set(got) == {k for k, v in want.items() if isinstance(v, tf.Tensor)}
    for key, value in got.items():
        assert max_diff(value, want[key]) < 1e-5, key


def test_mixed_precision_policy_is_honoured():
    """Was: a mixed_bfloat16 policy silently gave float32's bits."""
    cfg = config_for(TFRobertaForTokenClassification)
    x = inputs_for(TFRobertaForTokenClassification)
    ref = TFRobertaForTokenClassification(cfg)
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        mixed = TFRobertaForTokenClassification(cfg)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(ref.get_weights())
    out_mixed = mixed(x).logits
    assert out_mixed.dtype == tf.float32  # outputs (and softmax, LayerNorm, loss) in float32
    assert max_diff(out_mixed, ref(x).logits) > 0  # the matmuls really ran in bfloat16
    ref.set_compute_dtype("bfloat16")  # the model's own bfloat16 mode: the same numbers
    assert max_diff(out_mixed, ref(x).logits) == 0.0
    assert float(mixed(x, labels=labels_for(TFRobertaForTokenClassification)["labels"]).loss) > 0


def test_unsupported_dtype_policies_are_refused():
    try:
        keras.mixed_precision.set_global_policy("bfloat16")
        with pytest.raises(ValueError, match="mixed_bfloat16"):
            TFRobertaModel(tiny_config())
    finally:
        keras.mixed_precision.set_global_policy("float32")
    with pytest.raises(ValueError, match="set_global_policy"):
        TFRobertaModel(tiny_config(), dtype="mixed_float16")


def test_input_embeddings_accept_ids_alone():
    """Was: TypeError, missing position_ids. Padding-aware positions, token types 0."""
    model = TFRobertaForMaskedLM(tiny_config())
    ids = random_ids()
    ids[:4, -3:] = 1
    _, cache = model.run_with_cache(ids, names_filter="hook_full_embed")
    assert max_diff(model.get_input_embeddings()(ids), cache["hook_full_embed"]) < 1e-6
    assert max_diff(model.get_input_embeddings()(ids.astype(np.int64)),
                    cache["hook_full_embed"]) < 1e-6


def test_from_config_and_embedding_accessors():
    cfg = tiny_config(num_labels=3)
    for source in (cfg, cfg.to_dict(), TFRobertaModel(cfg).get_config()):
        model = TFRobertaForSequenceClassification.from_config(source)
        assert model.config == cfg and model.config.num_labels == 3
    bare = TFRobertaModel(cfg)
    assert bare.get_output_embeddings() is None and bare.get_bias() is None
    assert TFRobertaForSequenceClassification(cfg).get_output_embeddings() is None
    mlm = TFRobertaForMaskedLM(cfg)
    assert mlm.get_output_embeddings() is mlm.lm_head
    assert mlm.get_bias()["bias"] is mlm.lm_head.bias
    assert RobertaConfig().is_encoder_decoder is False
    with pytest.raises(TypeError, match="RobertaConfig or a dict"):
        TFRobertaModel.from_config("roberta-base")
