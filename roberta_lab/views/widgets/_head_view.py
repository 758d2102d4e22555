"""The layer / head / window view shared by the attention and cross-attention widgets
(``HeadViewMixin``; moved out of ``_common``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import ShellMixin, WidgetInputError, export_figure, guarded, write_atomic


class HeadViewMixin(ShellMixin):
    """A layer / head / window view of one attention pattern (the attention and cross-attention
    widgets): the shared controls (``_build_view``), ``view``, ``heatmap_data``, ``export`` and
    resetting the window to a new text. Needs ``message``, ``controller`` (``length``,
    ``pattern``, ``figure``, ``to_html``), ``set_input`` and ``update``."""

    controller: Any
    layer_select: Any
    head_select: Any
    window: Any
    _hold: bool = False  # set while the window is adjusted to a new text

    def _build_view(self, W: Any, text_box: Any, *, layer: Any, head: Any, heads: list,
                    window: tuple[int, int], label: str, below: list) -> None:
        """The text box, layer and head dropdowns over ``controller``'s layers, the window
        slider (``label``) over its tokens, the message, then ``below``; a new text in
        ``text_box`` goes to ``set_input``. Shows the first view."""
        c = self.controller
        self.layer_select = W.Dropdown(options=list(range(c.n_layers if c else 1)), value=layer,
                                       description="layer")
        self.head_select = W.Dropdown(options=heads, value=head, description="head")
        self.window = W.IntRangeSlider(value=window, min=0, max=c.length if c else 1,
                                       description=label)
        self.widget = W.VBox([text_box, W.HBox([self.layer_select, self.head_select]),
                              self.window, self.message, *below])
        text_box.observe(self._on_input, names="value")
        self._observe_view()
        if c is not None:
            self.update()

    def set_input(self, text: str) -> bool:  # pragma: no cover - every widget defines its own
        """Run the controller on a new text; whether anything changed."""
        raise NotImplementedError

    def new_window(self, length: int) -> tuple[int, int]:
        """The window a new text of ``length`` tokens opens on (all of it)."""
        return (0, length)

    @guarded
    def _on_input(self, change: dict) -> None:
        if self.set_input(change["new"]):
            n = self.controller.length
            self._reset_window(n, self.new_window(n))
        self.update()

    def _observe_view(self) -> None:
        for w in (self.layer_select, self.head_select, self.window):
            w.observe(lambda _: None if self._hold else self.update(), names="value")

    def _reset_window(self, length: int, value: tuple[int, int]) -> None:
        self._hold = True  # one update after both changes, not one per change
        try:
            self.window.max = length
            self.window.value = value
        finally:
            self._hold = False

    @property
    def view(self) -> tuple[int, Any, tuple[int, int]]:
        return self.layer_select.value, self.head_select.value, tuple(self.window.value)

    @property
    def heatmap_data(self) -> np.ndarray:
        layer, head, window = self.view
        return self.controller.pattern(layer, head, window)

    def export(self, path: str) -> str:
        """The current view as .png, .svg or self-contained .html."""
        if self.controller is None:
            raise WidgetInputError("Nothing to export: the widget has no model.")
        layer, head, window = self.view
        if str(path).lower().endswith((".html", ".htm")):
            return write_atomic(path, self.controller.to_html(layer, head, window).encode())
        return export_figure(self.controller.figure(layer, head, window), path)

    def update(self) -> None:  # pragma: no cover - every widget defines its own
        raise NotImplementedError
