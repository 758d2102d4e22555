"""Multi-head attention, self or cross, written out with einsum (Vaswani et al. 2017).

One class serves both kinds. Self-attention reads keys/values from its own input and appends them
to the cache; cross-attention reads them from the encoder's states, and with a cache computes
them once and reuses them. The head mask multiplies each head's probabilities after softmax and
dropout (HF PyTorch's order), so a masked head's pattern is zero and its output is gone.

Hooks (prefix ``blocks.{l}.attn`` or ``blocks.{l}.cross_attn``):
  hook_q [batch, q_pos, head, d_head]; hook_k, hook_v [batch, k_pos, head, d_head] (the new keys
  and values of this call; cached ones are not re-hooked); hook_attn_scores [batch, head, q_pos,
  k_pos] (scaled, masked positions at the dtype's minimum, before softmax); hook_pattern
  [batch, head, q_pos, k_pos] (after softmax, dropout and head mask); hook_z [batch, q_pos, head,
  d_head] (each head's weighted values, before the output projection; the block's hook_attn_out
  is what the projection adds to the residual stream).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import Linear, attention_scale


class RobertaAttention(keras.layers.Layer):
    """x [batch, q_pos, d_model] -> (out [batch, q_pos, d_model], pattern, (k, v) cache)."""

    def __init__(self, config: RobertaConfig, hook_prefix: str, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        h, std = config.hidden_size, config.initializer_range
        self.n_heads, self.d_head = config.num_attention_heads, config.head_dim
        self.scale = attention_scale(self.d_head)
        self.query = Linear(h, h, std, name="query")
        self.key = Linear(h, h, std, name="key")
        self.value = Linear(h, h, std, name="value")
        self.output_dense = Linear(h, h, std, name="dense")
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob, autocast=False)
        for name in ("q", "k", "v", "attn_scores", "pattern", "z"):
            setattr(self, f"hook_{name}", HookPoint(f"{hook_prefix}.hook_{name}"))
        self.built = True

    def _split(self, x: tf.Tensor) -> tf.Tensor:
        # [batch, pos, d_model] -> [batch, pos, head, d_head]
        shape = tf.shape(x)
        return tf.reshape(x, [shape[0], shape[1], self.n_heads, self.d_head])

    def call(self, x: tf.Tensor, kv_input: tf.Tensor | None, attn_mask: tf.Tensor | None,
             head_mask: tf.Tensor | None = None, past: tuple[tf.Tensor, tf.Tensor] | None = None,
             reuse_past: bool = False, cache_index: tf.Tensor | None = None,
             training: bool = False):
        """
        x: [batch, q_pos, d_model]. kv_input: [batch, k_pos, d_model], the source of keys/values
        (x itself for self-attention, encoder states for cross-attention).
        attn_mask: bool [batch|1, 1, q_pos|1, k_pos] (True = may attend) or None.
        head_mask: [batch|1, head] multiplier or None.
        past: cached (k, v), each [batch, head, past_pos, d_head]; with ``reuse_past`` they are
        the complete keys/values (cross-attention) and kv_input is not used; with
        ``cache_index`` they are fixed-size buffers [batch, head, max_len, d_head] and this call's
        keys/values are written at positions cache_index.. (compiled generation).
        Returns out [batch, q_pos, d_model], pattern [batch, head, q_pos, k_pos], and the cache
        (k, v) [batch, head, k_pos, d_head].
        """
        q = self.hook_q(self._split(self.query(x)))  # [batch, q_pos, head, d_head]
        if reuse_past:
            k_all, v_all = past
        else:
            k = self.hook_k(self._split(self.key(kv_input)))  # [batch, k_pos, head, d_head]
            v = self.hook_v(self._split(self.value(kv_input)))
            k_all = tf.transpose(k, [0, 2, 1, 3])  # [batch, head, k_pos, d_head]
            v_all = tf.transpose(v, [0, 2, 1, 3])
            if past is not None and cache_index is not None:
                k_all = _write_at(past[0], k_all, cache_index)
                v_all = _write_at(past[1], v_all, cache_index)
            elif past is not None:
                k_all = tf.concat([tf.cast(past[0], k_all.dtype), k_all], axis=2)
                v_all = tf.concat([tf.cast(past[1], v_all.dtype), v_all], axis=2)

        scores = tf.einsum("bqhd,bhkd->bhqk", q, k_all) * tf.cast(self.scale, q.dtype)
        scores = tf.cast(scores, tf.float32)  # softmax in float32 whatever the compute dtype
        if attn_mask is not None:
            # where() rather than adding a large negative: no overflow in float16/bfloat16, and a
            # fully masked row becomes uniform instead of silently attending everywhere.
            scores = tf.where(attn_mask, scores, scores.dtype.min)
        scores = self.hook_attn_scores(scores)  # [batch, head, q_pos, k_pos]
        probs = tf.nn.softmax(scores, axis=-1)
        probs = self.dropout(probs, training=training)
        if head_mask is not None:
            probs = probs * tf.cast(head_mask, probs.dtype)[:, :, None, None]
        pattern = self.hook_pattern(probs)  # [batch, head, q_pos, k_pos]

        weights = tf.cast(pattern, v_all.dtype)
        z = self.hook_z(tf.einsum("bhqk,bhkd->bqhd", weights, v_all))  # [batch, q_pos, head, d_head]
        shape = tf.shape(z)
        merged = tf.reshape(z, [shape[0], shape[1], self.n_heads * self.d_head])
        out = self.output_dense(merged)  # [batch, q_pos, d_model]
        return out, pattern, (k_all, v_all)


def _write_at(buffer: tf.Tensor, new: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """buffer [batch, head, max_len, d_head] with new [batch, head, n, d_head] written at
    positions index..index+n-1 (a scatter along the position axis; works under XLA)."""
    n = tf.shape(new)[2]
    slots = tf.range(n) + tf.cast(index, tf.int32)
    moved = tf.transpose(buffer, [2, 0, 1, 3])  # [max_len, batch, head, d_head]
    moved = tf.tensor_scatter_nd_update(moved, slots[:, None], tf.transpose(new, [2, 0, 1, 3]))
    return tf.transpose(moved, [1, 2, 0, 3])
