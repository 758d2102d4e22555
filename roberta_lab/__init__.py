"""roberta_lab: a TensorFlow/Keras RoBERTa, faithful to HF transformers' TF RoBERTa, built for
looking inside it (hooks, head masks, caches) from Jupyter.

The seed's examples run with ``from roberta_lab import ...`` in place of ``from transformers``.
Names are imported lazily, so ``roberta_lab.training`` and the tokenizer work without loading
TensorFlow.
"""

from __future__ import annotations

import importlib
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_EXPORTS = {
    "RobertaConfig": "config",
    "AutoTokenizer": "tokenizer", "RobertaTokenizer": "tokenizer", "BatchEncoding": "tokenizer",
    "TFBaseModelOutputWithPoolingAndCrossAttentions": "outputs",
    "TFCausalLMOutputWithCrossAttentions": "outputs", "TFMaskedLMOutput": "outputs",
    "TFSequenceClassifierOutput": "outputs", "TFTokenClassifierOutput": "outputs",
    "TFQuestionAnsweringModelOutput": "outputs", "TFMultipleChoiceModelOutput": "outputs",
    "TFRobertaModel": "model",
    "TFRobertaForMaskedLM": "heads", "TFRobertaForCausalLM": "heads",
    "TFRobertaForSequenceClassification": "task_heads",
    "TFRobertaForTokenClassification": "task_heads",
    "TFRobertaForQuestionAnswering": "task_heads", "TFRobertaForMultipleChoice": "task_heads",
    "bundled_models": "hub",
    "mask_prediction": "widgets", "head_ablation": "widgets", "attention_explorer": "widgets",
    "cache_steps": "widgets", "cross_attention": "widgets",
    "logit_lens": "lens", "LensResult": "lens",
    "patch_residual": "patching", "patch_heads": "patching", "patch_block_outputs": "patching",
    "logit_diff": "patching", "PatchingResult": "patching",
    "head_role_scores": "head_roles", "top_heads": "head_roles", "HeadRoleScores": "head_roles",
    "head_view": "viz", "model_view": "viz", "encoder_decoder_view": "viz",
    "cache_step_view": "viz", "save_html": "viz",
    "generate": "generation", "trace_generation": "step_trace",
    "GenerationTrace": "step_trace",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roberta_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
