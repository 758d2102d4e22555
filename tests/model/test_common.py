"""Common checks for all seven classes, after HF's TFModelTesterMixin (transformers 4.37
tests/test_modeling_tf_common.py) and HF PyTorch's test_headmasking, in a shared-TestCase style:
``CommonModelTests`` holds the checks, one subclass per model class runs them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import hf_model, max_diff, torch_inputs
from model_zoo import (BATCH, CHOICES, HF_NAMES, SEQ, config_for, inputs_for, labels_for,
                       main_output)
from roberta_lab import (TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaForMultipleChoice,
                         TFRobertaForQuestionAnswering, TFRobertaForSequenceClassification,
                         TFRobertaForTokenClassification, TFRobertaModel)

TOL = 1e-5
L, H, D = 2, 4, 32
HF_KIND = {TFRobertaModel: "model", TFRobertaForMaskedLM: "mlm", TFRobertaForCausalLM: "causal",
           TFRobertaForSequenceClassification: "seqcls", TFRobertaForTokenClassification: "tokcls",
           TFRobertaForQuestionAnswering: "qa", TFRobertaForMultipleChoice: "mc"}


class CommonModelTests:
    model_class: type = None  # set by each subclass

    # --- helpers ------------------------------------------------------------------------------
    def make(self, **cfg):
        return self.model_class(config_for(self.model_class, **cfg))

    def inputs(self, batch=BATCH):
        return inputs_for(self.model_class, batch)

    def labels(self, batch=BATCH):
        return labels_for(self.model_class, batch)

    @property
    def rows(self):  # sequences the trunk runs (batch x choices for multiple choice)
        return BATCH * (CHOICES if self.model_class is TFRobertaForMultipleChoice else 1)

    # --- outputs ------------------------------------------------------------------------------
    def test_attention_outputs(self):
        model = self.make()
        x = self.inputs()
        for out in (model(x, output_attentions=True),
                    self.make(output_attentions=True)(x)):
            assert len(out.attentions) == L
            assert all(a.shape == (self.rows, H, SEQ, SEQ) for a in out.attentions)
            assert out.hidden_states is None
        plain = model(x, output_attentions=True, return_dict=False)
        both = model(x, output_attentions=True, output_hidden_states=True, return_dict=False)
        assert len(both) == len(plain) + 1  # hidden states come in, attentions stay last
        assert all(max_diff(a, b) == 0 for a, b in zip(both[-1], plain[-1]))

    def test_hidden_states_output(self):
        x = self.inputs()
        for out in (self.make()(x, output_hidden_states=True),
                    self.make(output_hidden_states=True)(x)):
            assert len(out.hidden_states) == L + 1
            assert all(h.shape == (self.rows, SEQ, D) for h in out.hidden_states)

    def test_keyword_dict_list_and_numpy_inputs(self):
        model = self.make()
        x = self.inputs()
        name = main_output(self.model_class)
        ref = model(**x)[name]
        assert max_diff(model(x)[name], ref) < 1e-6
        assert max_diff(model([x["input_ids"], x["attention_mask"], x["token_type_ids"]])[name],
                        ref) < 1e-6
        assert max_diff(model({k: tf.constant(v.astype(np.int64)) for k, v in x.items()})[name],
                        ref) < 1e-6

    def test_determinism_and_tuple_equivalence(self):
        model = self.make()
        x, y = self.inputs(), self.labels()
        first = model(x, **y, output_hidden_states=True, output_attentions=True)
        second = model(x, **y, output_hidden_states=True, output_attentions=True)
        tup = model(x, **y, output_hidden_states=True, output_attentions=True, return_dict=False)
        assert list(first.keys())[: len(tup)] == list(first.keys())
        for a, b, c in zip(first.to_tuple(), second.to_tuple(), tup):
            for aa, bb, cc in zip(tf.nest.flatten(a), tf.nest.flatten(b), tf.nest.flatten(c)):
                assert max_diff(aa, bb) == 0 and max_diff(aa, cc) == 0

    def test_common_attributes(self):
        model = self.make()
        assert isinstance(model.get_input_embeddings(), keras.layers.Layer)
        if self.model_class in (TFRobertaForMaskedLM, TFRobertaForCausalLM):
            assert isinstance(model.get_output_embeddings(), keras.layers.Layer)
            assert all(isinstance(v, keras.Variable) for v in model.get_bias().values())
        else:
            assert model.get_output_embeddings() is None and model.get_bias() is None

    def test_inputs_embeds(self):
        model = self.make()
        x = self.inputs()
        ids = x.pop("input_ids")  # no pad ids in the fixture: embeds and ids agree
        emb = model.get_input_embeddings().word_embeddings.numpy()[ids]
        name = main_output(self.model_class)
        assert max_diff(model(None, inputs_embeds=emb, **x)[name],
                        model(ids, **x)[name]) < 1e-5
        full = model.get_input_embeddings()(ids.reshape(-1, SEQ))  # HF's test feeds this: runs
        assert full.shape == (self.rows, SEQ, D)

    # --- saving -------------------------------------------------------------------------------
    def test_save_load(self, tmp_path):
        model = self.make()
        x = self.inputs()
        model.save_pretrained(tmp_path / "m")
        assert (tmp_path / "m" / "config.json").exists()
        loaded, info = self.model_class.from_pretrained(tmp_path / "m", output_loading_info=True)
        assert info["missing_keys"] == [] and info["unexpected_keys"] == []
        name = main_output(self.model_class)
        assert max_diff(loaded(x)[name], model(x)[name]) < TOL
        again = self.model_class.from_config(model.get_config())
        again.set_weights(model.get_weights())
        assert max_diff(again(x)[name], model(x)[name]) < TOL

    # --- losses and training ------------------------------------------------------------------
    def test_loss_computation(self):
        if self.model_class is TFRobertaModel:
            pytest.skip("the bare model has no loss")
        model = self.make()
        x, y = self.inputs(), self.labels()
        loss = model(x, **y).loss
        assert loss.shape == () and np.isfinite(float(loss))
        assert float(model({**x, **y}).loss) == pytest.approx(float(loss), abs=1e-6)
        signature = model.signature
        positional = [x.get(n, y.get(n)) for n in signature[: max(signature.index(k)
                                                                      for k in y) + 1]]
        assert float(model(positional).loss) == pytest.approx(float(loss), abs=1e-6)
        if "labels" in y and np.ndim(y["labels"]) == 2:  # token labels: -100 is not scored
            part = y["labels"].copy()
            part[0] = -100
            assert np.isfinite(float(model(x, labels=part).loss))

    def test_compile_and_fit(self):
        if self.model_class is TFRobertaModel:
            pytest.skip("the bare model has no loss")
        model = self.make(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        x, y = self.inputs(), self.labels()
        metrics = [] if self.model_class is TFRobertaForQuestionAnswering else \
            ["sparse_categorical_accuracy"]
        model.compile(keras.optimizers.SGD(0.0), metrics=metrics)
        inside = model.fit({**x, **y}, validation_data=({**x, **y},), batch_size=BATCH,
                           epochs=1, verbose=0).history
        separate = model.fit(x, y if len(y) > 1 else next(iter(y.values())),
                             validation_data=(x, y), batch_size=BATCH, epochs=1,
                             verbose=0).history
        assert inside.keys() == separate.keys()
        assert inside["val_loss"][0] == pytest.approx(separate["val_loss"][0], abs=1e-5)
        assert inside["val_loss"][0] == pytest.approx(float(model(x, **y).loss), abs=1e-5)
        model.compile(keras.optimizers.Adam(1e-2))
        before = float(model(x, **y).loss)
        model.fit({**x, **y}, batch_size=BATCH, epochs=3, verbose=0)
        assert float(model(x, **y).loss) < before

    # --- head masking (HF PyTorch test_headmasking) -------------------------------------------
    def test_headmasking_with_gradients(self):
        model = self.make()
        x = self.inputs()
        base = np.ones((L, H), np.float32)
        base[0, 0] = 0.0
        base[-1, :-1] = 0.0
        batch = x["input_ids"].shape[0]
        for hm in (base, np.broadcast_to(base, (batch, L, H)).copy()):
            var = tf.Variable(hm)
            with tf.GradientTape() as tape:
                out = model(x, head_mask=var, output_attentions=True)
                total = tf.reduce_sum(out[main_output(self.model_class)])
            grad = tape.gradient(total, var)
            assert grad is not None and grad.shape == hm.shape
            assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0
            att = out.attentions
            assert float(tf.reduce_sum(att[0][:, 0])) == 0.0
            assert float(tf.reduce_sum(att[0][:, -1])) != 0.0
            assert float(tf.reduce_sum(att[-1][:, -2])) == 0.0
            assert float(tf.reduce_sum(att[-1][:, -1])) != 0.0
        one = model(x, head_mask=np.array([0, 1, 1, 1], np.float32), output_attentions=True)
        assert all(float(tf.reduce_sum(a[:, 0])) == 0.0 for a in one.attentions)

    # --- HF PyTorch equivalence, both ways ----------------------------------------------------
    def _compare(self, ours, ref):
        for key, value in ours.items():
            if key == "past_key_values":
                continue
            want = getattr(ref, key)
            if isinstance(value, (tuple, list)):
                assert len(value) == len(want), key
                for a, b in zip(value, want):
                    assert max_diff(a, b) < TOL, key
            else:
                assert max_diff(value, want) < TOL, f"{key}: {max_diff(value, want)}"

    def _run_both(self, ours, ref):
        import torch

        x, y = self.inputs(), self.labels()
        with torch.no_grad():
            r = ref(**torch_inputs(**x, **y), output_hidden_states=True, output_attentions=True)
        o = ours(x, **y, output_hidden_states=True, output_attentions=True)
        self._compare(o, r)

    def test_pt_to_tf_equivalence(self, tmp_path):
        pytest.importorskip("torch")
        ref = hf_model(HF_KIND[self.model_class], config_for(self.model_class))
        ref.save_pretrained(tmp_path / "pt")
        ours, info = self.model_class.from_pretrained(tmp_path / "pt", output_loading_info=True)
        assert info["missing_keys"] == [] and info["unexpected_keys"] == []
        self._run_both(ours, ref)

    def test_tf_to_pt_equivalence(self, tmp_path):
        transformers = pytest.importorskip("transformers")
        ours = self.make()
        for var in ours.trainable_variables:  # non-trivial LayerNorms and biases
            if len(var.shape) == 1:
                var.assign(var + np.random.default_rng(len(var.path)).normal(
                    0, 0.1, var.shape).astype(np.float32))
        ours.save_pretrained(tmp_path / "tf")
        cls = getattr(transformers, HF_NAMES[self.model_class.__name__])
        ref, info = cls.from_pretrained(tmp_path / "tf", output_loading_info=True,
                                        attn_implementation="eager")
        assert info["missing_keys"] == [] and info["unexpected_keys"] == []
        self._run_both(ours, ref.eval())

    # --- resizing -----------------------------------------------------------------------------
    def test_resize_embeddings(self):
        for new in (109, 89, None):
            model = self.make()
            old = model.get_input_embeddings().word_embeddings.numpy()
            model.resize_token_embeddings(new)
            size = 99 if new is None else new
            emb = model.get_input_embeddings().word_embeddings.numpy()
            assert emb.shape == (size, D) and model.config.vocab_size == size
            assert np.array_equal(emb[: min(size, 99)], old[: min(size, 99)])
            x = self.inputs()
            x["input_ids"] = np.minimum(x["input_ids"], size - 1)
            out = model(x)
            if self.model_class in (TFRobertaForMaskedLM, TFRobertaForCausalLM):
                assert out.logits.shape[-1] == size


class TestModel(CommonModelTests):
    model_class = TFRobertaModel


class TestMaskedLM(CommonModelTests):
    model_class = TFRobertaForMaskedLM


class TestCausalLM(CommonModelTests):
    model_class = TFRobertaForCausalLM


class TestSequenceClassification(CommonModelTests):
    model_class = TFRobertaForSequenceClassification


class TestTokenClassification(CommonModelTests):
    model_class = TFRobertaForTokenClassification


class TestQuestionAnswering(CommonModelTests):
    model_class = TFRobertaForQuestionAnswering


class TestMultipleChoice(CommonModelTests):
    model_class = TFRobertaForMultipleChoice
