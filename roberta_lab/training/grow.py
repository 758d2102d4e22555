"""Grow a trained model deeper by stacking its layers (Gong et al. 2019, "progressive stacking").

A model of ``L`` layers gives the first ``L`` layers of a deeper one, and its layers again (in
order) for the rest: new layer ``j`` starts as old layer ``j % L``. Embeddings and heads are kept.
The deeper model starts near the shallow one's function (each copied block adds a similar residual
update) and trains further from there, which is cheaper than training the deep shape from scratch.

>>> import numpy as np
>>> state = {"roberta.encoder.layer.0.output.dense.bias": np.zeros(2),
...          "roberta.encoder.layer.1.output.dense.bias": np.ones(2),
...          "lm_head.bias": np.full(3, 7.0)}
>>> grown = stack_layers(state, 3)
>>> sorted(grown)
['lm_head.bias', 'roberta.encoder.layer.0.output.dense.bias', 'roberta.encoder.layer.1.output.dense.bias', 'roberta.encoder.layer.2.output.dense.bias']
>>> grown["roberta.encoder.layer.2.output.dense.bias"].tolist()
[0.0, 0.0]
"""
from __future__ import annotations

import re

LAYER = re.compile(r"^(.*\.encoder\.layer\.)(\d+)(\..*)$")


def n_layers(state):
    """Number of encoder layers named in a state dict."""
    found = {int(m.group(2)) for m in map(LAYER.match, state) if m}
    return max(found) + 1 if found else 0


def stack_layers(state, layers):
    """A state dict for ``layers`` encoder layers: layer ``j`` is a copy of layer ``j % L``."""
    old = n_layers(state)
    if old == 0:
        raise ValueError("state has no encoder layers to stack")
    if layers < old:
        raise ValueError(f"layers must be at least the checkpoint's {old}, got {layers}")
    out = {k: v for k, v in state.items() if not LAYER.match(k)}
    for key, value in state.items():
        m = LAYER.match(key)
        if not m:
            continue
        i = int(m.group(2))
        for j in range(i, layers, old):
            out[f"{m.group(1)}{j}{m.group(3)}"] = value.copy()
    return out
