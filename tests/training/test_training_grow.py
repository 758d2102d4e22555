"""training.grow: stacking a model's layers to make a deeper one."""
from __future__ import annotations

import numpy as np
import pytest

from roberta_lab.training import grow


def _state(n):
    return {f"roberta.encoder.layer.{i}.output.dense.weight": np.full((2, 2), float(i)) for i in range(n)}


def test_stacking_repeats_the_layers_in_order():
    out = grow.stack_layers(_state(3), 7)
    assert grow.n_layers(out) == 7
    got = [out[f"roberta.encoder.layer.{j}.output.dense.weight"][0, 0] for j in range(7)]
    assert got == [0, 1, 2, 0, 1, 2, 0]


def test_stacked_copies_are_independent_arrays():
    out = grow.stack_layers(_state(1), 2)
    out["roberta.encoder.layer.1.output.dense.weight"][0, 0] = 9.0
    assert out["roberta.encoder.layer.0.output.dense.weight"][0, 0] == 0.0


def test_fewer_layers_or_no_layers_are_refused():
    with pytest.raises(ValueError, match="at least the checkpoint's 3"):
        grow.stack_layers(_state(3), 2)
    with pytest.raises(ValueError, match="no encoder layers"):
        grow.stack_layers({"lm_head.bias": np.zeros(3)}, 4)
