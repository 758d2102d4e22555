"""Shared pieces of the widgets: loading models by name, messages instead of tracebacks,
atomic exports of figures, token windows and the widget shell (``ShellMixin``). The figures
themselves (``new_figure``, ``heatmap_figure``, ``figure_bytes``) are in ``_figures`` and
re-exported here; the attention views' layer / head / window shell is ``_head_view``.
"""

from __future__ import annotations

import base64
import functools
import html
import os
from typing import Any, Callable, Sequence

import numpy as np

from ._figures import axes_layout, figure_bytes, heatmap_figure, layout_signature, new_figure

__all__ = ["WidgetInputError", "load_model", "load_tokenizer", "encode_text", "guarded",
           "figure_bytes", "axes_layout", "layout_signature", "new_figure", "write_atomic",
           "export_figure", "html_page", "heatmap_figure", "clamp_window", "token_labels",
           "new_image", "put_image"]


class WidgetInputError(ValueError):
    """Bad user input (no ``<mask>``, empty text, too long...): shown as a message."""


MAX_TOP_K = 200  # more candidates than a figure can show legibly (and a vocabulary-sized draw hangs)


def int_argument(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """A widget's integer argument in [low, high]; anything else (a negative ``top_k``, a
    float, a bool) is a WidgetInputError naming it, before any work.

    >>> int_argument("top_k", 5, 1, 100)
    5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise WidgetInputError(f"{name} must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise WidgetInputError(f"{name} must be {bound}, got {value}.")
    return int(value)


def rate_argument(name: str, value: Any) -> float:
    """A share in (0, 1]; anything else is a WidgetInputError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not 0 < value <= 1:
        raise WidgetInputError(f"{name} must be a number in (0, 1], got {value!r}.")
    return float(value)


# --- models and tokenizers ------------------------------------------------------------------
_LOADED: dict[tuple[str, str], Any] = {}


def load_tokenizer(name: str) -> Any:
    """AutoTokenizer for a bundled name, folder or hub id (cached per name)."""
    key = ("tokenizer", name)
    if key not in _LOADED:
        from roberta_lab import AutoTokenizer  # noqa: PLC0415

        try:
            _LOADED[key] = AutoTokenizer.from_pretrained(name)
        except Exception as exc:  # noqa: BLE001 - turned into a sentence for the widget
            raise WidgetInputError(f"Could not load the tokenizer {name!r}: {exc}") from exc
    return _LOADED[key]


def load_model(name: str, kind: str = "auto") -> Any:
    """A model by name (``roberta-lab/mini-mlm``, a folder or a hub id), cached per name.

    ``kind``: "mlm" (TFRobertaForMaskedLM), "causal" (TFRobertaForCausalLM), "base"
    (TFRobertaModel) or "auto" (causal when the config says ``is_decoder``, else mlm).
    An unknown name is a ``WidgetInputError`` naming the bundled models.
    """
    if not isinstance(name, str) or not name.strip():
        raise WidgetInputError(f"A model name must be a non-empty string, got {name!r}.")
    key = (kind, name)
    if key in _LOADED:
        return _LOADED[key]
    import roberta_lab as rl  # noqa: PLC0415

    try:
        if kind == "auto":
            cfg = rl.RobertaConfig.from_pretrained(name)
            kind = "causal" if cfg.is_decoder else "mlm"
        cls = {"mlm": rl.TFRobertaForMaskedLM, "causal": rl.TFRobertaForCausalLM,
               "base": rl.TFRobertaModel}[kind]
        model = cls.from_pretrained(name)
    except KeyError:
        raise WidgetInputError(f"Unknown model kind {kind!r}.") from None
    except Exception as exc:  # noqa: BLE001
        raise WidgetInputError(f"Could not load the model {name!r} (bundled models: "
                               f"{rl.bundled_models()}): {exc}") from exc
    _LOADED[key] = model
    return model


def resolve(model: Any, tokenizer: Any, kind: str = "auto") -> tuple[Any, Any]:
    """(model or name, tokenizer or name or None) -> (model, tokenizer)."""
    if isinstance(model, str):
        name = model
        model = load_model(name, kind)
        if tokenizer is None:
            tokenizer = load_tokenizer(name)
    if isinstance(tokenizer, str):
        tokenizer = load_tokenizer(tokenizer)
    if tokenizer is None:
        raise WidgetInputError("A tokenizer is needed with a model object: pass tokenizer=.")
    return model, tokenizer


def encode_text(tokenizer: Any, text: Any, max_length: int, *, need_mask: bool = False
                ) -> np.ndarray:
    """text -> int32 ids [1, seq], or a WidgetInputError with a clear sentence."""
    if not isinstance(text, str) or not text.strip():
        raise WidgetInputError("The text is empty: type a sentence.")
    mask_token = tokenizer.mask_token
    if need_mask and mask_token not in text:
        raise WidgetInputError(f"The text has no {mask_token}: put {mask_token} where a word "
                               "should be predicted.")
    ids = np.asarray(tokenizer(text, return_tensors="np")["input_ids"], np.int32)
    if ids.shape[1] > max_length:
        raise WidgetInputError(f"The text is {ids.shape[1]} tokens long; this model reads at "
                               f"most {max_length} tokens (config.max_sequence_length).")
    return ids


def token_labels(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Readable token strings for axes."""
    ids = [int(i) for i in ids]
    if hasattr(tokenizer, "display_tokens"):
        return list(tokenizer.display_tokens(ids))
    return [tokenizer.decode([i]) for i in ids]


# --- messages ---------------------------------------------------------------------------------
def message_html(text: str, kind: str = "error") -> str:
    color = {"error": "#b00020", "info": "#555555"}.get(kind, "#555555")
    return f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""


def guarded(method: Callable) -> Callable:
    """Wrap a widget callback: any exception becomes a sentence in ``self.message``."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except WidgetInputError as exc:
            self.show_message(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a widget never shows a traceback
            self.show_message(f"Something went wrong: {type(exc).__name__}: {exc}")
            return None
        return result

    return wrapper


def write_atomic(path: str | os.PathLike, data: bytes) -> str:
    """Write bytes to a temp file beside ``path`` and os.replace it in (see
    ``roberta_lab.model.files.write_atomic``: a folder or an unwritable path is refused, a
    failure leaves any earlier file as it was)."""
    from roberta_lab.model.files import write_atomic as write  # noqa: PLC0415

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    write(path, data)
    return path


def html_page(title: str, fig: Any, extra_html: str = "") -> str:
    """A self-contained HTML page: the figure inlined as a base64 PNG, no external resources."""
    png = base64.b64encode(figure_bytes(fig, "png")).decode("ascii")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif} table{border-collapse:collapse}"
            " td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
            f"<h3>{html.escape(title)}</h3>"
            f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
            f"{extra_html}</body></html>\n")


def export_figure(fig: Any, path: str | os.PathLike, title: str = "roberta_lab",
                  extra_html: str = "") -> str:
    """Write ``fig`` as .png, .svg or .html (self-contained), chosen by the extension."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".png":
        data = figure_bytes(fig, "png")
    elif ext == ".svg":
        data = figure_bytes(fig, "svg")
    elif ext in (".html", ".htm"):
        data = html_page(title, fig, extra_html).encode("utf-8")
    else:
        raise WidgetInputError(f"Cannot export to {os.fspath(path)!r}: use a .png, .svg or "
                               ".html file name.")
    return write_atomic(path, data)


def new_image() -> Any:
    """An ``ipywidgets.Image`` hidden until ``put_image`` gives it a picture (an empty Image
    shows the browser's broken-image icon)."""
    import ipywidgets as W  # noqa: PLC0415

    return W.Image(format="png", layout=W.Layout(display="none"))


def put_image(image: Any, data: bytes) -> None:
    image.value = data
    image.layout.display = None if data else "none"


def clamp_window(window: tuple[int, int] | None, length: int) -> tuple[int, int]:
    """(start, stop) clipped to [0, length], stop > start; None -> the whole range."""
    if window is None:
        return 0, length
    start, stop = int(window[0]), int(window[1])
    start = min(max(start, 0), max(length - 1, 0))
    stop = min(max(stop, start + 1), length)
    return start, stop


def head_options(n_heads: int, with_all: bool = False) -> list[tuple[str, Any]]:
    opts = [(f"head {h}", h) for h in range(n_heads)]
    return ([("all heads", "all")] if with_all else []) + opts


class ShellMixin:
    """What every widget shell has: ``message`` (an HTML widget) and ``show_message``."""

    message: Any
    widget: Any

    def _repr_mimebundle_(self, **kw: Any) -> Any:  # pragma: no cover - notebook only
        return self.widget._repr_mimebundle_(**kw)

    def show_plot(self, image: Any, key: Any, make_figure: Callable[[], Any]) -> None:
        """Render ``make_figure()`` into the Image widget unless it already shows ``key``
        (rendering is the slow part of an update; unchanged views are skipped)."""
        self.show_png(image, key, lambda: figure_bytes(make_figure()))

    def show_png(self, image: Any, key: Any, make_png: Callable[[], bytes]) -> None:
        """Put ``make_png()`` into the Image widget unless it already shows ``key``."""
        shown = self.__dict__.setdefault("_shown", {})
        if shown.get(id(image)) == key and image.value:
            return
        put_image(image, make_png())
        shown[id(image)] = key

    def show_heatmap(self, image: Any, key: Any, data: np.ndarray, options: dict) -> None:
        """``show_plot`` for ``heatmap_figure(data, **options)``: a view that keeps the frame
        (labels, size) redraws only the pattern, title and colour bar (``_frames``)."""
        from ._frames import HeatmapFrames  # noqa: PLC0415

        frames = self.__dict__.setdefault("_shown", {}).setdefault(("frames", id(image)),
                                                                  HeatmapFrames())
        self.show_png(image, key, lambda: frames.png(data, **options))

    def show_message(self, text: str, kind: str = "error") -> None:
        self.message.value = message_html(text, kind)

    def clear_message(self) -> None:
        self.message.value = ""

    @property
    def message_text(self) -> str:
        """The message shown, as plain text ('' when none)."""
        import re  # noqa: PLC0415

        return html.unescape(re.sub(r"<[^>]+>", "", self.message.value))
