"""How much each input token is mixed into each position: attention rollout and attention flow
(Abnar & Zuidema 2020), value zeroing (Mohebbi et al. 2023) and ALTI (Ferrando et al. 2022).

Each method builds one token-to-token matrix per layer, ``per_layer`` [batch, layer, seq, seq]
(row i = output position, column j = input token, rows sum to 1 over real tokens), and
aggregates them across layers into ``matrix`` [batch, seq, seq]; ``attributions`` [batch, seq]
is the row of ``matrix`` at each batch row's target position. These methods read where
information flows, not what the output says: a pair target's positions are used, its token
ids are not; a callable readout (or a pair on a task head, which reads a class logit at
``<s>``, a token or a span end) is read where it depends on the final hidden states: the rows
of ``matrix`` weighted by each position's share of the readout's gradient norm there
(``targets.read_weights``). Multiple choice: per_layer and matrix have batch x choices rows,
attributions [batch, choices, seq]. Self-attention only (a decoder's cross-attention is not
followed). Pads get all-zero rows and columns.

* rollout: A_l = 0.5 * mean over heads of the pattern + 0.5 * I, rows renormalised;
  matrix = A_L ... A_1.
* flow: the same A_l as capacities of a layered graph; matrix[i, j] = max-flow from position i
  at the top to token j at the bottom, rows normalised (networkx, one flow per pair: small
  inputs only).
* value zeroing: C_l[i, j] = 1 - cos(x_i with token j's values zeroed in every head of layer
  l, x_i), x the layer's output (LayerNorms and MLP included), rows normalised; rollout of C.
* ALTI: T_i(x_j) = LN1's frozen linear part applied to sum_h A^h_ij (x_j W_V^h + b_V^h) W_O^h
  (+ x_i when j = i); c_ij = max(0, |y_i|_1 - |y_i - T_i(x_j)|_1), y_i = LN1's output, rows
  normalised; rollout of c. The MLP is not followed (as in the paper).

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, attention_rollout
    >>> keras.utils.set_random_seed(0)
    >>> model = TFRobertaForMaskedLM(RobertaConfig(vocab_size=99, hidden_size=32,
    ...     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
    >>> r = attention_rollout(model, np.array([[0, 5, 6, 2]]), (2, 7))
    >>> r.matrix.shape, r.attributions.shape, bool(np.isclose(r.attributions.sum(), 1.0))
    ((1, 4, 4), (1, 4), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from .targets import as_feed, pair_arrays, read_weights, repeat_rows
from .task_readouts import pair_readout, task_head

_F = np.float64


@dataclass
class TokenMixing:
    """method; per_layer [batch, layer, seq, seq]; matrix [batch, seq, seq];
    attributions [batch, seq] (None without a target); input_ids [batch, seq]."""

    method: str
    per_layer: np.ndarray
    matrix: np.ndarray
    attributions: np.ndarray | None
    input_ids: np.ndarray


def _real(feed: dict) -> np.ndarray:
    """[rows, seq]: real tokens (rows = batch x choices for multiple choice)."""
    ids = feed["input_ids"]
    mask = feed.get("attention_mask")
    real = np.ones(ids.shape, bool) if mask is None else np.asarray(mask) != 0
    return real.reshape(-1, ids.shape[-1])


def _normalise(m: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Zero pad rows and columns, then make each row sum to 1 (m: [batch, layer, seq, seq])."""
    keep = (real[:, None, :, None] & real[:, None, None, :]).astype(_F)
    m = m * keep
    s = m.sum(-1, keepdims=True)
    return np.where(s > 0, m / np.where(s > 0, s, 1.0), 0.0)


def rollout(per_layer: np.ndarray) -> np.ndarray:
    """[batch, layer, seq, seq] -> [batch, seq, seq]: A_L @ ... @ A_1."""
    out = per_layer[:, 0]
    for l in range(1, per_layer.shape[1]):
        out = per_layer[:, l] @ out
    return out


