"""Widget figures rendered to bytes: ``new_figure``, ``heatmap_figure`` and ``figure_bytes``
with its cache of constrained layouts (moved out of ``_common``, which re-exports them).

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global state), so they
work under any backend, Agg included, and are shown in ``ipywidgets.Image`` widgets.
"""

from __future__ import annotations

import collections
import io
import threading
from typing import Any, Sequence

import numpy as np

__all__ = ["new_figure", "heatmap_figure", "set_heatmap_labels", "figure_bytes", "axes_layout",
           "layout_signature"]


def new_figure(width: float = 6.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


# Constrained layout (the solver that keeps labels inside the figure) costs about as much as
# drawing the figure itself. Its result depends only on the figure's size, its axes' grid and
# the texts around them (tick labels, titles, axis labels), not on the data drawn, and a widget
# redraws the same frame again and again (another head, another step, a toggled head). So the
# positions it finds are kept per signature of those texts and reused: same pixels, one draw.
_LAYOUTS: "collections.OrderedDict[tuple, list]" = collections.OrderedDict()
_LAYOUTS_MAX = 256
_LAYOUTS_LOCK = threading.Lock()


def _axis_signature(axis: Any) -> tuple:
    """The tick labels an axis will show (as drawing would format them) and their style."""
    locs = np.asarray(axis.get_majorticklocs())
    labels = axis.major.formatter.format_ticks(locs)
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-10 * max(1.0, abs(hi - lo))
    shown = tuple(lab for x, lab in zip(locs, labels) if lo - eps <= x <= hi + eps)
    ticks = axis.get_majorticklabels()
    style = (ticks[0].get_fontsize(), ticks[0].get_rotation()) if ticks else None
    return shown, style, axis.get_label_text(), axis.label.get_fontsize()


def layout_signature(fig: Any) -> tuple | None:
    """What a constrained layout of ``fig`` depends on; None for other layouts."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine  # noqa: PLC0415

    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        return None
    parts: list = [tuple(fig.get_size_inches()), fig.dpi,
                   fig._suptitle.get_text() if fig._suptitle is not None else None]
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        parts.append((type(ax).__name__, spec.get_geometry() if spec else None, ax.get_title(),
                      ax.title.get_fontsize(), ax.axison, ax.get_legend() is not None,
                      tuple((t.get_text(), tuple(t.get_position())) for t in ax.texts),
                      _axis_signature(ax.xaxis), _axis_signature(ax.yaxis)))
    return tuple(parts)


def _cached_layout(key: tuple | None, n_axes: int) -> list | None:
    with _LAYOUTS_LOCK:
        cached = _LAYOUTS.get(key) if key is not None else None
        if cached is not None:
            _LAYOUTS.move_to_end(key)
    return cached if cached is not None and len(cached) == n_axes else None


def axes_layout(fig: Any, fmt: str = "png") -> list | None:
    """The positions a constrained layout of ``fig`` gave its axes, if one with the same
    signature was drawn before (by ``figure_bytes``); None otherwise."""
    key = layout_signature(fig)
    return _cached_layout(None if key is None else (fmt,) + key, len(fig.axes))


def _paint_once(fig: Any, fmt: str) -> bool:
    """Whether ``figure_bytes`` may lay ``fig`` out itself and have ``savefig`` paint it in one
    draw.

    ``savefig`` of a figure with a layout engine (constrained, or the placeholder that
    ``set_layout_engine("none")`` leaves) first draws every artist without painting, to lay
    it out, then draws again to paint: the first draw is a fifth of a new frame's CPU. The layout
    (the axes' positions) is all it leaves behind; the painting draw recomputes the rest (tick
    and title positions). So ``figure_bytes`` runs the layout alone with the renderer
    ``savefig`` would use (Agg at the figure's dpi: the same text extents), or takes a kept one,
    and removes the engine for the save: one draw, the same bytes (tested against ``savefig``).
    PNG only, and only where rc settings would not change that renderer, the box or the
    engine (``savefig.dpi``, ``savefig.bbox``, ``figure.autolayout``,
    ``figure.constrained_layout.use``)."""
    import matplotlib as mpl  # noqa: PLC0415

    rc = mpl.rcParams
    return fmt == "png" and rc["savefig.dpi"] in ("figure", fig.dpi) and not rc["savefig.bbox"] \
        and not rc["figure.autolayout"] and not rc["figure.constrained_layout.use"]


def figure_bytes(fig: Any, fmt: str = "png") -> bytes:
    """Render a Figure to PNG or SVG bytes (reusing a known constrained layout, see above)."""
    key = layout_signature(fig)
    key = None if key is None else (fmt,) + key  # text extents depend on the renderer
    cached = _cached_layout(key, len(fig.axes))
    once = key is not None and _paint_once(fig, fmt)
    if cached is not None:
        fig.set_layout_engine("none")
        for ax, position in zip(fig.axes, cached):
            ax._set_position(position, which="original")
    elif once:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        fig.get_layout_engine().execute(fig)
    if once:
        fig.set_layout_engine(None)  # no engine (rc allows none): savefig draws once
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    if key is not None and cached is None:
        with _LAYOUTS_LOCK:
            _LAYOUTS[key] = [ax.get_position(original=True).frozen() for ax in fig.axes]
            while len(_LAYOUTS) > _LAYOUTS_MAX:
                _LAYOUTS.popitem(last=False)
    return buf.getvalue()


def heatmap_figure(data: np.ndarray, *, x_labels: Sequence[str] | None = None,
                   y_labels: Sequence[str] | None = None, title: str = "",
                   xlabel: str = "", ylabel: str = "", cmap: str = "viridis",
                   vmin: float | None = None, vmax: float | None = None,
                   annotate: bool = False, size: tuple[float, float] | None = None,
                   signed: bool = False) -> Any:
    """A labelled heatmap of a 2-D array (rows on y, columns on x). ``signed``: a diverging
    colour map centred on zero (blue below, red above, white at 0) for signed effects."""
    data = np.asarray(data, np.float64)
    if signed:
        top = float(np.nanmax(np.abs(data))) if data.size else 0.0
        top = top if top > 0 else 1.0
        cmap, vmin, vmax = "RdBu_r", -top, top
    rows, cols = data.shape
    if size is None:
        size = (min(2.5 + 0.28 * cols, 14.0), min(2.0 + 0.25 * rows, 12.0))
    fig = new_figure(*size)
    ax = fig.add_subplot()
    im = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    set_heatmap_labels(ax, data.shape, x_labels, y_labels)
    if annotate and rows * cols <= 400:
        for r in range(rows):
            for c in range(cols):
                # dark text on the light middle of the colour map, white on its dark ends
                light = 0.25 < im.norm(data[r, c]) < 0.75 if signed else False
                ax.text(c, r, f"{data[r, c]:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if light else "white")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def set_heatmap_labels(ax: Any, shape: tuple[int, int], x_labels: Sequence[str] | None,
                       y_labels: Sequence[str] | None) -> None:
    """A heatmap's token labels (one tick per column / row); ``_frames`` relabels kept figures
    with it."""
    rows, cols = shape
    fontsize = 8 if max(rows, cols) <= 40 else 6
    if x_labels is not None:
        ax.set_xticks(range(cols), [str(t) for t in x_labels], rotation=90, fontsize=fontsize)
    if y_labels is not None:
        ax.set_yticks(range(rows), [str(t) for t in y_labels], fontsize=fontsize)
