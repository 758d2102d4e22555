"""Cache steps: step through a greedy generation with the causal model's KV cache.

    >>> cache_steps("roberta-lab/mini-causal", prompt="The keys to the cabinet")  # doctest: +SKIP

Built on ``roberta_lab.step_trace.trace_generation``. At step ``i`` the query is the token fed
at that step (the last prompt token at step 0) and the keys are every cached position
(prompt + i of them). Shown: the tokens so far, that query's attention over the cached
positions for one layer and head (or all heads of the layer as a small heatmap) within a token
window, the cache size per layer against the step, and the time per step with and without
the cache.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ._common import (ShellMixin, WidgetInputError, clamp_window, encode_text, export_figure,
                      guarded, head_options, heatmap_figure, int_argument, MAX_TOP_K, new_figure,
                      new_image, resolve,
                      token_labels)

DEFAULT_PROMPT = "The keys to the cabinet"  # mini-causal: " which the friend follows are red."
DEFAULT_WINDOW = 64


class CacheStepsController:
    """Prompt -> ``trace_generation`` -> per-step views."""

    def __init__(self, model: Any, tokenizer: Any, prompt: str = DEFAULT_PROMPT, *,
                 max_new_tokens: int = 8, top_k: int = 5, stop_at_eos: bool = True,
                 repeats: int = 5):
        from roberta_lab.engine.generation import prompt_ids  # noqa: PLC0415
        from roberta_lab.engine.step_trace import trace_generation  # noqa: PLC0415

        cfg = model.config
        max_new_tokens = int_argument("max_new_tokens", max_new_tokens, 1)
        top_k = int_argument("top_k", top_k, 1, min(cfg.vocab_size, MAX_TOP_K))
        if not cfg.is_decoder:
            raise WidgetInputError("Cache steps need a causal model (config.is_decoder=True), "
                                   "e.g. roberta-lab/mini-causal.")
        limit = cfg.max_sequence_length
        encode_text(tokenizer, prompt, limit + 1)  # empty or non-text prompts: a message
        ids = prompt_ids(tokenizer, prompt)  # no trailing </s>: a prompt is continued
        if int(max_new_tokens) < 1:
            raise WidgetInputError("Generate at least one new token.")
        if ids.shape[1] + int(max_new_tokens) - 1 > limit:
            raise WidgetInputError(f"A prompt of {ids.shape[1]} tokens plus {max_new_tokens} new "
                                   f"tokens is longer than the model's {limit} positions.")
        self.model, self.tokenizer = model, tokenizer
        self.n_layers, self.n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
        self.prompt_ids = ids[0].tolist()
        self.trace = trace_generation(model, ids, max_new_tokens=int(max_new_tokens),
                                      top_k=top_k, tokenizer=tokenizer, stop_at_eos=stop_at_eos,
                                      repeats=repeats)
        self.all_ids = self.prompt_ids + self.trace.tokens
        self.all_tokens = token_labels(tokenizer, self.all_ids)

    @property
    def n_steps(self) -> int:
        return len(self.trace.steps)

    def _step(self, step: int) -> Any:
        if not 0 <= int(step) < self.n_steps:
            raise WidgetInputError(f"Step {step} is outside 0..{self.n_steps - 1}.")
        return self.trace.steps[int(step)]

    def n_keys(self, step: int) -> int:
        return len(self.prompt_ids) + int(step)

    def tokens_so_far(self, step: int) -> list[str]:
        """Prompt and generated tokens up to and including the one chosen at ``step``."""
        self._step(step)
        return self.all_tokens[:len(self.prompt_ids) + int(step) + 1]

    def key_labels(self, step: int, window: tuple[int, int] | None = None) -> list[str]:
        a, b = clamp_window(window, self.n_keys(step))
        return self.all_tokens[a:b]

    def attention(self, step: int, layer: int, head: Any = "all",
                  window: tuple[int, int] | None = None) -> np.ndarray:
        """The step's query attention over the cached positions in the window:
        [keys] for one head, [heads, keys] for "all"."""
        s = self._step(step)
        if not 0 <= int(layer) < self.n_layers:
            raise WidgetInputError(f"Layer {layer} is outside 0..{self.n_layers - 1}.")
        a, b = clamp_window(window, s.self_attention.shape[-1])
        att = s.self_attention[int(layer), :, a:b]
        return att if head == "all" else att[int(head)]

    def bytes_per_layer(self) -> np.ndarray:
        """[steps, layers] cache bytes of each layer after each step."""
        out = np.zeros((self.n_steps, self.n_layers))
        for i, s in enumerate(self.trace.steps):
            elems = np.array([sum(int(np.prod(shape)) for shape in layer)
                              for layer in s.cache_shapes], np.float64)
            out[i] = elems * (s.cache_bytes / max(elems.sum(), 1))
        return out

    def bytes_series(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, total cache bytes): one point per step."""
        return np.arange(self.n_steps), np.asarray(self.trace.cache_bytes, np.float64)

    # --- figures ----------------------------------------------------------------------------
    def attention_figure(self, step: int, layer: int, head: Any = "all",
                         window: tuple[int, int] | None = None) -> Any:
        a, b = clamp_window(window, self.n_keys(step))
        labels = self.key_labels(step, (a, b))
        att = self.attention(step, layer, head, (a, b))
        query = self.all_tokens[len(self.prompt_ids) + int(step) - 1]
        title = f"step {step}: query {query!r}, layer {layer}"
        if head == "all":
            data, options = self.heatmap_args(step, layer, window)
            return heatmap_figure(data, **options)
        fig = new_figure(min(3 + 0.3 * len(labels), 14), 3.0)
        ax = fig.add_subplot()
        ax.bar(range(len(labels)), att, color="#4c72b0")
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("attention")
        ax.set_title(f"{title}, head {head}", fontsize=9)
        return fig

    def heatmap_args(self, step: int, layer: int, window: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, dict]:
        """(data, options) of the all-heads ``heatmap_figure`` [heads, keys] of a step."""
        a, b = clamp_window(window, self.n_keys(step))
        labels = self.key_labels(step, (a, b))
        query = self.all_tokens[len(self.prompt_ids) + int(step) - 1]
        return self.attention(step, layer, "all", (a, b)), dict(
            x_labels=labels, y_labels=range(self.n_heads), xlabel="cached position",
            ylabel="head", vmin=0.0, title=f"step {step}: query {query!r}, layer {layer}",
            size=(min(3 + 0.3 * len(labels), 14), 3.0))

    def bytes_figure(self, step: int | None = None) -> Any:
        fig = new_figure(4.5, 3.0)
        ax = fig.add_subplot()
        per_layer = self.bytes_per_layer()
        steps = np.arange(self.n_steps)
        for layer in range(self.n_layers):
            ax.plot(steps, per_layer[:, layer] / 1024, marker="o", ms=3, label=f"layer {layer}")
        if step is not None:
            ax.axvline(step, color="grey", ls=":")
        _integer_steps(ax)
        ax.set_ylabel("cache KiB per layer")
        ax.set_title("KV cache size", fontsize=9)
        if self.n_layers <= 6:
            ax.legend(fontsize=7)
        return fig

    def times_figure(self, step: int | None = None) -> Any:
        fig = new_figure(4.5, 3.0)
        ax = fig.add_subplot()
        steps = np.arange(self.n_steps)
        ax.plot(steps, 1e3 * np.asarray(self.trace.times_cached), marker="o", ms=3,
                label="with cache")
        unc = [np.nan if t is None else t for t in self.trace.times_uncached]
        ax.plot(steps, 1e3 * np.asarray(unc, np.float64), marker="s", ms=3, label="no cache")
        if step is not None:
            ax.axvline(step, color="grey", ls=":")
        _integer_steps(ax)
        ax.set_ylabel("ms per step")
        t = self.trace.timing
        ax.set_title(f"compiled both ways, warm, median of {t.get('repeats', '?')} runs",
                     fontsize=8)
        ax.legend(fontsize=7)
        return fig

    def step_html(self, step: int) -> str:
        s = self._step(step)
        toks = self.tokens_so_far(step)
        n_prompt = len(self.prompt_ids)
        parts = [html.escape(t) if i < n_prompt else
                 (f"<b>{html.escape(t)}</b>" if i < len(toks) - 1 else
                  f'<b style="background:#ffe08a">{html.escape(t)}</b>')
                 for i, t in enumerate(toks)]
        top = ", ".join(f"{html.escape(repr(t))} {p:.3f}"
                        for t, p in zip(s.top_texts or s.top_ids, s.top_probs))
        return (f"<p>{''.join(parts)}</p><p>step {step}: new token "
                f"{html.escape(repr(s.text))}; top-{len(s.top_probs)}: {top}; cache "
                f"{s.cache_bytes / 1024:.1f} KiB; {1e3 * s.time_s:.1f} ms</p>")


