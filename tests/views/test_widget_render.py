"""Widget figures reuse a constrained layout they have seen (views/widgets/_figures.py): the
bytes are those of a fresh layout, and a changed label gets its own layout."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from roberta_lab.views.widgets import _figures  # noqa: E402
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
    _figures._LAYOUTS.clear()
    figure_bytes(make(0), fmt)  # computes and keeps the layout
    assert len(_figures._LAYOUTS) == 1
    reused = make(1)
    assert (fmt,) + _figures.layout_signature(reused) in _figures._LAYOUTS
    got = figure_bytes(reused, fmt)
    assert reused.get_layout_engine().__class__.__name__ != "ConstrainedLayoutEngine"
    _figures._LAYOUTS.clear()
    fresh = figure_bytes(make(1), fmt)
    if fmt == "svg":  # SVG files carry their date and random clip-path ids: drop them
        import re
        got, fresh = (re.sub(rb'<dc:date>[^<]*</dc:date>|id="[^"]*"|#[0-9a-z]{10,}', b"", x)
                      for x in (got, fresh))
    assert got == fresh


def savefig_png(fig) -> bytes:
    """matplotlib's own picture of a figure: savefig with its constrained layout."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def annotated(seed: int) -> object:
    data = np.random.default_rng(seed).random((2, 4)) - 0.5
    return heatmap_figure(data, x_labels=range(4), y_labels=range(2), xlabel="head",
                          ylabel="layer", signed=True, annotate=True, title="loss change")


def lines(seed: int) -> object:
    fig = new_figure(4.5, 3.0)
    ax = fig.add_subplot()
    ax.plot(np.arange(8), np.random.default_rng(seed).random(8), marker="o", label="a")
    ax.axvline(3, color="grey", ls=":")
    ax.legend(fontsize=7)
    ax.set_xlabel("step")
    return fig


@pytest.mark.parametrize("make", [heat, bars, annotated, lines])
def test_figure_bytes_are_savefigs_in_one_draw(make):
    """figure_bytes lays a figure out itself (or takes a kept layout) and saves it without
    savefig's unpainted layout draw: the bytes are savefig's, new layout or kept."""
    _figures._LAYOUTS.clear()
    for seed in (0, 1, 0):  # a new layout, then a kept one (same texts) twice
        fig = make(seed)
        assert figure_bytes(fig) == savefig_png(make(seed)), seed
        assert fig.get_layout_engine() is None  # painted once
        assert figure_bytes(fig) == savefig_png(make(seed)), seed  # and again, as it is now


def test_other_texts_get_their_own_layout():
    _figures._LAYOUTS.clear()
    figure_bytes(heat(0))
    figure_bytes(heat(0, labels=[t + "xx" for t in TOKENS]))
    figure_bytes(heat(0, title="a much longer title than before, layer 3, head 7"))
    figure_bytes(heatmap_figure(pattern(2, vmax=0.3), x_labels=TOKENS, y_labels=TOKENS,
                                vmin=0.0, title="layer 0, head 1", xlabel="key", ylabel="query"))
    assert len(_figures._LAYOUTS) == 4  # the colorbar's tick labels differ for the last one
    figure_bytes(heat(5))
    assert len(_figures._LAYOUTS) == 4


def test_heatmap_frames_redraw_in_part_with_the_pixels_of_a_fresh_figure():
    """A widget's view switch (another head: other pattern, colour scale and title, same
    labels) redraws only what changed over a stored frame; the picture is byte for byte that
    of a fresh heatmap_figure, and new labels make a new frame."""
    from roberta_lab.views.widgets._frames import HeatmapFrames

    frames = HeatmapFrames()
    views = [(pattern(seed, vmax), f"layer 0, head {seed}")
             for seed, vmax in [(0, 1.0), (1, 0.3), (2, 1.0), (3, 0.05)]]
    for data, title in views:  # first visits: layouts computed, frames drawn in full
        frames.png(data, x_labels=TOKENS, y_labels=TOKENS, vmin=0.0, title=title,
                   xlabel="key", ylabel="query")
    full = frames.full_draws
    for data, title in views[::-1] + views:
        got = frames.png(data, x_labels=TOKENS, y_labels=TOKENS, vmin=0.0, title=title,
                         xlabel="key", ylabel="query")
        fresh = figure_bytes(heatmap_figure(data, x_labels=TOKENS, y_labels=TOKENS, vmin=0.0,
                                            title=title, xlabel="key", ylabel="query"))
        assert got == fresh, title
    assert frames.full_draws == full  # every revisit was redrawn in part
    other = [t + "x" for t in TOKENS]
    got = frames.png(views[0][0], x_labels=other, y_labels=other, vmin=0.0, title="new",
                     xlabel="key", ylabel="query")
    assert frames.full_draws == full + 1
    assert got == figure_bytes(heatmap_figure(views[0][0], x_labels=other, y_labels=other,
                                              vmin=0.0, title="new", xlabel="key",
                                              ylabel="query"))


