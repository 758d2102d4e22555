"""One transformer layer of RoBERTa: post-LayerNorm (Devlin et al. 2019, as in HF's RobertaLayer).

    resid_mid  = LN(resid_pre + attn(resid_pre))
    [resid_mid = LN(resid_mid + cross_attn(resid_mid, encoder))]      decoders with cross-attention
    resid_post = LN(resid_mid + mlp(resid_mid))

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
from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import ACTIVATIONS, LayerNorm, Linear


class RobertaMLP(keras.layers.Layer):
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


class RobertaBlock(keras.layers.Layer):
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

    def call(self, x: tf.Tensor, attn_mask: tf.Tensor | None, head_mask: tf.Tensor | None = None,
             encoder_states: tf.Tensor | None = None, encoder_mask: tf.Tensor | None = None,
             past: tuple[tf.Tensor, ...] | None = None, cache_index: tf.Tensor | None = None,
             training: bool = False):
        """
        x: [batch, pos, d_model]; attn_mask: bool [batch, 1, pos|1, k_pos]; head_mask: [batch|1, head];
        encoder_states: [batch, enc_pos, d_model] or None; encoder_mask: bool
        [batch, 1, pos|1, enc_pos] or None; past: this layer's (k, v[, cross_k, cross_v]).
        Returns (resid_post, pattern, cross_pattern or None, cache tuple).
        """
        resid_pre = self.hook_resid_pre(x)
        self_past = None if past is None else (past[0], past[1])
        attn, pattern, self_cache = self.attn(resid_pre, resid_pre, attn_mask, head_mask, self_past,
                                              cache_index=cache_index, training=training)
        attn_out = self.hook_attn_out(self.dropout(attn, training=training))
        resid = self.hook_resid_mid(self.attn_ln(attn_out + resid_pre))

        cross_pattern, cache = None, self_cache
        cross_past = None if past is None or len(past) < 4 else (past[2], past[3])
        if self.cross_attn is not None and (encoder_states is not None or cross_past is not None):
            cross, cross_pattern, cross_cache = self.cross_attn(
                resid, encoder_states, encoder_mask, head_mask, cross_past,
                reuse_past=cross_past is not None, training=training)
            cross_out = self.hook_cross_attn_out(self.dropout(cross, training=training))
            resid = self.hook_resid_mid_cross(self.cross_ln(cross_out + resid))
            cache = self_cache + cross_cache

        mlp_out = self.hook_mlp_out(self.dropout(self.mlp(resid), training=training))
        resid_post = self.hook_resid_post(self.mlp_ln(mlp_out + resid))
        return resid_post, pattern, cross_pattern, cache
