"""Path patching (Wang et al. 2022, IOI appendix B) and attribution patching (Nanda 2023).

``path_patch`` measures what a sender head's change does through one path only. The inputs are
the clean prompts, ``corrupted`` the corrupted ones (same shape, one pair per batch row):

1. run both and cache every head's output ``z``;
2. rerun the clean prompts with the sender head's ``z`` taken from the corrupted run and every
   other head frozen at its clean ``z`` (MLPs and LayerNorms are recomputed, not frozen); with
   ``receiver="logits"`` the target read here is the result (sender -> logits through the
   residual stream and MLPs only); otherwise record the receivers' query, key or value input;
3. rerun the clean prompts with only those receiver inputs patched in, and read the target.

``attribution_patch`` estimates, for every head at once, the effect of patching its clean ``z``
into the corrupted run: effect ~ sum (z_clean - z_corrupted) * d target / d z at the corrupted
run, from one forward of [clean; corrupted] and one backward. It is a prefilter: check its top
heads with exact patching (``roberta_lab.patch_heads``).

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, path_patch
    >>> keras.utils.set_random_seed(0)
    >>> model = TFRobertaForMaskedLM(RobertaConfig(vocab_size=99, hidden_size=32,
    ...     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
    >>> r = path_patch(model, np.array([[0, 5, 6, 2]]), (2, 7),
    ...                corrupted=np.array([[0, 9, 6, 2]]), sender=(0, 1), receiver=(1, 2, "q"))
    >>> r.patched.shape, r.score.shape
    ((1,), (1,))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from .targets import as_feed, compiled, values
from .task_readouts import pair_index, pair_readout, pair_table, task_pair


@dataclass
class PathPatchResult:
    """patched, clean, corrupted: the target [batch] of the path-patched, clean and corrupted
    runs; effect = patched - clean; score = effect / (corrupted - clean): the share of the
    corruption's whole effect that travels this path (nan where they are equal)."""

    patched: np.ndarray
    clean: np.ndarray
    corrupted: np.ndarray

    @property
    def effect(self) -> np.ndarray:
        return self.patched - self.clean

    @property
    def score(self) -> np.ndarray:
        denom = self.corrupted - self.clean
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(denom) > 1e-6, self.effect / denom, np.nan)


def _pairs(feed: dict, corrupted: Any, model: Any) -> dict:
    bad = as_feed(model, corrupted)
    if bad["input_ids"].shape != feed["input_ids"].shape:
        raise ValueError(f"corrupted input_ids {bad['input_ids'].shape} must have the clean "
                         f"inputs' shape {feed['input_ids'].shape}")
    for key, value in feed.items():  # masks etc. shared unless the corrupted input has its own
        bad.setdefault(key, value)
    return bad


def _heads(spec: Any, what: str) -> list[tuple]:
    items = [spec] if isinstance(spec, tuple) else list(spec)
    for item in items:
        if not isinstance(item, tuple):
            raise TypeError(f"{what} must be a tuple or a list of tuples, got {item!r}")
    return items


def _head_mask(n_heads: int, heads: list[int]) -> tf.Tensor:
    m = np.zeros((1, 1, n_heads, 1), bool)
    m[0, 0, heads] = True
    return tf.constant(m)


