"""The seven model classes with a tiny config, inputs and labels each: shared by the Keras and
the common (HF TFModelTesterMixin-style) tests."""

from __future__ import annotations

import numpy as np

from conftest import random_ids, random_mask, tiny_config
from roberta_lab import (TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaForMultipleChoice,
                         TFRobertaForQuestionAnswering, TFRobertaForSequenceClassification,
                         TFRobertaForTokenClassification, TFRobertaModel)

ALL_CLASSES = [TFRobertaModel, TFRobertaForMaskedLM, TFRobertaForCausalLM,
               TFRobertaForSequenceClassification, TFRobertaForTokenClassification,
               TFRobertaForQuestionAnswering, TFRobertaForMultipleChoice]
BATCH, SEQ, CHOICES = 13, 7, 3
HF_NAMES = {"TFRobertaModel": "RobertaModel", "TFRobertaForMaskedLM": "RobertaForMaskedLM",
            "TFRobertaForCausalLM": "RobertaForCausalLM",
            "TFRobertaForSequenceClassification": "RobertaForSequenceClassification",
            "TFRobertaForTokenClassification": "RobertaForTokenClassification",
            "TFRobertaForQuestionAnswering": "RobertaForQuestionAnswering",
            "TFRobertaForMultipleChoice": "RobertaForMultipleChoice"}


def config_for(cls, **kw):
    extra = {"num_labels": 2 if cls is TFRobertaForQuestionAnswering else 3}
    if cls is TFRobertaForCausalLM:
        extra["is_decoder"] = True
    return tiny_config(**{**extra, **kw})


def inputs_for(cls, batch=BATCH, seed=0):
    """dict(input_ids, attention_mask, token_type_ids); [batch, choices, seq] for MC."""
    ids, mask = random_ids(batch, SEQ, seed=seed), random_mask(batch, SEQ, seed=seed + 1)
    types = np.zeros_like(ids)
    if cls is TFRobertaForMultipleChoice:
        rows = batch * CHOICES
        ids = random_ids(rows, SEQ, seed=seed).reshape(batch, CHOICES, SEQ)
        mask = random_mask(rows, SEQ, seed=seed + 1).reshape(batch, CHOICES, SEQ)
        types = np.zeros_like(ids)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def labels_for(cls, batch=BATCH, seed=0):
    """The class's label arguments as a dict (empty for the bare model)."""
    rng = np.random.default_rng(seed + 7)
    if cls is TFRobertaModel:
        return {}
    if cls in (TFRobertaForMaskedLM, TFRobertaForCausalLM):
        return {"labels": rng.integers(0, 99, size=(batch, SEQ)).astype(np.int32)}
    if cls is TFRobertaForSequenceClassification:
        return {"labels": rng.integers(0, 3, size=batch).astype(np.int32)}
    if cls is TFRobertaForTokenClassification:
        return {"labels": rng.integers(0, 3, size=(batch, SEQ)).astype(np.int32)}
    if cls is TFRobertaForQuestionAnswering:
        return {"start_positions": rng.integers(0, SEQ, size=batch).astype(np.int32),
                "end_positions": rng.integers(0, SEQ, size=batch).astype(np.int32)}
    return {"labels": rng.integers(0, CHOICES, size=batch).astype(np.int32)}


def main_output(cls):
    return {TFRobertaModel: "last_hidden_state",
            TFRobertaForQuestionAnswering: "start_logits"}.get(cls, "logits")


def ids_name(cls):
    return cls.__name__.replace("TFRobertaFor", "").replace("TFRoberta", "")
