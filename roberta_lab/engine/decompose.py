"""Exact decomposition of one output value into the parts every component wrote.

RoBERTa is post-LayerNorm: each block's LayerNorm rescales everything written before it. With
each LayerNorm's scale sigma frozen at its value for this input, LN(y) = diag(gamma) P y / sigma
+ beta (P removes the mean) is affine, and so is the path from any component's output to the
logits along the residual stream (heads' patterns are frozen the same way). The LM head's GELU is
linearised at its actual input (zero-order: GELU(z) = s * z with s = GELU(z) / z, exact), so

    value = sum over components c of <g_c, y_c> + bias terms,

with y_c what component c adds to the residual stream and g_c the adjoint of the frozen path from
there to the value. The adjoints are pulled back once, from the output to the embeddings, in
float64 (one pass, a few matrix-vector products per layer), so a decomposition costs about one
cached forward. Plots should say "frozen LN/attention, ZO-GELU".

Components: "embed" (word + position + type, through the embedding LayerNorm),
"blocks.{l}.attn.head{h}" (the head's value-weighted write, value bias excluded),
"blocks.{l}.cross_attn.head{h}" (decoders with cross-attention), "blocks.{l}.mlp" (output bias
excluded) and "bias" (every beta, every bias: named one by one in ``bias_terms``; a task head's
own biases, through its frozen tanh, are ``bias_terms["head"]``).

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, decompose
    >>> keras.utils.set_random_seed(0)
    >>> model = TFRobertaForMaskedLM(RobertaConfig(vocab_size=99, hidden_size=32,
    ...     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
    >>> d = decompose(model, np.array([[0, 5, 6, 2]]), (np.array([2]), np.array([7])))
    >>> len(d.contributions), bool(abs(d.error[0]) < 1e-4)
    (12, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from .targets import as_feed, make_readout, pair_arrays, values
from .task_readouts import pair_readout, task_adjoint, task_head

_F = np.float64


def _np(x: Any) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, _F)


@dataclass
class Decomposition:
    """total [batch]: the model's value; contributions: name -> [batch] (they sum to total);
    bias_terms: name -> [batch] (they sum to contributions["bias"]); error [batch]: total minus
    the sum of the contributions (float rounding only)."""

    total: np.ndarray
    contributions: dict[str, np.ndarray]
    bias_terms: dict[str, np.ndarray]
    embed_parts: dict[str, np.ndarray]
    n_layers: int
    n_heads: int
    _sources: dict[str, tuple] = field(default_factory=dict, repr=False)

    @property
    def error(self) -> np.ndarray:
        return self.total - sum(self.contributions.values())

    def heads(self, kind: str = "attn") -> np.ndarray:
        """Head contributions as [batch, layer, head] (kind "attn" or "cross_attn")."""
        return np.stack([np.stack([self.contributions[f"blocks.{l}.{kind}.head{h}"]
                                   for h in range(self.n_heads)], -1)
                         for l in range(self.n_layers)], 1)

    def by_source(self) -> dict[str, np.ndarray]:
        """Each head's contribution split by the source (key) position it read:
        name -> [batch, k_pos]; summing over k_pos gives ``contributions[name]``."""
        out = {}
        for prefix, (pattern, v, b_v, w) in self._sources.items():
            # [batch, head, q, k] * <v_k - b_V, w_q> summed over queries
            vw = np.einsum("bkhd,bqhd->bhqk", v - b_v, w)
            split = np.einsum("bhqk,bhqk->bhk", pattern, vw)
            for h in range(split.shape[1]):
                out[f"{prefix}.head{h}"] = split[:, h]
        return out

    def top(self, k: int = 10, row: int = 0) -> list[tuple[str, float]]:
        """The k contributions of batch row ``row`` largest in absolute value."""
        items = sorted(self.contributions.items(), key=lambda kv: -abs(kv[1][row]))
        return [(name, float(v[row])) for name, v in items[:k]]


def _mm(a: np.ndarray, b: np.ndarray, transpose_b: bool = False) -> np.ndarray:
    """a [..., k] @ b [k, n] (or b.T) in float64 through TensorFlow: numpy's threaded BLAS
    can be 50x slower on a busy machine (measured: 64 ms against 2.6 ms here)."""
    flat = tf.reshape(tf.constant(a, _F), [-1, a.shape[-1]])
    out = tf.matmul(flat, tf.constant(b, _F), transpose_b=transpose_b).numpy()
    return out.reshape(a.shape[:-1] + (out.shape[-1],))


def _ln_adjoint(g: np.ndarray, y: np.ndarray, ln: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pull g [b, p, d] back through LayerNorm with its scale frozen at input y [b, p, d].
    Returns (adjoint at the LayerNorm's input, <g, beta> [b])."""
    sigma = np.sqrt(y.var(-1, keepdims=True) + ln.eps)  # biased variance, as LayerNorm
    gy = g * _np(ln.gamma)
    return (gy - gy.mean(-1, keepdims=True)) / sigma, (g * _np(ln.beta)).sum((1, 2))


