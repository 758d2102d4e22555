"""Widget figures reuse a constrained layout they have seen (views/widgets/_common.py): the
bytes are those of a fresh layout, and a changed label gets its own layout."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from roberta_lab.views.widgets import _common  # noqa: E402
from roberta_lab.views.widgets._common import figure_bytes, heatmap_figure, new_figure  # noqa: E402

TOKENS = ["<s>", "The", " cap", "ital", " of", " France", " is", " Paris", ".", "</s>"]


def pattern(seed: int, vmax: float = 1.0) -> np.ndarray:
    d = np.random.default_rng(seed).random((10, 10))
    return vmax * d / d.max()


def heat(seed: int, labels=TOKENS, title="layer 0, head 1") -> object:
    return heatmap_figure(pattern(seed), x_labels=labels, y_labels=labels, vmin=0.0,
                          title=title, xlabel="key", ylabel="query")


def bars(seed: int, labels=("'a'", "'b'", "'c'", "'d'", "'e'")) -> object:
    fig = new_figure(4.0, 3.2)
    ax = fig.add_subplot()
    ax.barh(range(5), np.sort(np.random.default_rng(seed).random(5)), color="#4c72b0")
    ax.set_yticks(range(5), list(labels), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("<mask> #1", fontsize=9)
    return fig


@pytest.mark.parametrize("make", [heat, bars])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_reused_layout_gives_the_same_bytes(make, fmt):
    _common._LAYOUTS.clear()
    figure_bytes(make(0), fmt)  # computes and keeps the layout
    assert len(_common._LAYOUTS) == 1
    reused = make(1)
    assert (fmt,) + _common.layout_signature(reused) in _common._LAYOUTS
    got = figure_bytes(reused, fmt)
    assert reused.get_layout_engine().__class__.__name__ != "ConstrainedLayoutEngine"
    _common._LAYOUTS.clear()
    fresh = figure_bytes(make(1), fmt)
    if fmt == "svg":  # SVG files carry their date and random clip-path ids: drop them
        import re
        got, fresh = (re.sub(rb'<dc:date>[^<]*</dc:date>|id="[^"]*"|#[0-9a-z]{10,}', b"", x)
                      for x in (got, fresh))
    assert got == fresh


def test_other_texts_get_their_own_layout():
    _common._LAYOUTS.clear()
    figure_bytes(heat(0))
    figure_bytes(heat(0, labels=[t + "xx" for t in TOKENS]))
    figure_bytes(heat(0, title="a much longer title than before, layer 3, head 7"))
    figure_bytes(heatmap_figure(pattern(2, vmax=0.3), x_labels=TOKENS, y_labels=TOKENS,
                                vmin=0.0, title="layer 0, head 1", xlabel="key", ylabel="query"))
    assert len(_common._LAYOUTS) == 4  # the colorbar's tick labels differ for the last one
    figure_bytes(heat(5))
    assert len(_common._LAYOUTS) == 4
