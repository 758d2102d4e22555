"""A plain numpy RoBERTa encoder forward (float64), written from the paper/HF formulas, for
checking the attribution methods against direct implementations. Not a test module."""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, ln):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + ln.eps) * np.asarray(ln.gamma, np.float64) + \
        np.asarray(ln.beta, np.float64)


def w(v):
    return np.asarray(v, np.float64)


def forward(model, ids, mask=None, zero_value=None):
    """One sequence ids [seq] -> list of per-layer dicts (resid_pre, pattern [head, q, k], v
    [k, head, d_head], attn_out, ln1_in, resid_mid, resid_post). ``zero_value=(layer, j)``
    zeroes token j's value vectors (bias included) in every head of that layer."""
    cfg = model.config
    seq = len(ids)
    mask = np.ones(seq, bool) if mask is None else np.asarray(mask) != 0
    emb = model.roberta.embeddings
    real = (np.asarray(ids) != cfg.pad_token_id).astype(int)
    pos = np.cumsum(real) * real + cfg.pad_token_id
    x = w(emb.word_embeddings)[ids] + w(emb.position_embeddings)[pos] + \
        w(emb.token_type_embeddings)[np.zeros(seq, int)]
    x = layer_norm(x, emb.layer_norm)
    allowed = np.broadcast_to(mask[None, :], (seq, seq)).copy()
    if cfg.is_decoder:
        allowed &= np.tril(np.ones((seq, seq), bool))
    out = []
    for l, blk in enumerate(model.roberta.blocks):
        a = blk.attn
        nh, dh = a.n_heads, a.d_head
        q = (x @ w(a.query.kernel) + w(a.query.bias)).reshape(seq, nh, dh)
        k = (x @ w(a.key.kernel) + w(a.key.bias)).reshape(seq, nh, dh)
        v = (x @ w(a.value.kernel) + w(a.value.bias)).reshape(seq, nh, dh)
        if zero_value is not None and zero_value[0] == l:
            v = v.copy()
            v[zero_value[1]] = 0.0
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh)
        scores = np.where(allowed[None], scores, -np.inf)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p = p / p.sum(-1, keepdims=True)
        z = np.einsum("hqk,khd->qhd", p, v).reshape(seq, nh * dh)
        attn_out = z @ w(a.output_dense.kernel) + w(a.output_dense.bias)
        mid = layer_norm(x + attn_out, blk.attn_ln)
        m = gelu(mid @ w(blk.mlp.intermediate.kernel) + w(blk.mlp.intermediate.bias))
        m = m @ w(blk.mlp.output_dense.kernel) + w(blk.mlp.output_dense.bias)
        post = layer_norm(mid + m, blk.mlp_ln)
        out.append(dict(resid_pre=x, pattern=p, v=v, attn_out=attn_out, ln1_in=x + attn_out,
                        resid_mid=mid, resid_post=post))
        x = post
    return out
