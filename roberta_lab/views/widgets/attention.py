"""Attention explorer: one head's token-by-token pattern as a heatmap, with its head-role
scores (attention to <s>, </s>, punctuation, previous/next token, self, entropy) beside it.

    >>> attention_explorer("roberta-lab/mini-mlm", text="The cat sat on the mat.")  # doctest: +SKIP

A token window (``window=(start, stop)``, an IntRangeSlider in the widget) keeps long inputs
(512 tokens) readable: only rows and columns start..stop-1 are drawn.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ...engine.head_roles import punctuation_ids, scores_from_patterns
from ._common import (WidgetInputError, clamp_window, encode_text,
                      guarded, head_options, heatmap_figure, new_image, resolve,
                      token_labels)
from ._head_view import HeadViewMixin

DEFAULT_TEXT = "The keys to the cabinet are on the table, and the cat sat on the mat."
ROLE_NAMES = ("bos", "eos", "punct", "prev", "next", "self", "entropy")
DEFAULT_WINDOW = 64


class AttentionController:
    """Text -> ``run_with_cache`` (every layer's ``hook_pattern``) -> patterns and roles."""

    def __init__(self, model: Any, tokenizer: Any, text: str = DEFAULT_TEXT):
        self.model, self.tokenizer = model, tokenizer
        cfg = model.config
        self.n_layers, self.n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
        self.text: str | None = None
        self.n_runs = 0
        self._punct: np.ndarray | None = None
        self.set_text(text)

    def set_text(self, text: str) -> bool:
        """Run the model on ``text`` (nothing happens when the text is unchanged)."""
        if text == self.text:
            return False
        ids = encode_text(self.tokenizer, text, self.model.config.max_sequence_length)
        names = [f"blocks.{l}.attn.hook_pattern" for l in range(self.n_layers)]
        # Compiled (one function for every text length after the second: reduce_retracing);
        # eagerly, a roberta-base-shaped model took about 0.6 s of CPU per text.
        _, cache = self.model.run_with_cache(ids, names_filter=names, compile=True)
        self.n_runs += 1
        self.ids = ids[0]
        self.patterns = np.stack([cache[n][0] for n in names])  # [layers, heads, q, k]
        self.tokens = token_labels(self.tokenizer, self.ids)
        self.text = text
        self._roles = None
        return True

    @property
    def length(self) -> int:
        return len(self.ids)

    def _check(self, layer: int, head: int) -> None:
        if not (0 <= int(layer) < self.n_layers and 0 <= int(head) < self.n_heads):
            raise WidgetInputError(f"No head L{layer}H{head} in a {self.n_layers} x "
                                   f"{self.n_heads} model.")

    def pattern(self, layer: int, head: int, window: tuple[int, int] | None = None) -> np.ndarray:
        """hook_pattern[layer][0, head] restricted to the window: [stop-start, stop-start]."""
        self._check(layer, head)
        a, b = clamp_window(window, self.length)
        return self.patterns[layer, head, a:b, a:b]

    def punct_ids(self) -> np.ndarray:
        if self._punct is None:
            self._punct = np.asarray(punctuation_ids(self.tokenizer), np.int64)
        return self._punct

    def roles(self, layer: int, head: int) -> dict[str, float]:
        """Head-role scores of one head on this text (``roberta_lab.engine.head_roles``)."""
        self._check(layer, head)
        cfg = self.model.config
        if self._roles is None:
            s = scores_from_patterns([p[None] for p in self.patterns], self.ids[None],
                                     punct_ids=self.punct_ids(), bos_id=cfg.bos_token_id,
                                     eos_id=cfg.eos_token_id)
            self._roles = {r: np.asarray(s[r]) for r in ROLE_NAMES}
        return {r: float(self._roles[r][layer, head]) for r in ROLE_NAMES}

    def heatmap_args(self, layer: int, head: int, window: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, dict]:
        """(data, options) of the view's ``heatmap_figure``."""
        a, b = clamp_window(window, self.length)
        labels = self.tokens[a:b]
        return self.pattern(layer, head, (a, b)), dict(
            x_labels=labels, y_labels=labels, xlabel="key", ylabel="query", vmin=0.0,
            title=f"layer {layer}, head {head}, tokens {a}..{b - 1}")

    def figure(self, layer: int, head: int, window: tuple[int, int] | None = None) -> Any:
        data, options = self.heatmap_args(layer, head, window)
        return heatmap_figure(data, **options)

    def roles_html(self, layer: int, head: int) -> str:
        rows = "".join(f"<tr><td>{r}</td><td>{v:.3f}</td></tr>"
                       for r, v in self.roles(layer, head).items())
        return f"<table><tr><th>role</th><th>L{layer}H{head}</th></tr>{rows}</table>"

    def to_html(self, layer: int, head: int, window: tuple[int, int] | None = None) -> str:
        """A self-contained HTML page (heatmap as an inline PNG, roles, tokens)."""
        from ._common import html_page  # noqa: PLC0415

        a, b = clamp_window(window, self.length)
        extra = (self.roles_html(layer, head) + "<p>" +
                 " ".join(html.escape(t) for t in self.tokens[a:b]) + "</p>")
        return html_page(f"Attention L{layer}H{head}", self.figure(layer, head, (a, b)), extra)


class AttentionExplorerWidget(HeadViewMixin):
    """Text box, layer/head dropdowns, token window; heatmap + role table."""

    def __init__(self, model: Any, tokenizer: Any = None, *, text: str = DEFAULT_TEXT,
                 layer: int = 0, head: int = 0, window: tuple[int, int] | None = None):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.controller = None
        try:
            model, tokenizer = resolve(model, tokenizer, "auto")
            self.controller = AttentionController(model, tokenizer, text)
        except Exception as exc:  # noqa: BLE001
            self.show_message(str(exc))
        c = self.controller
        L, H, n = (c.n_layers, c.n_heads, c.length) if c else (1, 1, 1)
        self.text = W.Textarea(value=text, description="text", continuous_update=False,
                               layout=W.Layout(width="90%"))
        self.plot = new_image()
        self.roles = W.HTML()
        self._build_view(W, self.text, layer=min(layer, L - 1), head=min(head, H - 1),
                         heads=head_options(H), label="tokens",
                         window=clamp_window(window or (0, DEFAULT_WINDOW), n),
                         below=[W.HBox([self.plot, self.roles])])

    def set_input(self, text: str) -> bool:
        return self.controller.set_text(text)

    def new_window(self, length: int) -> tuple[int, int]:
        return clamp_window((0, DEFAULT_WINDOW), length)

    @guarded
    def update(self) -> None:
        if self.controller is None:
            return
        layer, head, window = self.view
        self.show_heatmap(self.plot, (self.controller.text, layer, head, window),
                          *self.controller.heatmap_args(layer, head, window))
        self.roles.value = self.controller.roles_html(layer, head)
        self.clear_message()


def attention_explorer(model: Any, tokenizer: Any = None, **kw: Any) -> AttentionExplorerWidget:
    """One line: ``attention_explorer("roberta-lab/mini-mlm", text="...")``."""
    return AttentionExplorerWidget(model, tokenizer, **kw)