def path_patch(model: Any, inputs: Any, target: Any, *, corrupted: Any, sender: Any,
               receiver: Any = "logits", compile: bool | str = False) -> PathPatchResult:
    """Path-patch sender head(s) ``(layer, head)`` (or a list) to ``receiver``: ``"logits"``,
    or ``(layer, head, "q" | "k" | "v")`` (or a list, patched together). inputs/corrupted:
    [batch, seq] in any of the seed's formats; target as for every method here."""
    feed = as_feed(model, inputs)
    bad = _pairs(feed, corrupted, model)
    batch, seq = feed["input_ids"].shape[0], feed["input_ids"].shape[-1]  # MC: [b, choices, s]
    readout = target if callable(target) else \
        pair_readout(model, target, batch, seq, int(np.prod(feed["input_ids"].shape[1:-1])))
    cfg = model.config
    senders = _heads(sender, "sender")
    receivers = None if receiver == "logits" else _heads(receiver, "receiver")
    for s in senders:
        if len(s) != 2 or not 0 <= s[0] < cfg.num_hidden_layers or \
                not 0 <= s[1] < cfg.num_attention_heads:
            raise ValueError(f"sender {s!r} must be (layer, head) within the model")
    if receivers is not None:
        for r in receivers:
            if len(r) != 3 or r[2] not in ("q", "k", "v") or \
                    not 0 <= r[1] < cfg.num_attention_heads:
                raise ValueError(f"receiver {r!r} must be (layer, head, 'q' | 'k' | 'v')")
            if r[0] <= max(s[0] for s in senders) or r[0] >= cfg.num_hidden_layers:
                raise ValueError(f"receiver {r!r} must be in a layer above every sender")
    z_names = [f"blocks.{l}.attn.hook_z" for l in range(cfg.num_hidden_layers)]
    out_c, clean = model.run_with_cache(feed, names_filter=z_names, compile=compile)
    out_b, corr = model.run_with_cache(bad, names_filter=z_names, compile=compile)
    v_clean = values(readout, out_c, batch).numpy().astype(np.float64)
    v_bad = values(readout, out_b, batch).numpy().astype(np.float64)

    def freeze(layer: int):
        mine = [h for l, h in senders if l == layer]
        where = _head_mask(cfg.num_attention_heads, mine)
        src_clean = tf.constant(clean[z_names[layer]])
        src_bad = tf.constant(corr[z_names[layer]])
        return lambda z, hook: tf.where(where, tf.cast(src_bad, z.dtype),
                                        tf.cast(src_clean, z.dtype))

    hooks = [(z_names[l], freeze(l)) for l in range(cfg.num_hidden_layers)]
    if receivers is None:
        out = model.run_with_hooks(feed, fwd_hooks=hooks, compile=compile)
        return PathPatchResult(values(readout, out, batch).numpy().astype(np.float64),
                               v_clean, v_bad)
    recv_names = sorted({f"blocks.{l}.attn.hook_{kind}" for l, _, kind in receivers})
    _, recorded = model.run_with_cache(feed, names_filter=recv_names, fwd_hooks=hooks,
                                       compile=compile)

    def patch(name: str):
        heads = [h for l, h, kind in receivers if f"blocks.{l}.attn.hook_{kind}" == name]
        where = _head_mask(cfg.num_attention_heads, heads)
        src = tf.constant(recorded[name])
        return lambda x, hook: tf.where(where, tf.cast(src, x.dtype), x)

    out = model.run_with_hooks(feed, fwd_hooks=[(n, patch(n)) for n in recv_names],
                               compile=compile)
    return PathPatchResult(values(readout, out, batch).numpy().astype(np.float64),
                           v_clean, v_bad)


@dataclass
class AttributionPatchResult:
    """effects [batch, layer, head]: the estimated change of the target when the head's clean
    ``z`` is patched into the corrupted run; scores: effects / (clean - corrupted), comparable
    with ``patch_heads``' scores; clean, corrupted [batch]."""

    effects: np.ndarray
    clean: np.ndarray
    corrupted: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        denom = (self.clean - self.corrupted)[:, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(denom) > 1e-6, self.effects / denom, np.nan)


def attribution_patch(model: Any, inputs: Any, target: Any, *, corrupted: Any,
                      compile: bool | str = False) -> AttributionPatchResult:
    """Attribution patching of every head's output ``z`` at once (see the module docstring)."""
    feed = as_feed(model, inputs)
    bad = _pairs(feed, corrupted, model)
    batch, seq = feed["input_ids"].shape[0], feed["input_ids"].shape[-1]  # MC: [b, choices, s]
    both = {k: np.concatenate([feed[k], bad[k]]) for k in feed}
    n_layers = model.config.num_hidden_layers
    z_names = [f"blocks.{l}.attn.hook_z" for l in range(n_layers)]
    choices = int(np.prod(feed["input_ids"].shape[1:-1]))  # 1, or multiple choice's choices
    pair = None if callable(target) else task_pair(model, target, batch, seq, choices)
    key = ("attribution_patch", "pair" if pair is not None else id(target))

    def build():
        def fn(inputs: dict, index: tf.Tensor | None):
            with tf.GradientTape() as tape:
                saved = {}

                def keep(z, hook):
                    tape.watch(z)
                    saved[hook.name] = z

                with model.hooks([(n, keep) for n in z_names]):
                    out = model(inputs)
                v = (tf.gather_nd(pair_table(model, out), index) if index is not None
                     else values(target, out, 2 * batch))
                corrupted_total = tf.reduce_sum(v[batch:])  # gradients at the corrupted run
            grads = tape.gradient(corrupted_total, [saved[n] for n in z_names])
            zs = tf.stack([saved[n] for n in z_names])  # [layer, 2*batch, pos, head, d_head]
            n = batch * choices  # the trunk's rows of one run
            effect = tf.einsum("lbphd,lbphd->blh", zs[:, :n] - zs[:, n:], tf.stack(grads)[:, n:])
            effect = tf.reduce_sum(tf.reshape(effect, [batch, choices] + effect.shape[1:]), 1)
            return v, effect
        return fn

    index = None
    if pair is not None:
        rows = np.concatenate([np.arange(batch)] * 2)
        index = tf.constant(pair_index(model, pair[0][rows], pair[1][rows]))
    v, effect = compiled(model, key, build, compile)({k: tf.constant(x) for k, x in both.items()},
                                                     index)
    v = v.numpy().astype(np.float64)
    return AttributionPatchResult(effect.numpy().astype(np.float64), v[:batch], v[batch:])
