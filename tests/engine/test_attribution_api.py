"""One calling convention for the attribution methods: exported from roberta_lab, (model,
inputs, target, ...), inputs in any of the seed's formats, the documented result shapes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import tensorflow as tf

import roberta_lab
from conftest import tiny_config

NAMES = ["decompose", "integrated_gradients", "saliency", "grad_x_input", "smooth_grad",
         "attention_rollout", "attention_flow", "value_zeroing", "alti", "path_patch",
         "attribution_patch"]


def test_exported_with_one_signature():
    for name in NAMES:
        fn = getattr(roberta_lab, name)
        assert name in roberta_lab.__all__
        params = list(inspect.signature(fn).parameters)
        assert params[:3] == ["model", "inputs", "target"], name
        assert "compile" in inspect.signature(fn).parameters, name
        assert fn.__doc__ and "[" in (inspect.getmodule(fn).__doc__ or ""), name


@pytest.fixture(scope="module")
def setup(tok_dir):
    tok = roberta_lab.AutoTokenizer.from_pretrained(str(tok_dir))
    tf.keras.utils.set_random_seed(0)
    model = roberta_lab.TFRobertaForMaskedLM(tiny_config(
        vocab_size=len(tok), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    return tok, model


def test_every_input_format_gives_the_same_result(setup):
    tok, model = setup
    enc = tok(["The capital of France is Paris.", "Hello, my dog is cute"], padding=True,
              return_tensors="np")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    corrupted = ids.copy()
    corrupted[:, 1] = tok.convert_tokens_to_ids("Hello")
    target = (np.array([3, 2]), np.array([10, 11]))
    formats = [enc, {"input_ids": ids, "attention_mask": mask}, [ids, mask]]
    extra = {"path_patch": dict(corrupted=corrupted, sender=(0, 1)),
             "attribution_patch": dict(corrupted=corrupted),
             "integrated_gradients": dict(n_steps=8), "smooth_grad": dict(n_samples=2)}
    batch, seq = ids.shape
    for name in NAMES:
        fn = getattr(roberta_lab, name)
        results = [fn(model, f, target, **extra.get(name, {})) for f in formats]
        first = results[0]
        if name == "decompose":
            arrays = [r.total for r in results]
            assert first.total.shape == (batch,)
        elif name == "path_patch":
            arrays = [r.patched for r in results]
            assert first.patched.shape == (batch,)
        elif name == "attribution_patch":
            arrays = [r.effects for r in results]
            assert first.effects.shape == (batch, 2, 4)
        else:
            arrays = [r.attributions for r in results]
            assert first.attributions.shape == (batch, seq), name
        for other in arrays[1:]:
            assert np.allclose(arrays[0], other, atol=1e-6), name
