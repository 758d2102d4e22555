"""Language-model heads: ``TFRobertaForMaskedLM`` and ``TFRobertaForCausalLM``.

The LM head is dense -> exact GELU -> LayerNorm -> the word-embedding matrix (tied, the same
variable as the input embeddings) -> + bias. Losses follow HF 4.37: one mean over the tokens
whose label is not -100 (a scalar where 4.37 has shape (1,), so that the seed's
``float(outputs.loss)`` works under NumPy 2; ``config.tf_legacy_loss`` gives the per-token vector);
the causal loss compares logits at t with labels at t + 1.

Hooks: ``lm_head.hook_in`` [batch, pos, d_model] (the masked-LM head's input, = the last
``hook_resid_post``), ``lm_head.hook_transformed`` [batch, pos, d_model] (after dense, GELU and
LayerNorm), ``lm_head.hook_logits`` [batch, pos, vocab].

Example:
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> out = TFRobertaForMaskedLM(cfg)(np.array([[0, 5, 4, 2]]), labels=np.array([[-100, -100, 7, -100]]))
    >>> tuple(out.logits.shape), tuple(out.loss.shape)
    ((1, 4, 99), ())
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

from .config import RobertaConfig
from .hook_points import HookPoint
from .inputs import BASE_SIGNATURE, ForwardInputs
from .layers import (ACTIVATIONS, ConfigLayer, LayerNorm, Linear, policy_matmul_dtype,
                     truncated_normal)
from .trunk import RobertaMainLayer, RobertaPreTrainedModel
from .outputs import TFCausalLMOutputWithCrossAttentions, TFMaskedLMOutput

logger = logging.getLogger(__name__)


class RobertaLMHead(ConfigLayer):
    """[batch, pos, d_model] -> logits [batch, pos, vocab], tied to the input embeddings."""

    def __init__(self, config: RobertaConfig, word_embeddings: keras.Variable | None = None,
                 **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        h, std = config.hidden_size, config.initializer_range
        self.dense = Linear(h, h, std, name="dense")
        self.layer_norm = LayerNorm(h, config.layer_norm_eps, name="layer_norm")
        if word_embeddings is None:  # a head on its own (from_config): its own matrix
            word_embeddings = self.add_weight(shape=(config.vocab_size, h), name="decoder",
                                              initializer=truncated_normal(std))
        self.decoder = word_embeddings  # tied: the very same variable, [vocab, d_model]
        self.bias = self.add_weight(shape=(config.vocab_size,), name="bias", initializer="zeros")
        self.matmul_dtype: tf.DType | None = policy_matmul_dtype()  # bfloat16 mode, see unembed
        self.hook_in = HookPoint("lm_head.hook_in")
        self.hook_transformed = HookPoint("lm_head.hook_transformed")
        self.hook_logits = HookPoint("lm_head.hook_logits")
        self.built = True

    def transform(self, h: tf.Tensor) -> tf.Tensor:
        """dense -> GELU (always exact, whatever hidden_act says, as in HF) -> LayerNorm."""
        x = self.hook_in(h)
        return self.hook_transformed(self.layer_norm(ACTIVATIONS["gelu"](self.dense(x))))

    # In bfloat16 mode each position's REFINE_K best words are recomputed in float32, so the
    # ranking at the top (what fill-mask and argmax read) is float32's: on the bundled probes
    # top-1 agreement with float32 went from 98.1% (all bfloat16) to 99.1% (float32 unembed).
    REFINE_K = 8

    def unembed(self, x: tf.Tensor) -> tf.Tensor:
        """[..., d_model] -> [..., vocab]."""
        lead = tf.shape(x)[:-1]
        flat = tf.reshape(x, [-1, self.decoder.shape[1]])  # [tokens, d_model]
        dtype = self.matmul_dtype or x.dtype
        logits = tf.matmul(tf.cast(flat, dtype), tf.cast(self.decoder, dtype), transpose_b=True)
        logits = tf.cast(logits, x.dtype) + tf.cast(self.bias, x.dtype)  # [tokens, vocab]
        if dtype != x.dtype:
            top = tf.math.top_k(logits, k=min(self.REFINE_K, self.decoder.shape[0])).indices
            rows = tf.gather(tf.cast(self.decoder, x.dtype), top)  # [tokens, k, d_model]
            exact = (tf.einsum("td,tkd->tk", flat, rows) +
                     tf.gather(tf.cast(self.bias, x.dtype), top))  # [tokens, k]
            token = tf.broadcast_to(tf.range(tf.shape(top)[0])[:, None], tf.shape(top))
            logits = tf.tensor_scatter_nd_update(logits, tf.stack([token, top], -1), exact)
        return tf.reshape(logits, tf.concat([lead, tf.shape(self.decoder)[:1]], axis=0))

    def logits(self, h: tf.Tensor) -> tf.Tensor:
        """``unembed(transform(h))``: [..., d_model] -> [..., vocab], without ``hook_logits``
        (for engines that read a few positions: fill-mask, sweeps, the logit lens)."""
        return self.unembed(self.transform(h))

    def call(self, h: tf.Tensor) -> tf.Tensor:
        return self.hook_logits(self.logits(h))


def masked_mean_loss(labels: tf.Tensor, logits: tf.Tensor, legacy: bool) -> tf.Tensor:
    """Cross-entropy over tokens whose label is not -100: their mean, or the per-token vector.

    A batch whose labels are all -100 has loss 0 and gradient 0 (as recent Keras losses do;
    HF's 0/0 gives NaN, which ``fit`` would write into every weight). A label outside
    [0, vocab) that reached here (graphs: XLA drops the asserts) makes the loss NaN, never a
    plausible number."""
    labels = tf.reshape(labels, [-1])
    logits = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    active = tf.not_equal(labels, -100)
    valid = tf.logical_or(tf.logical_not(active), tf.logical_and(
        labels >= 0, labels < tf.shape(logits, out_type=labels.dtype)[-1]))
    if legacy:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.boolean_mask(labels, active), tf.boolean_mask(logits, active))
    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.clip_by_value(labels, 0, tf.shape(logits, out_type=labels.dtype)[-1] - 1),
        tf.cast(logits, tf.float32))
    per_token = tf.where(valid, per_token, tf.constant(float("nan"), per_token.dtype))
    weights = tf.cast(active, per_token.dtype)
    # where(), not a product: 0 * NaN would hide an invalid label; the ignored tokens' terms are
    # exactly 0 and so is their gradient. A scalar, not HF 4.37's (1,): under NumPy 2 ``float()``
    # of a (1,) tensor raises, and the seed's own example does ``round(float(outputs.loss), 2)``.
    total = tf.reduce_sum(tf.where(active, per_token, tf.zeros_like(per_token)))
    return total / tf.maximum(tf.reduce_sum(weights), 1.0)


class _LMModel(RobertaPreTrainedModel):
    signature = BASE_SIGNATURE + ("labels",)
    _output_cls = TFMaskedLMOutput
    _shift = False

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer=False, name="roberta")
        self.lm_head = RobertaLMHead(config, self.roberta.embeddings.word_embeddings,
                                     name="lm_head")
        self.built = True

    def forward(self, inputs: ForwardInputs, training: bool = False):
        """The model's math on prepared inputs (no checks): trunk, LM head, loss."""
        trunk = self.roberta.call(inputs, training=training)
        logits = tf.cast(self.lm_head(trunk["last_hidden_state"]), tf.float32)  # [batch, pos, vocab]
        loss = None
        labels = inputs.labels
        if labels is not None:
            if self._shift:
                loss = masked_mean_loss(labels[:, 1:], logits[:, :-1], self.config.tf_legacy_loss)
            else:
                loss = masked_mean_loss(labels, logits, self.config.tf_legacy_loss)
        fields = {k: trunk.get(k) for k in self._output_cls._fields if k in trunk}
        return self._output_cls(loss=loss, logits=logits, **fields)


class TFRobertaForMaskedLM(_LMModel):
    """RoBERTa with the masked-LM head. Outputs loss () and logits [batch, seq, vocab]."""

    _output_cls = TFMaskedLMOutput


class TFRobertaForCausalLM(_LMModel):
    """RoBERTa as a left-to-right LM (set ``is_decoder=True``); logits [batch, seq, vocab], the
    KV cache in ``past_key_values``, and a shifted loss when labels are given."""

    _output_cls = TFCausalLMOutputWithCrossAttentions
    _shift = True

    def __init__(self, config: RobertaConfig, **kw):
        if not config.is_decoder:
            logger.warning("TFRobertaForCausalLM without is_decoder=True attends in both "
                           "directions; set is_decoder=True for a left-to-right model")
        super().__init__(config, **kw)
