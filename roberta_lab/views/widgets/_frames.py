"""Heatmap views redrawn in part: a widget switching layer or head changes the pattern, its
colour scale and the title, not the token labels around it, and drawing those labels is most
of what matplotlib spends on a frame (bench/results/widgets: about 100 ms of CPU per frame on
the bundled models, most of it text layout).

``HeatmapFrames`` keeps ``heatmap_figure``s per widget image, one per data shape (at most
``_FIGURES_MAX``). A view with the same frame (same data shape, labels, axis names, size and
colour options) updates the image's data and colour limits and the title in place, then draws
only what changed (the pattern, the title and the colour bar) over a stored picture of the
rest, the frame, made once per layout (matplotlib's blitting: ``copy_from_bbox``/
``restore_region``), in the order a full draw paints them. New labels on a kept shape (another
text of the same length, the same window size over other tokens) are set on the kept figure,
which is laid out again from its built positions and drawn in full, without building a
figure. Anything else, or texts whose constrained layout was not computed yet (a new title or
colour bar labelling: layouts are kept per signature, see ``_figures.figure_bytes``), is a
full draw by ``figure_bytes``. Either way the pixels are those of a fresh ``heatmap_figure``
(tested).

Example:
    >>> import numpy as np
    >>> frames = HeatmapFrames()
    >>> png = frames.png(np.eye(3), x_labels="abc", y_labels="abc", vmin=0.0, title="head 0")
    >>> png[:4] == b"\\x89PNG", frames.png(np.eye(3)[::-1], x_labels="abc", y_labels="abc",
    ...                                   vmin=0.0, title="head 1")[:4] == b"\\x89PNG"
    (True, True)
"""

from __future__ import annotations

import collections
import io
import threading
from typing import Any

import numpy as np

from ._figures import axes_layout, figure_bytes, heatmap_figure, set_heatmap_labels

# Options a figure is built with besides its labels; a change of any of them (or of the data's
# shape) is another figure.
_STATIC = ("xlabel", "ylabel", "cmap", "vmin", "vmax", "size")
_BACKGROUNDS_MAX = 8
# Figures kept per image, one per data shape: a new text of a length seen before relabels a
# kept figure instead of building one (about 20 ms of CPU for a 10-token heatmap), and a token
# window moved back to a size it had finds its frame. Each holds its Agg buffer (up to 7 MB
# for the largest heatmap).
_FIGURES_MAX = 4


