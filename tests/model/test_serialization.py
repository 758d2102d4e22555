"""One shared TestCase (after keras-hub's ``TestCase``), applied to every layer and model class:
a shape test, a ``get_config``/``from_config`` round trip that rebuilds an equal layer
computing the same numbers with the same weights, and for models a Keras ``.keras`` save and
load. A new layer or head is covered by adding one ``Case`` to ``CASES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import (TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaForMultipleChoice,
                         TFRobertaForQuestionAnswering, TFRobertaForSequenceClassification,
                         TFRobertaForTokenClassification, TFRobertaModel)
from roberta_lab.model.attention import RobertaAttention
from roberta_lab.model.block import RobertaBlock, RobertaMLP
from roberta_lab.model.embeddings import RobertaEmbeddings
from roberta_lab.model.heads import RobertaLMHead
from roberta_lab.model.inputs import engine_inputs
from roberta_lab.model.layers import LayerNorm, Linear
from roberta_lab.model.trunk import RobertaMainLayer

CFG = tiny_config()
DEC = tiny_config(is_decoder=True)
BATCH, SEQ, D = 2, 5, CFG.hidden_size


def _x(seed: int = 0) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).normal(size=(BATCH, SEQ, D)), tf.float32)


IDS = tf.constant(random_ids(BATCH, SEQ))
POS = tf.constant(np.arange(2, 2 + SEQ, dtype=np.int32)[None].repeat(BATCH, 0))


@dataclass
class Case:
    cls: type
    kwargs: dict[str, Any]
    run: Callable[[Any], tf.Tensor]  # the layer -> one output tensor
    shape: tuple[int, ...]
    is_model: bool = False


CASES = [
    Case(Linear, dict(in_dim=D, out_dim=7, init_std=0.02), lambda l: l(_x()), (BATCH, SEQ, 7)),
    Case(LayerNorm, dict(dim=D, eps=1e-12), lambda l: l(_x()), (BATCH, SEQ, D)),
    Case(RobertaEmbeddings, dict(config=CFG),
         lambda l: l(IDS, POS, tf.zeros_like(IDS)), (BATCH, SEQ, D)),
    Case(RobertaAttention, dict(config=CFG, hook_prefix="blocks.0.attn"),
         lambda l: l(_x(), _x(), None)[0], (BATCH, SEQ, D)),
    Case(RobertaMLP, dict(config=CFG, hook_prefix="blocks.0.mlp"), lambda l: l(_x()),
         (BATCH, SEQ, D)),
    Case(RobertaBlock, dict(config=CFG, index=0), lambda l: l(_x(), None)[0], (BATCH, SEQ, D)),
    Case(RobertaLMHead, dict(config=CFG), lambda l: l(_x()), (BATCH, SEQ, CFG.vocab_size)),
    Case(RobertaMainLayer, dict(config=CFG),
         lambda l: l.call(engine_inputs(input_ids=IDS)).last_hidden_state, (BATCH, SEQ, D)),
    Case(TFRobertaModel, dict(config=CFG), lambda m: m(IDS).last_hidden_state, (BATCH, SEQ, D),
         is_model=True),
    Case(TFRobertaForMaskedLM, dict(config=CFG), lambda m: m(IDS).logits,
         (BATCH, SEQ, CFG.vocab_size), is_model=True),
    Case(TFRobertaForCausalLM, dict(config=DEC), lambda m: m(IDS).logits,
         (BATCH, SEQ, CFG.vocab_size), is_model=True),
    Case(TFRobertaForSequenceClassification, dict(config=CFG), lambda m: m(IDS).logits,
         (BATCH, CFG.num_labels), is_model=True),
    Case(TFRobertaForTokenClassification, dict(config=CFG), lambda m: m(IDS).logits,
         (BATCH, SEQ, CFG.num_labels), is_model=True),
    Case(TFRobertaForQuestionAnswering, dict(config=CFG), lambda m: m(IDS).start_logits,
         (BATCH, SEQ), is_model=True),
    Case(TFRobertaForMultipleChoice, dict(config=CFG), lambda m: m(IDS[None]).logits,
         (1, BATCH), is_model=True),
]


class TestCase:
    """The checks every layer and model class gets (keras-hub's run_layer_test,
    run_serialization_test and run_model_saving_test, in small)."""

    @staticmethod
    def build(case: Case) -> Any:
        keras.utils.set_random_seed(0)
        return case.cls(**case.kwargs)

    def run_shape_test(self, case: Case) -> None:
        out = case.run(self.build(case))
        assert tuple(out.shape) == case.shape

    def run_serialization_test(self, case: Case) -> None:
        layer = self.build(case)
        out = case.run(layer)
        config = layer.get_config()
        clone = case.cls.from_config(config)
        assert clone.get_config() == config
        assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]
        clone.set_weights(layer.get_weights())
        np.testing.assert_allclose(case.run(clone).numpy(), out.numpy(), atol=1e-6)

    def run_model_saving_test(self, case: Case, tmp_path) -> None:
        model = self.build(case)
        out = case.run(model)
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is case.cls
        np.testing.assert_allclose(case.run(loaded).numpy(), out.numpy(), atol=1e-6)


IDS_OF = [c.cls.__name__ for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_shape(case):
    TestCase().run_shape_test(case)


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_config_round_trip(case):
    TestCase().run_serialization_test(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.is_model],
                         ids=[c.cls.__name__ for c in CASES if c.is_model])
def test_keras_save_and_load(case, tmp_path):
    TestCase().run_model_saving_test(case, tmp_path)


def test_every_layer_and_model_class_has_a_case():
    """A new ConfigLayer subclass or model class without a Case fails here."""
    from roberta_lab.model.layers import ConfigLayer
    from roberta_lab.model.trunk import RobertaPreTrainedModel

    def subclasses(base):
        found = set()
        for sub in base.__subclasses__():
            found |= {sub} | subclasses(sub)
        return found

    covered = {c.cls for c in CASES}
    public = {c for c in subclasses(ConfigLayer) | subclasses(RobertaPreTrainedModel)
              if not c.__name__.startswith("_") and c.__module__.startswith("roberta_lab")}
    assert public <= covered, sorted(c.__name__ for c in public - covered)