def _finish(method: str, per_layer: np.ndarray, matrix: np.ndarray, feed: dict,
            target: Any, model: Any) -> TokenMixing:
    ids = feed["input_ids"]
    batch, seq = ids.shape[0], ids.shape[-1]
    attributions = None
    if target is not None:
        if task_head(model) is not None and not callable(target):
            target = pair_readout(model, target, batch, seq, matrix.shape[0] // batch)
        if callable(target):
            w = read_weights(model, feed, target)  # [rows, seq]
            attributions = np.einsum("rp,rpj->rj", w, matrix).reshape(ids.shape)
        else:
            pos, _ = pair_arrays(target, batch, seq)
            attributions = matrix[np.arange(batch), pos]
    return TokenMixing(method, per_layer, matrix, attributions, ids)


def _patterns(model: Any, feed: dict, compile: bool | str) -> tuple[np.ndarray, Any]:
    _, cache = model.run_with_cache(feed, names_filter=lambda n: n.endswith("attn.hook_pattern")
                                    and ".cross_attn." not in n, compile=compile)
    return np.stack([np.asarray(cache["pattern", l], _F)
                     for l in range(model.config.num_hidden_layers)], 1), cache


def _residual_attention(model: Any, feed: dict, compile: bool | str) -> np.ndarray:
    pattern, _ = _patterns(model, feed, compile)  # [batch, layer, head, seq, seq]
    eye = np.eye(pattern.shape[-1])
    return _normalise(0.5 * pattern.mean(2) + 0.5 * eye, _real(feed))


def attention_rollout(model: Any, inputs: Any, target: Any = None, *,
                      compile: bool | str = False) -> TokenMixing:
    """Attention rollout: see the module docstring."""
    feed = as_feed(model, inputs)
    per_layer = _residual_attention(model, feed, compile)
    return _finish("attention_rollout", per_layer, rollout(per_layer), feed, target, model)


def attention_flow(model: Any, inputs: Any, target: Any = None, *,
                   compile: bool | str = False) -> TokenMixing:
    """Attention flow: max-flow through the layered graph of residual attention."""
    import networkx as nx  # noqa: PLC0415

    feed = as_feed(model, inputs)
    per_layer = _residual_attention(model, feed, compile)
    real = _real(feed)
    batch, n_layers, seq, _ = per_layer.shape
    matrix = np.zeros((batch, seq, seq))
    for b in range(batch):
        toks = np.flatnonzero(real[b])
        graph = nx.DiGraph()
        for l in range(n_layers):  # layer l+1's position i draws on layer l's position j
            for i in toks:
                for j in toks:
                    if per_layer[b, l, i, j] > 0:
                        graph.add_edge((l + 1, i), (l, j), capacity=float(per_layer[b, l, i, j]))
        for i in toks:
            for j in toks:
                matrix[b, i, j] = nx.maximum_flow_value(graph, (n_layers, i), (0, j))
    s = matrix.sum(-1, keepdims=True)
    matrix = np.where(s > 0, matrix / np.where(s > 0, s, 1.0), 0.0)
    return _finish("attention_flow", per_layer, matrix, feed, target, model)


def value_zeroing(model: Any, inputs: Any, target: Any = None, *, chunk_size: int = 64,
                  compile: bool | str = False) -> TokenMixing:
    """Value zeroing: one forward per (layer, token) condition, batched ``chunk_size`` rows at
    a time (rows = input row x zeroed token)."""
    feed = as_feed(model, inputs)
    ids = feed["input_ids"]
    batch, seq = ids.shape[0], ids.shape[-1]
    choices = int(np.prod(ids.shape[1:-1]))  # 1, or multiple choice's choices (independent rows)
    n_layers = model.config.num_hidden_layers
    outs = [f"blocks.{l}.hook_resid_post" for l in range(n_layers)]
    _, clean = model.run_with_cache(feed, names_filter=outs, compile=compile)
    rows = np.repeat(np.arange(batch), seq)  # row (b, j) zeroes token j of input row b
    zeroed = np.tile(np.arange(seq), batch)
    per_layer = np.zeros((batch, choices, n_layers, seq, seq))
    chunk = min(chunk_size, len(rows))
    keep_var = tf.Variable(tf.ones([chunk * choices, seq, 1, 1]), trainable=False)

    def zero_values(v: tf.Tensor, hook: Any) -> tf.Tensor:
        return v * tf.cast(keep_var, v.dtype)  # [rows, seq, head, d_head]

    for l in range(n_layers):
        x = np.asarray(clean[outs[l]], _F).reshape(batch, choices, seq, -1)
        for start in range(0, len(rows), chunk_size):
            part = slice(start, start + chunk_size)
            n = len(rows[part])
            keep = np.ones((chunk, choices, seq), np.float32)
            keep[np.arange(n), :, zeroed[part]] = 0.0  # in every choice of the question
            keep_var.assign(keep.reshape(-1, seq, 1, 1))
            sub = repeat_rows(feed, np.resize(rows[part], chunk))
            _, c = model.run_with_cache(sub, names_filter=outs[l], compile=compile,
                                        fwd_hooks=[(f"blocks.{l}.attn.hook_v", zero_values)])
            xt = np.asarray(c[outs[l]], _F).reshape(chunk, choices, seq, -1)[:n]
            ref = x[rows[part]]  # [n, choices, seq, d]
            cos = (xt * ref).sum(-1) / (np.linalg.norm(xt, axis=-1) *
                                        np.linalg.norm(ref, axis=-1) + 1e-12)
            per_layer[rows[part], :, l, :, zeroed[part]] = 1.0 - cos  # [n, choices, seq(i)]
    per_layer = per_layer.reshape(batch * choices, n_layers, seq, seq)
    per_layer = _normalise(per_layer, _real(feed))
    return _finish("value_zeroing", per_layer, rollout(per_layer), feed, target, model)


def alti_layer(model: Any, cache: Any, l: int) -> tuple[np.ndarray, np.ndarray]:
    """ALTI's token-level parts of layer l's LN1 output: (T [batch, i, j, d_model],
    y [batch, i, d_model] = sum_j T_i(x_j) + the frozen LN of the output bias + beta)."""
    blk = model.roberta.blocks[l]
    attn, ln = blk.attn, blk.attn_ln
    n, dh = attn.n_heads, attn.d_head
    x = np.asarray(cache[f"blocks.{l}.hook_resid_pre"], _F)
    v = np.asarray(cache[f"blocks.{l}.attn.hook_v"], _F)  # [b, j, head, d_head], b_V included
    pattern = np.asarray(cache[f"blocks.{l}.attn.hook_pattern"], _F)  # [b, head, i, j]
    w_o = np.asarray(attn.output_dense.kernel, _F).reshape(n, dh, -1)
    vo = np.einsum("bjhe,hed->bjhd", v, w_o)  # each token's per-head write
    t = np.einsum("bhij,bjhd->bijd", pattern, vo)
    t = t + np.eye(x.shape[1])[None, :, :, None] * x[:, None, :, :]  # the residual, j = i
    y_in = x + np.asarray(cache[f"blocks.{l}.hook_attn_out"], _F)
    sigma = np.sqrt(y_in.var(-1) + ln.eps)[:, :, None, None]  # LN1's own scale
    gamma = np.asarray(ln.gamma, _F)
    t = gamma * (t - t.mean(-1, keepdims=True)) / sigma
    b_o = np.asarray(attn.output_dense.bias, _F)
    bias = gamma * (b_o - b_o.mean()) / sigma[:, :, 0] + np.asarray(ln.beta, _F)
    return t, t.sum(2) + bias


def alti(model: Any, inputs: Any, target: Any = None, *, compile: bool | str = False
         ) -> TokenMixing:
    """ALTI: see the module docstring."""
    feed = as_feed(model, inputs)
    n_layers = model.config.num_hidden_layers
    keep = {f"blocks.{l}.{k}" for l in range(n_layers)
            for k in ("hook_resid_pre", "attn.hook_v", "attn.hook_pattern", "hook_attn_out")}
    _, cache = model.run_with_cache(feed, names_filter=lambda n: n in keep, compile=compile)
    layers = []
    for l in range(n_layers):
        t, y = alti_layer(model, cache, l)
        norm = np.abs(y).sum(-1)[:, :, None]  # [b, i, 1]
        layers.append(np.maximum(0.0, norm - np.abs(y[:, :, None] - t).sum(-1)))
    per_layer = _normalise(np.stack(layers, 1), _real(feed))
    return _finish("alti", per_layer, rollout(per_layer), feed, target, model)