def _heads(g: np.ndarray, attn: Any, c: dict, prefix: str, contrib: dict, bias: dict,
           sources: dict) -> None:
    """Contributions of one attention's heads given the adjoint g at its output."""
    n, dh = attn.n_heads, attn.d_head
    kernel = _np(attn.output_dense.kernel)  # [head * d_head, d_model]
    b_v = _np(attn.value.bias).reshape(n, dh)
    z = _np(c[f"{prefix}.hook_z"])  # [b, q, head, d_head]
    pattern = _np(c[f"{prefix}.hook_pattern"])  # [b, head, q, k]
    rowsum = pattern.sum(-1).transpose(0, 2, 1)  # [b, q, head]: 1 unless a head mask scales it
    w = _mm(g, kernel, True).reshape(z.shape)  # the adjoint at each head's z, [b, q, head, d_head]
    per_head = ((z - rowsum[..., None] * b_v) * w).sum((1, 3))  # [b, head]
    for h in range(n):
        contrib[f"{prefix}.head{h}"] = per_head[:, h]
    bias[f"{prefix}.b"] = ((g.sum(1) * _np(attn.output_dense.bias)).sum(-1) +
                           (rowsum * (w * b_v).sum(-1)).sum((1, 2)))
    sources[prefix] = (pattern, _np(c[f"{prefix}.hook_v"]), b_v, w)


