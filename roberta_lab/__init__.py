"""roberta_lab: a TensorFlow/Keras RoBERTa, faithful to HF transformers' TF RoBERTa, built for
looking inside it (hooks, head masks, caches) from Jupyter.

The seed's examples run with ``from roberta_lab import ...`` in place of ``from transformers``.
Names are imported lazily, so ``roberta_lab.training`` and the tokenizer work without loading
TensorFlow.
"""

from __future__ import annotations

import importlib
import os as _os

from . import _aliases

_aliases.install()

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_EXPORTS = {
    "RobertaConfig": "model.config",
    "AutoTokenizer": "model.tokenizer", "RobertaTokenizer": "model.tokenizer", "BatchEncoding": "model.tokenizer",
    "TFBaseModelOutputWithPoolingAndCrossAttentions": "model.outputs",
    "TFCausalLMOutputWithCrossAttentions": "model.outputs", "TFMaskedLMOutput": "model.outputs",
    "TFSequenceClassifierOutput": "model.outputs", "TFTokenClassifierOutput": "model.outputs",
    "TFQuestionAnsweringModelOutput": "model.outputs",
    "TFMultipleChoiceModelOutput": "model.outputs",
    "TFRobertaModel": "model.trunk",
    "TFRobertaForMaskedLM": "model.heads", "TFRobertaForCausalLM": "model.heads",
    "TFRobertaForSequenceClassification": "model.task_heads",
    "TFRobertaForTokenClassification": "model.task_heads",
    "TFRobertaForQuestionAnswering": "model.task_heads",
    "TFRobertaForMultipleChoice": "model.multiple_choice",
    "bundled_models": "model.hub",
    "mask_prediction": "views.widgets", "head_ablation": "views.widgets", "attention_explorer": "views.widgets",
    "cache_steps": "views.widgets", "cross_attention": "views.widgets",
    "logit_lens": "engine.lens", "LensResult": "engine.lens",
    "patch_residual": "engine.patching", "patch_heads": "engine.patching", "patch_block_outputs": "engine.patching",
    "logit_diff": "engine.patching", "PatchingResult": "engine.patching",
    "head_role_scores": "engine.head_roles", "top_heads": "engine.head_roles", "HeadRoleScores": "engine.head_roles",
    "head_view": "views.viz", "model_view": "views.viz", "encoder_decoder_view": "views.viz",
    "cache_step_view": "views.viz", "save_html": "views.viz",
    "generate": "engine.generation", "prompt_ids": "engine.generation", "trace_generation": "engine.step_trace",
    "GenerationTrace": "engine.step_trace",
    "decompose": "engine.decompose", "Decomposition": "engine.decompose",
    "direct_logit_attribution": "engine.decompose",
    "integrated_gradients": "engine.attributions", "saliency": "engine.attributions",
    "grad_x_input": "engine.attributions", "smooth_grad": "engine.attributions",
    "Attribution": "engine.attributions",
    "attention_rollout": "engine.context_mixing", "attention_flow": "engine.context_mixing",
    "value_zeroing": "engine.context_mixing", "alti": "engine.context_mixing",
    "TokenMixing": "engine.context_mixing",
    "path_patch": "engine.path_patching", "attribution_patch": "engine.path_patching",
    "attribution_explorer": "views.widgets",
    "token_attribution_view": "views.attribution_views",
    "decomposition_figure": "views.attribution_views",
    "PathPatchResult": "engine.path_patching", "AttributionPatchResult": "engine.path_patching",
}

__all__ = sorted(_EXPORTS)


_NO_TENSORFLOW = ("model.config", "model.tokenizer", "model.hub")


def __getattr__(name: str):
    if name in _EXPORTS:
        if _EXPORTS[name] not in _NO_TENSORFLOW:
            from ._quiet import import_tensorflow

            import_tensorflow()  # without its start-up log lines (see _quiet.py)
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roberta_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
