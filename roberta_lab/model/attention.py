"""Multi-head attention, self or cross, written out with einsum (Vaswani et al. 2017).

One class serves both kinds. Self-attention reads keys/values from its own input and adds them
to its cache; cross-attention reads them from the encoder's states once and keeps them as a
static cache (the cache contract is in ``cache.py``). ``attend`` (up to the heads' outputs z)
and ``project`` (the output projection) are the two steps of ``call``, exposed for engines that
start from z (ablation sweeps). The head mask multiplies each head's probabilities after softmax and
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

from .cache import AttentionCache
from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import ConfigLayer, Linear, attention_scale


class RobertaAttention(ConfigLayer):
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

    def attend(self, x: tf.Tensor, kv_input: tf.Tensor | None, attn_mask: tf.Tensor | None,
               head_mask: tf.Tensor | None = None, cache: AttentionCache | None = None,
               training: bool = False) -> tuple[tf.Tensor, tf.Tensor, AttentionCache]:
        """Everything before the output projection.

        x: [batch, q_pos, d_model]. kv_input: [batch, k_pos, d_model], the source of keys/values
        (x itself for self-attention, encoder states for cross-attention; not read when the
        cache is static). attn_mask: bool [batch|1, 1, q_pos|1, k_pos] (True = may attend) or
        None. head_mask: [batch|1, head] multiplier or None. cache: see ``cache.py``: its keys
        and values come before this call's (growing), take this call's at its index (buffers),
        or are all the keys and values (static).
        Returns z [batch, q_pos, head, d_head], pattern [batch, head, q_pos, k_pos] and the
        cache after this call (a new growing cache when none was given).
        """
        q = self.hook_q(self._split(self.query(x)))  # [batch, q_pos, head, d_head]
        if cache is not None and cache.static:
            new_cache = cache
        else:
            k = self.hook_k(self._split(self.key(kv_input)))  # [batch, k_pos, head, d_head]
            v = self.hook_v(self._split(self.value(kv_input)))
            k = tf.transpose(k, [0, 2, 1, 3])  # [batch, head, k_pos, d_head]
            v = tf.transpose(v, [0, 2, 1, 3])
            new_cache = AttentionCache(k, v) if cache is None else cache.update(k, v)
        k_all, v_all = new_cache.key, new_cache.value

        scores = tf.einsum("bqhd,bhkd->bhqk", q, tf.cast(k_all, q.dtype)) * tf.cast(self.scale,
                                                                                    q.dtype)
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
        return z, pattern, new_cache

    def project(self, z: tf.Tensor) -> tf.Tensor:
        """The heads' outputs z [batch, q_pos, head, d_head] -> [batch, q_pos, d_model]."""
        shape = tf.shape(z)
        return self.output_dense(tf.reshape(z, [shape[0], shape[1], self.n_heads * self.d_head]))

    def call(self, x: tf.Tensor, kv_input: tf.Tensor | None, attn_mask: tf.Tensor | None,
             head_mask: tf.Tensor | None = None, cache: AttentionCache | None = None,
             training: bool = False):
        """``project(attend(...))``: out [batch, q_pos, d_model], pattern, cache."""
        z, pattern, new_cache = self.attend(x, kv_input, attn_mask, head_mask, cache,
                                            training=training)
        return self.project(z), pattern, new_cache
