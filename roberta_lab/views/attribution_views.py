"""Views of attributions: tokens coloured by their score, and a decomposition's layers x heads
heatmap with a bar chart of its largest components.

Everything here draws; nothing computes (the numbers come from ``roberta_lab.engine``). Figures
are ``matplotlib.figure.Figure`` objects (no pyplot state); saves are atomic and choose the
format by the extension (.html, .png, .svg). Long inputs stay readable through ``window``
(a token range) and ``top_k`` (the components shown).

Example:
    >>> import numpy as np
    >>> html = token_attribution_html(["<s>", "Paris", "</s>"], np.array([0.0, 1.0, -0.5]))
    >>> html.count("<span"), "Paris" in html
    (3, True)
"""

from __future__ import annotations

import html as _html
import os
from typing import Any, Sequence

import numpy as np

from .widgets._common import (clamp_window, export_figure, heatmap_figure, new_figure,
                              token_labels, write_atomic)

#: What every decomposition plot says about how it was made (engine/decompose.py).
DECOMPOSITION_POLICY = "frozen LN/attention, ZO-GELU, biases as one component"


def _colour(score: float, scale: float) -> str:
    """Red for positive, blue for negative, white at zero; alpha grows with |score|/scale."""
    a = 0.0 if scale <= 0 else min(abs(score) / scale, 1.0)
    rgb = "220,50,47" if score > 0 else "38,139,210"
    return f"rgba({rgb},{a:.3f})"


def token_attribution_html(tokens: Sequence[str], scores: np.ndarray, title: str = "") -> str:
    """An HTML fragment: each token in a span coloured by its score (scale: the largest |score|
    shown), the score in the tooltip."""
    scores = np.asarray(scores, np.float64)
    if len(tokens) != len(scores):
        raise ValueError(f"tokens ({len(tokens)}) and scores ({len(scores)}) differ in length")
    scale = float(np.abs(scores).max()) if len(scores) else 0.0
    spans = []
    for tok, s in zip(tokens, scores):
        text = _html.escape(tok.replace("Ġ", " ").replace("Ċ", "\\n"))
        spans.append(f'<span title="{s:+.4g}" style="background:{_colour(s, scale)};'
                     f'padding:1px 2px;margin:1px;border-radius:3px;white-space:pre">'
                     f'{text}</span>')
    head = f"<div style='font-size:90%;color:#555'>{_html.escape(title)}</div>" if title else ""
    return (f"<div class='roberta-lab-attribution'>{head}<div style='line-height:2em;"
            f"font-family:monospace'>{''.join(spans)}</div></div>")


class TokenAttributionView:
    """One row of an attribution result (``Attribution`` or ``TokenMixing``) with its tokens.
    Shows as HTML in Jupyter; ``save(path)`` writes .html, .png or .svg."""

    def __init__(self, result: Any, tokenizer: Any, row: int = 0,
                 window: tuple[int, int] | None = None):
        ids = np.asarray(result.input_ids)[row]
        scores = getattr(result, "attributions", None)
        if scores is None:
            raise ValueError("this result has no attributions (give the method a target)")
        start, stop = clamp_window(window, len(ids))
        self.tokens = token_labels(tokenizer, ids[start:stop])
        self.scores = np.asarray(scores, np.float64)[row, start:stop]
        self.title = f"{result.method} (row {row}, tokens {start}:{stop})"

    def to_html(self) -> str:
        return token_attribution_html(self.tokens, self.scores, self.title)

    def _repr_html_(self) -> str:
        return self.to_html()

    def figure(self) -> Any:
        """The scores as a one-row heatmap (for PNG/SVG export)."""
        return heatmap_figure(self.scores[None], x_labels=self.tokens, y_labels=["score"],
                              title=self.title, cmap="coolwarm",
                              vmin=-np.abs(self.scores).max(), vmax=np.abs(self.scores).max(),
                              size=(min(2.5 + 0.5 * len(self.tokens), 14.0), 2.4))

    def save(self, path: str | os.PathLike) -> str:
        if os.fspath(path).lower().endswith((".html", ".htm")):
            page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                    f"{_html.escape(self.title)}</title></head><body>{self.to_html()}"
                    "</body></html>\n")
            return write_atomic(path, page.encode("utf-8"))
        return export_figure(self.figure(), path, title=self.title)


def token_attribution_view(result: Any, tokenizer: Any, row: int = 0,
                           window: tuple[int, int] | None = None) -> TokenAttributionView:
    """See ``TokenAttributionView``."""
    return TokenAttributionView(result, tokenizer, row, window)


def decomposition_figure(decomposition: Any, row: int = 0, top_k: int = 12,
                         kind: str = "attn") -> Any:
    """Left: every head's contribution, layers x heads (diverging colours around 0); right:
    the ``top_k`` components by absolute value (embed, heads, MLPs, bias)."""
    heads = decomposition.heads(kind)[row]  # [layer, head]
    top = decomposition.top(top_k, row)
    fig = new_figure(11.0, max(3.2, 0.32 * max(len(top), heads.shape[0]) + 1.5))
    ax, bar = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    lim = float(np.abs(heads).max()) or 1.0
    im = ax.imshow(heads, cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto",
                   interpolation="nearest")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads.shape[1]))
    ax.set_yticks(range(heads.shape[0]))
    ax.set_title(f"{kind} heads' contributions")
    fig.colorbar(im, ax=ax, fraction=0.046)
    names = [n.replace("blocks.", "L").replace(".attn.head", " H").replace(".mlp", " MLP")
             for n, _ in top][::-1]
    vals = [v for _, v in top][::-1]
    bar.barh(range(len(vals)), vals, color=["#dc322f" if v > 0 else "#268bd2" for v in vals])
    bar.set_yticks(range(len(vals)))
    bar.set_yticklabels(names)
    bar.axvline(0, color="#888", lw=0.8)
    bar.set_title(f"top {len(vals)} of {len(decomposition.contributions)} components")
    fig.suptitle(f"value {decomposition.total[row]:+.3f} = sum of contributions "
                 f"({DECOMPOSITION_POLICY})", fontsize=9)
    return fig


def save_decomposition(decomposition: Any, path: str | os.PathLike, row: int = 0,
                       top_k: int = 12) -> str:
    """Write ``decomposition_figure`` as .png, .svg or .html."""
    return export_figure(decomposition_figure(decomposition, row, top_k), path,
                         title=f"decomposition ({DECOMPOSITION_POLICY})")