def test_heatmap_frames_relabel_a_kept_figure_with_the_pixels_of_a_fresh_figure():
    """Another text of a length seen before (or the same window over other tokens) relabels
    the figure kept for that shape; a new shape builds one. Every picture is savefig's of a
    fresh heatmap_figure, laid out anew or not, in whatever order the shapes come."""
    from roberta_lab.views.widgets._frames import HeatmapFrames

    _figures._LAYOUTS.clear()
    frames = HeatmapFrames()
    words = ["<s>", "The", " cat", " sat", " on", " the", " mat", ".", "</s>", " Paris", "x"]
    rng = np.random.default_rng(0)
    views = []
    for n in (5, 7, 5, 9, 7, 5, 3, 11, 9):
        labels = [words[int(i)] for i in rng.integers(0, len(words), n)]
        views.append((rng.random((n, n)) * rng.choice([1.0, 0.2]), dict(
            x_labels=labels, y_labels=labels, vmin=0.0, xlabel="key", ylabel="query",
            title=f"layer 0, head {n % 3}, tokens 0..{n - 1}")))
    for data, options in views + views[::-1]:
        got = frames.png(data, **options)
        assert got == savefig_png(heatmap_figure(data, **options)), options["x_labels"]
    # five shapes, the four last used kept: built 5, 7, 9, 3, 11, 9 (evicted by 11), then on
    # the way back 7 and 9 again
    assert frames.figures_built == 8


def test_step_marker_frames_move_the_marker_with_the_pixels_of_a_fresh_figure():
    """The cache-steps size and time plots: a step moves the dotted marker over a stored
    picture of the rest; byte for byte the figure drawn afresh for that step."""
    from roberta_lab.views.widgets._frames import StepMarkerFrames

    def make(step):
        fig = new_figure(4.5, 3.0)
        ax = fig.add_subplot()
        steps = np.arange(8)
        ax.plot(steps, np.sqrt(steps), marker="o", ms=3, label="with cache")
        ax.plot(steps, 0.3 * steps, marker="s", ms=3, label="no cache")
        ax.axvline(step, color="grey", ls=":")
        ax.set_title("ms per step", fontsize=8)
        ax.legend(fontsize=7)
        return fig

    frames = StepMarkerFrames(make)
    for step in [3, 0, 7, 5, 3]:
        assert frames.png(step) == figure_bytes(make(step)), step
    assert frames.full_draws == 1


def test_bar_frames_redraw_bars_and_labels_with_the_pixels_of_a_fresh_figure():
    """The mask-prediction and head-ablation bar charts: another result (bar lengths, token
    labels, titles) is copied into the kept figure and redrawn over the stored rest; byte for
    byte the new figure's own picture, in full only when its texts were never laid out."""
    from roberta_lab.views.widgets._frames import BarFrames

    frames = BarFrames()
    assert frames.png(bars(0)) == figure_bytes(bars(0))
    for seed in (1, 2, 1):
        assert frames.png(bars(seed)) == figure_bytes(bars(seed)), seed
    assert frames.full_draws == 1
    other = ("'x'", "'yy'", "'c'", "'d'", "'Paris'")
    assert frames.png(bars(3, other)) == figure_bytes(bars(3, other))
    assert frames.full_draws == 2  # new labels: laid out once
    for seed, labels in ((4, other), (5, ("'a'", "'b'", "'c'", "'d'", "'e'")), (6, other)):
        assert frames.png(bars(seed, labels)) == figure_bytes(bars(seed, labels)), seed
    assert frames.full_draws == 2
    fig = new_figure(4.0, 3.2)
    fig.add_subplot().plot([0, 1], [1, 0])
    assert frames.png(fig)[:4] == b"\x89PNG" and frames.full_draws == 3  # not bars: in full
