"""roberta_lab: a TensorFlow/Keras RoBERTa, faithful to HF transformers' TF RoBERTa, built for
looking inside it (hooks, head masks, caches) from Jupyter.

The seed's examples run with ``from roberta_lab import ...`` in place of ``from transformers``.
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .config import RobertaConfig  # noqa: E402
from .heads import TFRobertaForCausalLM, TFRobertaForMaskedLM  # noqa: E402
from .hub import bundled_models  # noqa: E402
from .model import TFRobertaModel  # noqa: E402
from .outputs import (  # noqa: E402
    TFBaseModelOutputWithPoolingAndCrossAttentions,
    TFCausalLMOutputWithCrossAttentions,
    TFMaskedLMOutput,
)
from .tokenizer import AutoTokenizer, BatchEncoding, RobertaTokenizer  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AutoTokenizer", "BatchEncoding", "RobertaConfig", "RobertaTokenizer",
    "TFBaseModelOutputWithPoolingAndCrossAttentions", "TFCausalLMOutputWithCrossAttentions",
    "TFMaskedLMOutput", "TFRobertaForCausalLM", "TFRobertaForMaskedLM", "TFRobertaModel",
    "bundled_models",
]
