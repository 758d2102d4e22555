"""Notebook widgets: thin ipywidgets shells over pure-Python controllers.

Each is one line in a notebook, with a model object or a bundled name::

    from roberta_lab.widgets import mask_prediction, head_ablation, attention_explorer, \
        cache_steps, cross_attention
    mask_prediction("roberta-lab/mini-mlm")
    head_ablation("roberta-lab/mini-mlm", text="The capital of France is <mask>.")
    attention_explorer(model, tokenizer, text="...")
    cache_steps("roberta-lab/mini-causal", prompt="Once upon a time")
    cross_attention("roberta-lab/mini-seq2seq", source="a b c d")

Every widget keeps its ``controller`` (state -> model call -> result, testable without a
browser), shows bad input as a sentence in ``message`` (never a traceback) and has
``export(path)`` writing .png, .svg or a self-contained .html (chosen by the extension,
written atomically).
"""

from ._common import WidgetInputError
from .ablation import HeadAblationController, HeadAblationWidget, head_ablation
from .attention import AttentionController, AttentionExplorerWidget, attention_explorer
from .cache_steps import CacheStepsController, CacheStepsWidget, cache_steps
from .cross_attention import (CrossAttentionController, CrossAttentionWidget, cross_attention,
                              load_seq2seq)
from .mask_prediction import (MaskPrediction, MaskPredictionController, MaskPredictionWidget,
                              mask_prediction)

__all__ = [
    "WidgetInputError",
    "MaskPrediction", "MaskPredictionController", "MaskPredictionWidget", "mask_prediction",
    "HeadAblationController", "HeadAblationWidget", "head_ablation",
    "AttentionController", "AttentionExplorerWidget", "attention_explorer",
    "CacheStepsController", "CacheStepsWidget", "cache_steps",
    "CrossAttentionController", "CrossAttentionWidget", "cross_attention", "load_seq2seq",
]