def _integer_steps(ax: Any) -> None:
    """Steps are counted: integer ticks only."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")


class CacheStepsWidget(ShellMixin):
    """A step slider over ``trace_generation`` with layer/head choices and a key window."""

    def __init__(self, model: Any, tokenizer: Any = None, *, prompt: str = DEFAULT_PROMPT,
                 max_new_tokens: int = 8, top_k: int = 5, stop_at_eos: bool = True,
                 repeats: int = 5):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.controller = None
        try:
            model, tokenizer = resolve(model, tokenizer, "causal")
            self.controller = CacheStepsController(model, tokenizer, prompt,
                                                   max_new_tokens=max_new_tokens, top_k=top_k,
                                                   stop_at_eos=stop_at_eos, repeats=repeats)
        except Exception as exc:  # noqa: BLE001
            self.show_message(str(exc))
        c = self.controller
        if c is not None:
            from ._frames import StepMarkerFrames  # noqa: PLC0415

            self._marker_frames = (StepMarkerFrames(c.bytes_figure),
                                   StepMarkerFrames(c.times_figure))
        n, L, H = (c.n_steps, c.n_layers, c.n_heads) if c else (1, 1, 1)
        keys = c.n_keys(n - 1) if c else 1
        self.step = W.IntSlider(value=0, min=0, max=n - 1, description="step")
        self.layer_select = W.Dropdown(options=list(range(L)), description="layer")
        self.head_select = W.Dropdown(options=head_options(H, with_all=True), value="all",
                                      description="head")
        self.window = W.IntRangeSlider(value=clamp_window((max(keys - DEFAULT_WINDOW, 0), keys),
                                                          keys),
                                       min=0, max=keys, description="keys")
        self.tokens = W.HTML()
        self.attention_plot, self.bytes_plot, self.times_plot = (new_image() for _ in range(3))
        self.widget = W.VBox([self.step, W.HBox([self.layer_select, self.head_select]),
                              self.window, self.message, self.tokens, self.attention_plot,
                              W.HBox([self.bytes_plot, self.times_plot])])
        for w in (self.step, self.layer_select, self.head_select, self.window):
            w.observe(lambda _: self.update(), names="value")
        if c is not None:
            self.update()

    @property
    def view(self) -> tuple[int, int, Any, tuple[int, int]]:
        return (self.step.value, self.layer_select.value, self.head_select.value,
                tuple(self.window.value))

    @property
    def attention_data(self) -> np.ndarray:
        step, layer, head, window = self.view
        return self.controller.attention(step, layer, head, window)

    @guarded
    def update(self) -> None:
        if self.controller is None:
            return
        c = self.controller
        step, layer, head, window = self.view
        self.tokens.value = c.step_html(step)
        if head == "all":
            self.show_heatmap(self.attention_plot, self.view,
                              *c.heatmap_args(step, layer, window))
        else:
            self.show_plot(self.attention_plot, self.view,
                           lambda: c.attention_figure(step, layer, head, window))
        # the size and time plots change only by their step marker: moved, not redrawn
        self.show_png(self.bytes_plot, step, lambda: self._marker_frames[0].png(step))
        self.show_png(self.times_plot, step, lambda: self._marker_frames[1].png(step))
        self.clear_message()

    def export(self, path: str, view: str = "attention") -> str:
        """A view ("attention", "bytes" or "times") as .png, .svg or self-contained .html."""
        if self.controller is None:
            raise WidgetInputError("Nothing to export: the widget has no model.")
        c = self.controller
        step, layer, head, window = self.view
        figs = {"attention": lambda: c.attention_figure(step, layer, head, window),
                "bytes": lambda: c.bytes_figure(step), "times": lambda: c.times_figure(step)}
        if view not in figs:
            raise WidgetInputError(f"Unknown view {view!r}: attention, bytes or times.")
        return export_figure(figs[view](), path, f"Cache steps: {view}", c.step_html(step))


def cache_steps(model: Any = "roberta-lab/mini-causal", tokenizer: Any = None,
                **kw: Any) -> CacheStepsWidget:
    """One line: ``cache_steps("roberta-lab/mini-causal", prompt="The keys to the cabinet")``."""
    return CacheStepsWidget(model, tokenizer, **kw)
