"""The model layer: config, tokenizer, files (hub, checkpoint), inputs, hooks, the layers and the
Keras classes.

``roberta_lab.model`` was one module before the sub-packages; its names (``TFRobertaModel``,
``RobertaMainLayer``, ``RobertaPreTrainedModel``) still resolve here, lazily, so importing
``roberta_lab.model.config`` does not load TensorFlow.
"""

from __future__ import annotations

import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    trunk = importlib.import_module(".trunk", __name__)
    try:
        return getattr(trunk, name)
    except AttributeError:
        raise AttributeError(f"module 'roberta_lab.model' has no attribute {name!r}") from None