def _readout_gradient(out: Any, field_name: str, readout: Any, rows: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value [b], dR/dfield, constant [b]) for a readout affine in one output field."""
    x = tf.convert_to_tensor(out[field_name])
    only = type(out)(**{field_name: x})  # other fields hidden: a readout must not use them
    with tf.GradientTape() as tape:
        tape.watch(x)
        r = values(readout, only, rows)
    grad = tape.gradient(r, x)
    grad = np.zeros(x.shape, _F) if grad is None else _np(grad)
    r2 = _np(values(readout, type(out)(**{field_name: 2 * x}), rows))
    r0 = _np(values(readout, type(out)(**{field_name: tf.zeros_like(x)}), rows))
    r = _np(r)
    lin = (grad * _np(x)).reshape(rows, -1).sum(1)
    if np.any(np.abs((r2 - r) - (r - r0)) > 1e-4 * np.maximum(1.0, np.abs(r))) or \
            np.any(np.abs(lin - (r - r0)) > 1e-4 * np.maximum(1.0, np.abs(r))):
        raise ValueError(f"target: decompose needs a readout affine in the output's "
                         f"{field_name} (a logit, a logit difference, a class logit); this one "
                         "is not (a probability or log-probability?). Gradient methods such as "
                         "integrated_gradients take any readout.")
    return r, grad, r - lin


NEEDED = ("hook_embed", "hook_pos_embed", "hook_token_type_embed", "lm_head.hook_in")
PER_LAYER = ("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out",
             "attn.hook_z", "attn.hook_pattern", "attn.hook_v", "hook_cross_attn_out",
             "hook_resid_mid_cross", "cross_attn.hook_z", "cross_attn.hook_pattern",
             "cross_attn.hook_v", "hook_resid_post")


def decompose(model: Any, inputs: Any, target: Any, *, compile: bool | str = False
              ) -> Decomposition:
    """Decompose the target value of every batch row into component contributions.

    model: a masked or causal LM (``lm_head``), a task head (sequence or token classification,
    question answering, multiple choice; see ``task_readouts`` for how a pair target reads on
    each) or the bare trunk (``TFRobertaModel``, with a callable readout on
    ``last_hidden_state``); decoders with cross-attention take ``encoder_hidden_states`` in
    ``inputs``. inputs: any of the seed's formats ([batch, seq] ids, list, dict, BatchEncoding;
    [batch, choices, seq] for multiple choice). target: ``(positions, token_ids)`` [batch] each,
    or a callable readout affine in the output's logits (or in last_hidden_state for the trunk).
    compile: how the one cached forward runs (False, True or "xla"). Multiple choice: the
    contributions sum over a question's choices; ``by_source`` stays per [batch x choices] row.

    Example (a task head, a logit difference):
        >>> import numpy as np, keras
        >>> from roberta_lab import RobertaConfig, TFRobertaForSequenceClassification
        >>> keras.utils.set_random_seed(0)
        >>> model = TFRobertaForSequenceClassification(RobertaConfig(vocab_size=99,
        ...     hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
        ...     intermediate_size=37, num_labels=3))
        >>> diff = lambda o: o.logits[:, 2] - o.logits[:, 0]
        >>> d = decompose(model, np.array([[0, 5, 6, 2]]), diff)
        >>> d.total.shape, bool(abs(d.error[0]) < 1e-4), "head" in d.bias_terms
        ((1,), True, True)
    """
    feed = as_feed(model, inputs)
    batch, seq = feed["input_ids"].shape[0], feed["input_ids"].shape[-1]  # MC: [b, choices, s]
    cfg = model.config
    wanted = set(NEEDED) | {f"blocks.{l}.{n}" for l in range(cfg.num_hidden_layers)
                            for n in PER_LAYER}
    out, c = model.run_with_cache(feed, names_filter=lambda n: n in wanted, compile=compile)
    bias: dict[str, np.ndarray] = {}
    contrib: dict[str, np.ndarray] = {}
    sources: dict[str, tuple] = {}
    head = getattr(model, "lm_head", None)
    if head is not None:
        total, g = _lm_head_adjoint(head, out, c, target, batch, seq, bias)
    elif task_head(model) is not None:
        h = _np(c[f"blocks.{cfg.num_hidden_layers - 1}.hook_resid_post"])  # [rows, seq, d]
        total, g, head_const, _ = task_adjoint(model, out, h, target, batch, seq)
    elif "last_hidden_state" in out:
        readout = make_readout(target, batch, seq)
        total, g, bias["readout"] = _readout_gradient(out, "last_hidden_state", readout, batch)
    else:
        raise TypeError(f"decompose knows the LM heads and the bare trunk; {type(model).__name__}"
                        " has neither lm_head nor last_hidden_state")

    for l in reversed(range(cfg.num_hidden_layers)):
        blk, p = model.roberta.blocks[l], f"blocks.{l}"
        cross = f"{p}.hook_cross_attn_out" in c.keys()
        mid = _np(c[f"{p}.hook_resid_mid_cross" if cross else f"{p}.hook_resid_mid"])
        mlp_out = _np(c[f"{p}.hook_mlp_out"])
        g, bias[f"{p}.ln_mlp.beta"] = _ln_adjoint(g, mlp_out + mid, blk.mlp_ln)
        b_out = _np(blk.mlp.output_dense.bias)
        contrib[f"{p}.mlp"] = np.einsum("bpd,bpd->b", g, mlp_out - b_out)
        bias[f"{p}.mlp.b"] = np.einsum("bpd,d->b", g, b_out)
        if cross:
            y = _np(c[f"{p}.hook_cross_attn_out"]) + _np(c[f"{p}.hook_resid_mid"])
            g, bias[f"{p}.ln_cross.beta"] = _ln_adjoint(g, y, blk.cross_ln)
            _heads(g, blk.cross_attn, c, f"{p}.cross_attn", contrib, bias, sources)
        y = _np(c[f"{p}.hook_attn_out"]) + _np(c[f"{p}.hook_resid_pre"])
        g, bias[f"{p}.ln_attn.beta"] = _ln_adjoint(g, y, blk.attn_ln)
        _heads(g, blk.attn, c, f"{p}.attn", contrib, bias, sources)

    emb = model.roberta.embeddings
    parts = {k: _np(c[f"hook_{k}"]) for k in ("embed", "pos_embed", "token_type_embed")}
    g, bias["embed.ln.beta"] = _ln_adjoint(g, sum(parts.values()), emb.layer_norm)
    embed_parts = {k: np.einsum("bpd,bpd->b", g, v) for k, v in parts.items()}
    contrib = {"embed": sum(embed_parts.values()), **_forward_order(contrib, cfg)}
    fold = (lambda d: {k: v.reshape(batch, -1).sum(1) for k, v in d.items()})  # MC: choices
    contrib, bias, embed_parts = fold(contrib), fold(bias), fold(embed_parts)
    if task_head(model) is not None:
        bias["head"] = head_const  # the task head's biases, through its frozen tanh
    contrib["bias"] = sum(bias.values())
    return Decomposition(total, contrib, bias, embed_parts, cfg.num_hidden_layers,
                         cfg.num_attention_heads, sources)


def _forward_order(contrib: dict, cfg: Any) -> dict:
    order = []
    for l in range(cfg.num_hidden_layers):
        for kind in ("attn", "cross_attn"):
            order += [f"blocks.{l}.{kind}.head{h}" for h in range(cfg.num_attention_heads)]
        order.append(f"blocks.{l}.mlp")
    return {k: contrib[k] for k in order if k in contrib}


def _lm_head_adjoint(head: Any, out: Any, c: Any, target: Any, batch: int, seq: int,
                     bias: dict) -> tuple[np.ndarray, np.ndarray]:
    """Value [b] and the adjoint at the LM head's input [b, p, d] (frozen LN, ZO-GELU)."""
    pair = pair_arrays(target, batch, seq)
    if pair is not None:
        pos, tok = pair
        total = _np(tf.gather_nd(out["logits"], np.stack([np.arange(batch), pos, tok], 1)))
        g_u = np.zeros((batch, seq, head.decoder.shape[1]), _F)
        g_u[np.arange(batch), pos] = _np(tf.gather(head.decoder, tok))  # the words' rows
        bias["lm_head.b"] = _np(tf.gather(head.bias, tok))
    else:
        total, grad, bias["readout"] = _readout_gradient(out, "logits", target, batch)
        g_u = _mm(grad, _np(head.decoder))  # [b, p, d_model]
        bias["lm_head.b"] = np.einsum("bpv,v->b", grad, _np(head.bias))
    h = _np(c["lm_head.hook_in"])
    used = np.abs(g_u).sum((0, 2)) > 0  # positions the value reads
    w_d, b_d = _np(head.dense.kernel), _np(head.dense.bias)
    z = _mm(h[:, used], w_d) + b_d  # the head's dense output, [b, used, d]
    from ..model.layers import ACTIVATIONS  # noqa: PLC0415

    act = _np(ACTIVATIONS["gelu"](tf.constant(z)))  # the head's GELU (always exact, as HF)
    small = np.abs(z) < 1e-12
    s = np.where(small, 0.5, act / np.where(small, 1.0, z))  # ZO: act = s * z exactly
    g_a, bias["lm_head.ln.beta"] = _ln_adjoint(g_u[:, used], act, head.layer_norm)
    g_z = s * g_a
    bias["lm_head.dense.b"] = np.einsum("bpd,d->b", g_z, b_d)
    g = np.zeros_like(h)
    g[:, used] = _mm(g_z, w_d, True)
    return total, g


