"""Cross-attention: the seq2seq model's decoder-to-encoder alignment, per layer and head.

    >>> cross_attention("roberta-lab/mini-seq2seq", source="a b c d")        # doctest: +SKIP
    >>> CrossAttentionWidget(encoder, decoder, tok, source="a b c d")        # doctest: +SKIP

The source is encoded once; the decoder decodes greedily from ``<s>`` (a plain loop over
``decoder(ids, encoder_hidden_states=...)``) until ``</s>`` or ``max_new_tokens``. Then one
call with ``output_attentions=True`` over the decoder inputs gives ``cross_attentions``: row
``i`` is the decoder position that *predicts* generated token ``i`` (the "predicting"
convention of ``roberta_lab.training.evaluate``), the columns are the source tokens.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ._common import (WidgetInputError, clamp_window, encode_text,
                      guarded, head_options, heatmap_figure, load_tokenizer,
                      new_image, token_labels)
from ._head_view import HeadViewMixin

DEFAULT_SOURCE = "a b c d e"


def load_seq2seq(name: str) -> tuple[Any, Any, Any]:
    """(encoder, decoder, tokenizer) from a bundled name or folder with encoder/ and decoder/."""
    from roberta_lab import TFRobertaForCausalLM, TFRobertaModel  # noqa: PLC0415
    from roberta_lab.model.hub import local_folder  # noqa: PLC0415

    try:
        folder = local_folder(name)
    except Exception as exc:  # noqa: BLE001
        raise WidgetInputError(f"Unknown seq2seq model {name!r}: {exc}") from exc
    if folder is None or not (folder / "encoder").is_dir() or not (folder / "decoder").is_dir():
        raise WidgetInputError(f"{name!r} is not a seq2seq model folder (it needs encoder/ and "
                               "decoder/ subfolders), e.g. roberta-lab/mini-seq2seq.")
    try:
        enc = TFRobertaModel.from_pretrained(str(folder / "encoder"))
        dec = TFRobertaForCausalLM.from_pretrained(str(folder / "decoder"))
    except Exception as exc:  # noqa: BLE001
        raise WidgetInputError(f"Could not load the seq2seq model {name!r}: {exc}") from exc
    return enc, dec, load_tokenizer(str(folder))


class CrossAttentionController:
    """Source text -> encoder -> greedy decoder loop -> cross-attention [layers, heads, tgt, src]."""

    def __init__(self, encoder: Any, decoder: Any, tokenizer: Any, source: str = DEFAULT_SOURCE,
                 *, max_new_tokens: int = 32):
        dcfg = decoder.config
        if not (dcfg.is_decoder and dcfg.add_cross_attention):
            raise WidgetInputError("The decoder needs config.is_decoder=True and "
                                   "add_cross_attention=True.")
        self.encoder, self.decoder, self.tokenizer = encoder, decoder, tokenizer
        self.n_layers, self.n_heads = dcfg.num_hidden_layers, dcfg.num_attention_heads
        self.max_new_tokens = int(max_new_tokens)
        if self.max_new_tokens < 1:
            raise WidgetInputError("Decode at least one token.")
        self.source: str | None = None
        self.n_runs = 0
        self.set_source(source)

    def set_source(self, source: str) -> bool:
        if source == self.source:
            return False
        tok, dcfg = self.tokenizer, self.decoder.config
        src = encode_text(tok, source, self.encoder.config.max_sequence_length)
        src_mask = np.ones_like(src)
        states = self.encoder(src, attention_mask=src_mask).last_hidden_state
        bos = dcfg.bos_token_id if dcfg.bos_token_id is not None else tok.bos_token_id
        eos = dcfg.eos_token_id if dcfg.eos_token_id is not None else tok.eos_token_id
        ids = [int(bos)]
        budget = min(self.max_new_tokens, dcfg.max_sequence_length)  # >= 1: one step at least
        # Every step also returns its attentions: the last step's input is the decoder inputs
        # shown (ids[:-1] once its token is appended), so its cross-attentions are the view's,
        # and a second pass over them (an eighth of a bundled-model source's CPU) is saved.
        # The logits are those of a call without attentions (the same math; bit for bit on the
        # bundled model, tests/views/test_widgets.py).
        for _ in range(budget):
            out = self.decoder(np.array([ids], np.int32), encoder_hidden_states=states,
                               encoder_attention_mask=src_mask, output_attentions=True)
            nxt = int(np.argmax(np.asarray(out.logits[0, -1])))
            ids.append(nxt)
            if nxt == eos:
                break
        self.n_runs += 1
        self.decoder_input_ids = np.array(ids[:-1], np.int32)  # position i predicts ids[i + 1]
        self.generated_ids = ids[1:]
        self.cross = np.stack([np.asarray(a)[0] for a in out.cross_attentions])  # [L, H, t, s]
        self.source_ids, self.encoder_states, self.source = src[0], states, source
        self.source_tokens = token_labels(tok, self.source_ids)
        self.target_tokens = token_labels(tok, self.generated_ids)
        self.output_text = tok.decode(self.generated_ids, skip_special_tokens=True)
        return True

    @property
    def length(self) -> int:
        """Source tokens (the window's range)."""
        return len(self.source_ids)

    def pattern(self, layer: int, head: Any, window: tuple[int, int] | None = None
                ) -> np.ndarray:
        """[target, source] for one head ("mean": the layer's mean), source columns windowed."""
        if not 0 <= int(layer) < self.n_layers:
            raise WidgetInputError(f"Layer {layer} is outside 0..{self.n_layers - 1}.")
        a, b = clamp_window(window, len(self.source_ids))
        grid = self.cross[int(layer)]
        grid = grid.mean(axis=0) if head == "mean" else grid[int(head)]
        return grid[:, a:b]

    def heatmap_args(self, layer: int, head: Any, window: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, dict]:
        """(data, options) of the view's ``heatmap_figure``."""
        a, b = clamp_window(window, len(self.source_ids))
        return self.pattern(layer, head, (a, b)), dict(
            x_labels=self.source_tokens[a:b], y_labels=[f"-> {t}" for t in self.target_tokens],
            xlabel="source token", ylabel="decoder position predicting", vmin=0.0,
            title=f"cross-attention layer {layer}, head {head}")

    def figure(self, layer: int, head: Any, window: tuple[int, int] | None = None) -> Any:
        data, options = self.heatmap_args(layer, head, window)
        return heatmap_figure(data, **options)

    def to_html(self, layer: int, head: Any, window: tuple[int, int] | None = None) -> str:
        from ._common import html_page  # noqa: PLC0415

        extra = (f"<p>source: {html.escape(self.source or '')}</p>"
                 f"<p>output: {html.escape(self.output_text)}</p>")
        return html_page(f"Cross-attention L{layer} {head}", self.figure(layer, head, window),
                         extra)


class CrossAttentionWidget(HeadViewMixin):
    """Source text box, layer/head dropdowns and a source window over the alignment heatmap."""

    def __init__(self, encoder: Any, decoder: Any = None, tokenizer: Any = None, *,
                 source: str = DEFAULT_SOURCE, max_new_tokens: int = 32):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.controller = None
        try:
            if isinstance(encoder, str):
                encoder, decoder_, tok_ = load_seq2seq(encoder)
                decoder = decoder_ if decoder is None else decoder
                tokenizer = tok_ if tokenizer is None else tokenizer
            if decoder is None or tokenizer is None:
                raise WidgetInputError("Give an encoder, a decoder and a tokenizer (or the name "
                                       "of a seq2seq model such as roberta-lab/mini-seq2seq).")
            if isinstance(tokenizer, str):
                tokenizer = load_tokenizer(tokenizer)
            self.controller = CrossAttentionController(encoder, decoder, tokenizer, source,
                                                       max_new_tokens=max_new_tokens)
        except Exception as exc:  # noqa: BLE001
            self.show_message(str(exc))
        c = self.controller
        L, H, n = (c.n_layers, c.n_heads, c.length) if c else (1, 1, 1)
        self.source = W.Text(value=source, description="source", continuous_update=False,
                             layout=W.Layout(width="90%"))
        self.output = W.HTML()
        self.plot = new_image()
        # Opens on the view that shows the alignment: the last layer, the mean of its heads
        # (mini-seq2seq: layer 1, three of four heads on the copied letter; layer 0 does not align).
        self._build_view(W, self.source, layer=L - 1, head="mean",
                         heads=[("mean of heads", "mean")] + head_options(H), label="source",
                         window=(0, n), below=[self.output, self.plot])

    def set_input(self, text: str) -> bool:
        return self.controller.set_source(text)

    @guarded
    def update(self) -> None:
        if self.controller is None:
            return
        layer, head, window = self.view
        self.output.value = f"<p>output: <b>{html.escape(self.controller.output_text)}</b></p>"
        self.show_heatmap(self.plot, (self.controller.source, layer, head, window),
                          *self.controller.heatmap_args(layer, head, window))
        self.clear_message()


def cross_attention(encoder: Any = "roberta-lab/mini-seq2seq", decoder: Any = None,
                    tokenizer: Any = None, **kw: Any) -> CrossAttentionWidget:
    """One line: ``cross_attention("roberta-lab/mini-seq2seq", source="a b c")`` or
    ``cross_attention(encoder, decoder, tokenizer, source=...)``."""
    return CrossAttentionWidget(encoder, decoder, tokenizer, **kw)
