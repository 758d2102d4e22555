"""One transformer layer of RoBERTa: post-LayerNorm (Devlin et al. 2019, as in HF's RobertaLayer).

    resid_mid  = LN(resid_pre + attn(resid_pre))
    [resid_mid = LN(resid_mid + cross_attn(resid_mid, encoder))]      decoders with cross-attention
    resid_post = LN(resid_mid + mlp(resid_mid))

``call`` is ``after_attention(x, attend(x))``: engines that start from the heads' outputs z
(ablation sweeps) call the two steps, so the block's math, hooks, dropout and cross-attention
exist once.

Because the LayerNorm comes *after* each residual add, ``hook_resid_mid``/``hook_resid_post`` are
the normalised streams (what the next sub-block reads), unlike a pre-LN GPT.

Hooks (prefix ``blocks.{l}``), all [batch, pos, d_model] unless noted: hook_resid_pre,
hook_attn_out, hook_resid_mid, hook_cross_attn_out, hook_resid_mid_cross, mlp.hook_pre and
mlp.hook_post [batch, pos, d_mlp], hook_mlp_out, hook_resid_post.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .attention import RobertaAttention
from .cache import AttentionCache, LayerCache
from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import ACTIVATIONS, ConfigLayer, LayerNorm, Linear


class RobertaMLP(ConfigLayer):
    """[batch, pos, d_model] -> [batch, pos, d_model] through d_mlp hidden units."""

    def __init__(self, config: RobertaConfig, hook_prefix: str, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        h, i, std = config.hidden_size, config.intermediate_size, config.initializer_range
        self.intermediate = Linear(h, i, std, name="intermediate")
        self.output_dense = Linear(i, h, std, name="output")
        self.act = ACTIVATIONS[config.hidden_act]
        self.hook_pre = HookPoint(f"{hook_prefix}.hook_pre")
        self.hook_post = HookPoint(f"{hook_prefix}.hook_post")
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        pre = self.hook_pre(self.intermediate(x))  # [batch, pos, d_mlp]
        post = self.hook_post(self.act(pre))
        return self.output_dense(post)


class RobertaBlock(ConfigLayer):
    """resid_pre [batch, pos, d_model] -> (resid_post, self pattern, cross pattern, cache)."""

    def __init__(self, config: RobertaConfig, index: int, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        p = f"blocks.{index}"
        h, eps = config.hidden_size, config.layer_norm_eps
        self.attn = RobertaAttention(config, f"{p}.attn", name="attention")
        self.attn_ln = LayerNorm(h, eps, name="attention_LayerNorm")
        self.cross_attn = self.cross_ln = None
        if config.add_cross_attention:
            self.cross_attn = RobertaAttention(config, f"{p}.cross_attn", name="crossattention")
            self.cross_ln = LayerNorm(h, eps, name="crossattention_LayerNorm")
        self.mlp = RobertaMLP(config, f"{p}.mlp", name="mlp")
        self.mlp_ln = LayerNorm(h, eps, name="output_LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, autocast=False)
        names = ["resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"]
        if config.add_cross_attention:
            names += ["cross_attn_out", "resid_mid_cross"]
        for name in names:
            setattr(self, f"hook_{name}", HookPoint(f"{p}.hook_{name}"))
        self.built = True

    def attend(self, x: tf.Tensor, attn_mask: tf.Tensor | None,
               head_mask: tf.Tensor | None = None, cache: AttentionCache | None = None,
               keys_from: tf.Tensor | None = None, training: bool = False):
        """The self-attention step up to the heads' outputs: resid_pre x [batch, q_pos, d_model]
        -> (z [batch, q_pos, head, d_head], pattern, self-attention cache). ``keys_from``
        [batch, k_pos, d_model] (default x) is the stream keys and values are read from: a tail
        that needs only a few query positions passes those as x and the whole stream here.
        (``call`` applies ``hook_resid_pre`` first; this step does not.)"""
        kv = x if keys_from is None else keys_from
        return self.attn.attend(x, kv, attn_mask, head_mask, cache, training=training)

    def after_attention(self, x: tf.Tensor, z: tf.Tensor, encoder_states: tf.Tensor | None = None,
                        encoder_mask: tf.Tensor | None = None, head_mask: tf.Tensor | None = None,
                        cross_cache: AttentionCache | None = None, training: bool = False):
        """The rest of the block from the heads' outputs: x the block's input [batch, pos,
        d_model], z [batch, pos, head, d_head] -> (resid_post [batch, pos, d_model], cross
        pattern or None, cross-attention cache or None)."""
        attn_out = self.hook_attn_out(self.dropout(self.attn.project(z), training=training))
        resid = self.hook_resid_mid(self.attn_ln(attn_out + x))
        cross_pattern = None
        if self.cross_attn is not None and (encoder_states is not None or cross_cache is not None):
            cross_z, cross_pattern, cross_cache = self.cross_attn.attend(
                resid, encoder_states, encoder_mask, head_mask, cross_cache, training=training)
            if not cross_cache.static:  # computed from the encoder: kept as they are from now on
                cross_cache = AttentionCache(cross_cache.key, cross_cache.value, static=True)
            cross = self.cross_attn.project(cross_z)
            cross_out = self.hook_cross_attn_out(self.dropout(cross, training=training))
            resid = self.hook_resid_mid_cross(self.cross_ln(cross_out + resid))
        mlp_out = self.hook_mlp_out(self.dropout(self.mlp(resid), training=training))
        resid_post = self.hook_resid_post(self.mlp_ln(mlp_out + resid))
        return resid_post, cross_pattern, cross_cache

    def at_positions(self, x: tf.Tensor, positions: tf.Tensor, attn_mask: tf.Tensor | None,
                     head_mask: tf.Tensor | None = None) -> tf.Tensor:
        """resid_post only at ``positions`` [batch, P]: keys and values still come from every
        position of x [batch, pos, d_model], but the queries, the MLP and the norms run on P
        rows (a tail that reads a few positions, e.g. a sweep's metric). Self-attention only.
        Returns [batch, P, d_model]."""
        x_q = tf.gather(x, positions, batch_dims=1)  # [batch, P, d_model]
        if attn_mask is not None and attn_mask.shape[2] != 1:  # causal masks have a query axis
            shape = tf.shape(x)
            attn_mask = tf.gather(tf.broadcast_to(attn_mask, [shape[0], 1, shape[1], shape[1]]),
                                  positions, axis=2, batch_dims=1)
        z, _, _ = self.attend(x_q, attn_mask, head_mask, keys_from=x)
        return self.after_attention(x_q, z)[0]

    def call(self, x: tf.Tensor, attn_mask: tf.Tensor | None, head_mask: tf.Tensor | None = None,
             encoder_states: tf.Tensor | None = None, encoder_mask: tf.Tensor | None = None,
             cache: LayerCache | None = None, training: bool = False):
        """``after_attention(x, attend(x))``.

        x: [batch, pos, d_model]; attn_mask: bool [batch, 1, pos|1, k_pos]; head_mask: [batch|1, head];
        encoder_states: [batch, enc_pos, d_model] or None; encoder_mask: bool
        [batch, 1, pos|1, enc_pos] or None; cache: this layer's ``LayerCache`` or None.
        Returns (resid_post, pattern, cross_pattern or None, LayerCache).
        """
        x = self.hook_resid_pre(x)
        z, pattern, self_cache = self.attend(
            x, attn_mask, head_mask, None if cache is None else cache.self_attn, training=training)
        resid_post, cross_pattern, cross_cache = self.after_attention(
            x, z, encoder_states, encoder_mask, head_mask,
            None if cache is None else cache.cross_attn, training=training)
        return resid_post, pattern, cross_pattern, LayerCache(self_cache, cross_cache)