def direct_logit_attribution(model: Any, inputs: Any, target: Any) -> dict[str, np.ndarray]:
    """The classic last-layer direct logit attribution, for comparison with ``decompose``:
    the last layer's heads and MLP, each mapped by the cached LayerNorm scales (TransformerLens'
    ``apply_ln_to_stack``) and dotted with the readout's gradient at the final hidden state (the
    head's tangent, where ``decompose`` linearises it exactly). name -> [batch]."""
    feed = as_feed(model, inputs)
    batch, seq = feed["input_ids"].shape[0], feed["input_ids"].shape[-1]
    readout = target if callable(target) else \
        pair_readout(model, target, batch, seq, int(np.prod(feed["input_ids"].shape[1:-1])))
    last = model.config.num_hidden_layers - 1
    blk, p = model.roberta.blocks[last], f"blocks.{last}"
    with tf.GradientTape() as tape:
        saved = {}

        def keep(x, hook):
            if hook.name == f"{p}.hook_resid_post":
                tape.watch(x)
            saved[hook.name] = x

        names = [f"{p}.{n}" for n in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid",
                                      "hook_mlp_out", "hook_resid_post", "attn.hook_z",
                                      "attn.hook_pattern")]
        out = model.run_with_hooks(feed, fwd_hooks=[(n, keep) for n in names])
        r = tf.reduce_sum(values(readout, out, batch))
    direction = tape.gradient(r, saved[f"{p}.hook_resid_post"])  # [b, p, d]

    def apply_ln(stack, ln_in, ln):  # stack [c, b, p, d]: centre, frozen scale, gamma
        mean, var = tf.nn.moments(ln_in, axes=[-1], keepdims=True)
        centred = stack - tf.reduce_mean(stack, -1, keepdims=True)
        return centred * tf.math.rsqrt(var + ln.eps) * ln.gamma

    attn = blk.attn
    w_o = tf.reshape(attn.output_dense.kernel, [attn.n_heads, attn.d_head, -1])
    rows = tf.reduce_sum(saved[f"{p}.attn.hook_pattern"], -1)  # [b, head, q]
    z = saved[f"{p}.attn.hook_z"] - tf.einsum("bhq,hd->bqhd", rows,
                                              tf.reshape(attn.value.bias, w_o.shape[:2]))
    heads = tf.einsum("bqhd,hdm->hbqm", z, w_o)
    heads = apply_ln(heads, saved[f"{p}.hook_attn_out"] + saved[f"{p}.hook_resid_pre"],
                     blk.attn_ln)
    mlp = saved[f"{p}.hook_mlp_out"][None] - blk.mlp.output_dense.bias
    stack = tf.concat([heads, mlp], 0)
    stack = apply_ln(stack, saved[f"{p}.hook_mlp_out"] + saved[f"{p}.hook_resid_mid"],
                     blk.mlp_ln)
    attrs = tf.einsum("cbpd,bpd->cb", stack, direction).numpy()
    attrs = attrs.reshape(len(attrs), batch, -1).sum(-1)  # multiple choice: over choices
    names = [f"{p}.attn.head{h}" for h in range(attn.n_heads)] + [f"{p}.mlp"]
    return {n: attrs[i].astype(_F) for i, n in enumerate(names)}
