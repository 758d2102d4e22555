"""Head ablation: a layers x heads grid of toggles; the effect of the current ``head_mask``
shown live, Michel importance as a heatmap, the single-head sweep on demand.

    >>> head_ablation("roberta-lab/mini-mlm", text="Paris is the capital of <mask>.")  # doctest: +SKIP
    >>> HeadAblationWidget(model, tok, texts=["a sentence.", "another one."])          # doctest: +SKIP

Two modes. With ``text`` (one or more ``<mask>``): the top-k at each mask with and without
the ablation; importance and the sweep score the loss of the clean model's own top-1 at the
masks. With ``texts`` (a text set): a fixed, seeded 15% of each text's tokens is masked and the
masked-LM loss (``masked_lm_metric``) is shown with and without the ablation.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ._common import (ShellMixin, WidgetInputError, export_figure, figure_bytes, guarded,
                      int_argument, new_image, put_image, resolve)
from ._frames import BarFrames
from .ablation_controller import DEFAULT_TEXT, HeadAblationController

__all__ = ["HeadAblationController", "HeadAblationWidget", "head_ablation"]


class HeadAblationWidget(ShellMixin):
    """The toggle grid and buttons over a ``HeadAblationController``."""

    def __init__(self, model: Any, tokenizer: Any = None, *, text: str | None = DEFAULT_TEXT,
                 texts: list[str] | None = None, top_k: int = 5, k: int = 3):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.summary = W.HTML()
        self.effect_plot, self.importance_plot, self.sweep_plot = (new_image() for _ in range(3))
        self.sweep_plot.layout.max_width = "640px"  # a 32-head grid fits beside the controls
        self.sweep_hint = W.HTML("<i>Press <b>single-head sweep</b> to ablate each head alone "
                                 "and see the loss change per head.</i>")
        self.controller = None
        self._effect_frames = BarFrames()
        self._syncing = False
        self.buttons: list[list[Any]] = []
        try:
            int_argument("k", k, 0)
            model, tokenizer = resolve(model, tokenizer, "mlm")
            self.controller = HeadAblationController(model, tokenizer, text, texts=texts,
                                                     top_k=top_k)
        except Exception as exc:  # noqa: BLE001
            self.show_message(str(exc))
        c = self.controller
        L, H = (c.n_layers, c.n_heads) if c else (0, 0)
        for layer in range(L):
            row = []
            for head in range(H):
                b = W.ToggleButton(value=False, description=f"L{layer}H{head}",
                                   tooltip="pressed = ablated",
                                   layout=W.Layout(width="auto", min_width="3.4em",
                                                   padding="0 3px"))
                b.observe(lambda ch, b=b: _style_toggle(b), names="value")
                b.observe(lambda ch, l=layer, h=head: self._on_toggle(l, h, ch), names="value")
                row.append(b)
            self.buttons.append(row)
        grid = W.VBox([W.HBox(r) for r in self.buttons])
        self.layer_select = W.Dropdown(options=list(range(L)), description="layer")
        self.layer_button = W.Button(description="ablate layer")
        self.reset_button = W.Button(description="reset")
        self.k_slider = W.IntSlider(value=min(k if isinstance(k, int) and k >= 0 else 0, L * H), min=0, max=max(L * H, 1), description="k")
        self.least_button = W.Button(description="k least important")
        self.most_button = W.Button(description="k most important")
        self.sweep_button = W.Button(description="single-head sweep")
        self.layer_button.on_click(self._on_layer)
        self.reset_button.on_click(self._on_reset)
        self.least_button.on_click(lambda _: self._on_importance(True))
        self.most_button.on_click(lambda _: self._on_importance(False))
        self.sweep_button.on_click(self._on_sweep)
        controls = W.VBox([W.HBox([self.layer_select, self.layer_button, self.reset_button]),
                           W.HBox([self.k_slider, self.least_button, self.most_button]),
                           self.sweep_button])
        self.widget = W.VBox([self.message, W.HBox([W.VBox([grid, self.importance_plot]),
                                                    W.VBox([self.summary, self.effect_plot])]),
                              controls, self.sweep_hint, self.sweep_plot])
        if c is not None:
            self._draw_importance()
            self.update()

    @property
    def head_mask(self) -> np.ndarray | None:
        return None if self.controller is None else self.controller.head_mask

    @guarded
    def _draw_importance(self) -> None:
        put_image(self.importance_plot, figure_bytes(self.controller.importance_figure()))

    def _sync_buttons(self) -> None:
        self._syncing = True
        try:
            for layer, row in enumerate(self.buttons):
                for head, b in enumerate(row):
                    b.value = bool(self.controller.head_mask[layer, head] == 0)
        finally:
            self._syncing = False

    @guarded
    def _on_toggle(self, layer: int, head: int, change: dict) -> None:
        if self._syncing:
            return
        self.controller.set_head(layer, head, bool(change["new"]))
        self.update()

    @guarded
    def _on_layer(self, _: Any) -> None:
        self.controller.ablate_layer(self.layer_select.value)
        self._sync_buttons()
        self.update()

    @guarded
    def _on_reset(self, _: Any) -> None:
        self.controller.reset()
        self._sync_buttons()
        self.update()

    @guarded
    def _on_importance(self, least: bool) -> None:
        self.controller.ablate_by_importance(self.k_slider.value, least)
        self._sync_buttons()
        self.update()

    @guarded
    def _on_sweep(self, _: Any) -> None:
        result = self.controller.sweep()
        # The figure is drawn from these numbers alone; a click that gives the same numbers
        # (the same text and weights) keeps the picture shown instead of drawing it again
        # (an annotated grid: about 75 ms of CPU on the bundled model).
        drawn = np.asarray(result.grid - result.baseline)
        self.show_plot(self.sweep_plot, ("sweep", drawn.shape, drawn.tobytes()),
                       self.controller.sweep_figure)
        self.sweep_hint.value = ""

    @guarded
    def update(self) -> None:
        c = self.controller
        self.result = c.evaluate()
        self.clear_message()
        heads = ", ".join(c.ablated) or "none"
        if c.mode == "loss":
            d = self.result["loss"] - c.clean["loss"]
            text = (f"loss {c.clean['loss']:.4f} clean &rarr; {self.result['loss']:.4f} "
                    f"ablated ({d:+.4f})")
        else:
            text = "; ".join(
                f"&lt;mask&gt; #{i + 1}: {html.escape(cm['tokens'][0])} {cm['probs'][0]:.3f} "
                f"&rarr; {html.escape(am['tokens'][0])} {am['probs'][0]:.3f}"
                for i, (cm, am) in enumerate(zip(c.clean["masks"], self.result["masks"])))
        self.summary.value = f"<b>ablated:</b> {html.escape(heads)}<br>{text}"
        # another head mask changes the bars and maybe their tokens: redrawn in part
        put_image(self.effect_plot, self._effect_frames.png(c.effect_figure(self.result)))

    def export(self, path: str, view: str = "effect") -> str:
        """Write a view ("effect", "importance" or "sweep") as .png, .svg or .html."""
        if self.controller is None:
            raise WidgetInputError("Nothing to export: the widget has no model.")
        c = self.controller
        fig = {"effect": lambda: c.effect_figure(c.evaluate()), "importance": c.importance_figure,
               "sweep": c.sweep_figure}.get(view)
        if fig is None:
            raise WidgetInputError(f"Unknown view {view!r}: effect, importance or sweep.")
        return export_figure(fig(), path, f"Head ablation: {view}", self.summary.value)


def _style_toggle(button: Any) -> None:
    """A pressed (ablated) head is red and struck through, an unpressed one plain: told apart
    at a glance (and without colour), not by a slightly darker grey."""
    button.button_style = "danger" if button.value else ""
    button.style.text_decoration = "line-through" if button.value else "none"


def head_ablation(model: Any, tokenizer: Any = None, **kw: Any) -> HeadAblationWidget:
    """One line: ``head_ablation("roberta-lab/mini-mlm", text="... <mask> ...")``."""
    return HeadAblationWidget(model, tokenizer, **kw)