class HeatmapFrames:
    """PNG bytes of ``heatmap_figure(data, **options)`` views, reusing kept figures (see above).
    ``annotate`` and ``signed`` views (values written in cells, a symmetric scale) are always
    drawn in full. Thread-safe (one lock per instance)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: collections.OrderedDict = collections.OrderedDict()  # key -> _Figure
        self._backgrounds: collections.OrderedDict = collections.OrderedDict()
        self.full_draws = 0  # for tests and the benchmark: frames drawn from scratch
        self.figures_built = 0  # and figures built (the rest were kept ones, relabelled)

    def png(self, data: np.ndarray, **options: Any) -> bytes:
        data = np.asarray(data, np.float64)
        if options.get("annotate") or options.get("signed") or not np.isfinite(data).all() \
                or data.size == 0:
            self.full_draws += 1
            return figure_bytes(heatmap_figure(data, **options))
        key = (data.shape,) + tuple(_freeze(options.get(k)) for k in _STATIC)
        labels = (_freeze(options.get("x_labels")), _freeze(options.get("y_labels")))
        with self._lock:
            kept = self._figures.get(key)
            if kept is not None and kept.labels == labels:
                self._figures.move_to_end(key)
                return self._redraw(kept, data, options)
            if kept is not None and None not in labels + kept.labels:
                self._figures.move_to_end(key)
                kept.relabel(data, options)  # same frame, other tokens: laid out afresh
            else:
                if kept is not None:
                    self._drop_backgrounds(kept)
                kept = self._figures[key] = _Figure(data, options)
                self.figures_built += 1
                self._figures.move_to_end(key)
                while len(self._figures) > _FIGURES_MAX:
                    self._drop_backgrounds(self._figures.popitem(last=False)[1])
            self._drop_backgrounds(kept)  # pictures of its frame with the old labels
            kept.labels = labels
            self.full_draws += 1
            return figure_bytes(kept.fig)

    def _drop_backgrounds(self, kept: Any) -> None:
        for bkey in [b for b in self._backgrounds if b[0] == id(kept)]:
            del self._backgrounds[bkey]

    def _redraw(self, kept: Any, data: np.ndarray, options: dict) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

        fig = kept.fig
        ax, cbar_ax = fig.axes[0], fig.axes[1]
        image = _show(fig, data, options)
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        fig.set_layout_engine("constrained")  # so that the layout below is looked up afresh
        positions = axes_layout(fig)
        if positions is None:  # texts not laid out yet (a new title or colour bar labelling)
            self.full_draws += 1
            kept.restart()
            return figure_bytes(fig)
        fig.set_layout_engine("none")
        for a, position in zip(fig.axes, positions):
            a._set_position(position, which="original")
        ax.apply_aspect()  # the active position too: only a full draw would set it
        # painted in Axes.draw's order: the pattern, then the frame lines over its edge
        dynamic = (image, *ax.spines.values(), ax.title, cbar_ax)
        bkey = (id(kept),) + tuple(tuple(p.bounds) for p in positions)
        return _paint_over(canvas, self._backgrounds, bkey, list(dynamic), [ax])


class _Figure:
    """One kept ``heatmap_figure``: the labels it shows and its axes' positions as built,
    before any layout (a constrained layout of new texts starts from them, as on a fresh
    figure)."""

    def __init__(self, data: np.ndarray, options: dict) -> None:
        self.fig = heatmap_figure(data, **options)
        self.labels: Any = None
        self.built = [ax.get_position(original=True).frozen() for ax in self.fig.axes]

    def restart(self) -> None:
        """Back to the built positions, to be laid out again."""
        self.fig.set_layout_engine("constrained")
        for ax, position in zip(self.fig.axes, self.built):
            ax._set_position(position, which="both")

    def relabel(self, data: np.ndarray, options: dict) -> None:
        """The labels, data, colour limits and title of ``options``, as a fresh figure has."""
        set_heatmap_labels(self.fig.axes[0], data.shape, options.get("x_labels"),
                           options.get("y_labels"))
        _show(self.fig, data, options)
        self.restart()


def _show(fig: Any, data: np.ndarray, options: dict) -> Any:
    """The pattern, its colour limits and the title of a kept heatmap figure; its image."""
    ax = fig.axes[0]
    image = ax.images[0]
    image.set_data(data)
    # imshow's own scaling: a limit not given is the data's min / max
    vmin, vmax = options.get("vmin"), options.get("vmax")
    image.set_clim(data.min() if vmin is None else vmin, data.max() if vmax is None else vmax)
    ax.set_title(options.get("title", ""), fontsize=10)
    return image


def _png(canvas: Any, dpi: float) -> bytes:
    """The canvas' pixels as PNG, written as ``savefig`` writes them (same metadata and dpi)."""
    from matplotlib.image import imsave  # noqa: PLC0415

    buf = io.BytesIO()
    imsave(buf, np.asarray(canvas.buffer_rgba()), format="png", origin="upper", dpi=dpi)
    return buf.getvalue()


def _freeze(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    return tuple(str(v) for v in value)


class StepMarkerFrames:
    """PNG bytes of ``make_figure(step)``, a plot whose only change from step to step is its
    last line, a vertical step marker (the cache-steps widget's size and time plots): the
    figure is built and drawn once; a step moves the marker and redraws it, the frame lines
    and the legend (the artists over it) on the stored rest. Byte for byte ``make_figure(step)``
    (tested)."""

    def __init__(self, make_figure: Any) -> None:
        self._make = make_figure
        self._lock = threading.Lock()
        self._fig: Any = None
        self._background: Any = None
        self.full_draws = 0

    def png(self, step: int) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

        with self._lock:
            if self._fig is None:
                fig = self._make(step)
                png = figure_bytes(fig)
                self.full_draws += 1
                fig.set_layout_engine("none")  # keep the positions just found
                canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) \
                    else FigureCanvasAgg(fig)
                with _animated(self._dynamic(fig)):
                    canvas.draw()
                self._background = canvas.copy_from_bbox(fig.bbox)
                self._fig = fig
                return png
            fig = self._fig
            ax = fig.axes[0]
            ax.lines[-1].set_xdata([step, step])
            canvas = fig.canvas
            canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            for artist in self._dynamic(fig):
                artist.draw(renderer)
            return _png(canvas, fig.dpi)

    @staticmethod
    def _dynamic(fig: Any) -> list:
        """The marker and what Axes.draw paints after it (frame lines, legend), in its order."""
        ax = fig.axes[0]
        return [ax.lines[-1], *ax.spines.values()] + \
            ([ax.get_legend()] if ax.get_legend() is not None else [])


def _paint_over(canvas: Any, backgrounds: collections.OrderedDict, bkey: Any, dynamic: list,
                titled_axes: list) -> bytes:
    """PNG bytes of ``canvas``'s figure: the stored picture of everything but ``dynamic``
    (drawn and kept under ``bkey`` the first time, the least recently used dropped past
    ``_BACKGROUNDS_MAX``), with ``dynamic`` painted over it in the order given."""
    background = backgrounds.get(bkey)
    if background is None:
        with _animated(dynamic):
            canvas.draw()  # everything but the dynamic artists
        background = canvas.copy_from_bbox(canvas.figure.bbox)
        backgrounds[bkey] = background
        while len(backgrounds) > _BACKGROUNDS_MAX:
            backgrounds.popitem(last=False)
    else:
        backgrounds.move_to_end(bkey)
        canvas.restore_region(background)
    renderer = canvas.get_renderer()
    for ax in titled_axes:
        ax._update_title_position(renderer)  # as Axes.draw places it
    for artist in dynamic:
        artist.draw(renderer)
    return _png(canvas, canvas.figure.dpi)


class _animated:
    """Mark artists animated (skipped by a full draw) for the block."""

    def __init__(self, artists: list) -> None:
        self.artists = artists

    def __enter__(self) -> None:
        for artist in self.artists:
            artist.set_animated(True)

    def __exit__(self, *exc: Any) -> None:
        for artist in self.artists:
            artist.set_animated(False)


class BarFrames:
    """PNG bytes of bar-chart figures (each axes one ``barh``: the mask-prediction and
    head-ablation widgets): a figure like the last one (same size, axes, bar count, colours,
    limits) has its bar lengths, tick labels and titles copied into the kept figure, which
    redraws only those (with the frame lines) over a stored picture of the rest, once its
    layout is known (texts decide it; see ``figure_bytes``). Byte for byte the given figure's
    own picture (tested)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None
        self._fig: Any = None
        self._backgrounds: collections.OrderedDict = collections.OrderedDict()
        self.full_draws = 0

    def png(self, fig: Any) -> bytes:
        key = _bars_key(fig)
        with self._lock:
            if key is None or key != self._key:
                self._fig, self._key = (fig, key) if key is not None else (None, None)
                self._backgrounds.clear()
                self.full_draws += 1
                return figure_bytes(fig)
            return self._redraw(fig)

    def _redraw(self, new: Any) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

        fig = self._fig
        for ax, src in zip(fig.axes, new.axes):
            for bar, other in zip(ax.patches, src.patches):
                bar.set_width(other.get_width())
            labels = src.get_yticklabels()
            ax.set_yticks(src.get_yticks(), [t.get_text() for t in labels],
                          fontsize=labels[0].get_fontsize() if labels else None)
            ax.set_title(src.get_title(), fontsize=src.title.get_fontsize())
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        fig.set_layout_engine("constrained")
        positions = axes_layout(fig)
        if positions is None:
            self.full_draws += 1
            return figure_bytes(fig)
        fig.set_layout_engine("none")
        for ax, position in zip(fig.axes, positions):
            ax._set_position(position, which="original")
            ax.apply_aspect()
        # per axes in Axes.draw's order: bars, the y axis (labels), frame lines, title
        dynamic = [a for ax in fig.axes for a in (*ax.patches, ax.yaxis, *ax.spines.values(),
                                                  ax.title)]
        bkey = tuple(tuple(p.bounds) for p in positions)
        return _paint_over(canvas, self._backgrounds, bkey, dynamic, fig.axes)


def _bars_key(fig: Any) -> Any:
    """What a bar figure's frame is made of, or None when it is not one ``BarFrames`` handles
    (an axes with anything but bars: lines, images, texts, a legend)."""
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    parts: list = [tuple(fig.get_size_inches()), fig.dpi]
    for ax in fig.axes:
        if ax.lines or ax.images or ax.texts or ax.collections or ax.get_legend() is not None \
                or not ax.patches or not all(type(p) is Rectangle for p in ax.patches):
            return None
        spec = ax.get_subplotspec()
        parts.append((spec.get_geometry() if spec else None, ax.get_xlim(), ax.get_xlabel(),
                      ax.get_ylabel(), tuple(ax.get_yticks()),
                      tuple((p.get_y(), p.get_height(), p.get_x(), p.get_facecolor())
                            for p in ax.patches)))
    return tuple(parts)
