"""RoBERTa embeddings: word + position + token type, then LayerNorm and dropout.

RoBERTa's position quirk (from fairseq): position ids start at ``padding_idx + 1`` and pad tokens
keep position ``padding_idx``, wherever they sit: ids ``[0, 9, 1, 7]`` with pad 1 get positions
``[2, 3, 1, 4]``. That is why roberta-base has 514 position rows for 512 tokens.

Hooks: ``hook_embed`` (word embeddings), ``hook_pos_embed``, ``hook_token_type_embed``, each
[batch, pos, d_model]; ``hook_full_embed`` after LayerNorm and dropout (= blocks.0 input).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import ConfigLayer, LayerNorm, truncated_normal


def real_tokens(input_ids: tf.Tensor | None, batch: Any, seq: Any, padding_idx: int) -> tf.Tensor:
    """int32 [batch, seq]: 1 for a token that takes a position, 0 for a pad. Without ids
    (``inputs_embeds``) pads cannot be seen, so every token is real."""
    if input_ids is None:
        return tf.ones([batch, seq], tf.int32)
    return tf.cast(tf.not_equal(input_ids, padding_idx), tf.int32)


def position_ids(input_ids: tf.Tensor | None, batch: Any, seq: Any, padding_idx: int,
                 seen: tf.Tensor | int = 0) -> tf.Tensor:
    """THE position rule, for the full pass and the cache alike (fairseq's, as HF's
    ``create_position_ids_from_input_ids``): a real token's position is ``padding_idx`` plus
    the number of real tokens up to and including it; a pad keeps ``padding_idx``. The
    attention mask plays no part, so a cached step continues exactly the count a full pass
    makes: ``seen`` [batch, 1] (or a scalar) is the real tokens already in the cache
    (``KVCache.seen``). Returns [batch, seq] int32.

    >>> position_ids(tf.constant([[0, 9, 1, 7]]), 1, 4, padding_idx=1).numpy().tolist()
    [[2, 3, 1, 4]]
    >>> position_ids(tf.constant([[7]]), 1, 1, padding_idx=1, seen=3).numpy().tolist()
    [[5]]
    """
    real = real_tokens(input_ids, batch, seq, padding_idx)  # [batch, seq]
    count = tf.cumsum(real, axis=1) + tf.cast(seen, tf.int32)
    return count * real + padding_idx


_position_rule = position_ids


class RobertaEmbeddings(ConfigLayer):
    """[batch, seq] ids (or [batch, seq, d_model] embeds) -> [batch, seq, d_model]."""

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.config = config
        h, std = config.hidden_size, config.initializer_range
        self.word_embeddings = self.add_weight(shape=(config.vocab_size, h), name="word_embeddings",
                                               initializer=truncated_normal(std))
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, h), name="position_embeddings",
            initializer=truncated_normal(std))
        self.token_type_embeddings = self.add_weight(
            shape=(config.type_vocab_size, h), name="token_type_embeddings",
            initializer=truncated_normal(std))
        self.layer_norm = LayerNorm(h, config.layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, autocast=False)
        self.hook_embed = HookPoint("hook_embed")
        self.hook_pos_embed = HookPoint("hook_pos_embed")
        self.hook_token_type_embed = HookPoint("hook_token_type_embed")
        self.hook_full_embed = HookPoint("hook_full_embed")
        self.built = True

    def call(self, input_ids: tf.Tensor | None = None, position_ids: tf.Tensor | None = None,
             token_type_ids: tf.Tensor | None = None, inputs_embeds: tf.Tensor | None = None,
             training: bool = False) -> tf.Tensor:
        """As HF's embeddings: ``embeddings(ids)`` alone works (positions from the ids' pads,
        token types 0)."""
        if input_ids is not None:
            input_ids = tf.convert_to_tensor(input_ids)
            input_ids = tf.cast(input_ids, tf.int32) if input_ids.dtype != tf.int32 else input_ids
        ref = input_ids if input_ids is not None else inputs_embeds
        if position_ids is None:  # the one position rule (the argument shadows its name)
            position_ids = _position_rule(input_ids, tf.shape(ref)[0], tf.shape(ref)[1],
                                          self.config.padding_idx)
        if token_type_ids is None:
            token_type_ids = tf.zeros(tf.shape(ref)[:2], tf.int32)
        if inputs_embeds is None:
            inputs_embeds = tf.gather(self.word_embeddings, input_ids)  # [batch, pos, d_model]
        word = self.hook_embed(inputs_embeds)
        pos = self.hook_pos_embed(tf.gather(self.position_embeddings, position_ids))
        types = self.hook_token_type_embed(tf.gather(self.token_type_embeddings, token_type_ids))
        x = self.layer_norm(word + pos + types)
        x = self.dropout(x, training=training)
        return self.hook_full_embed(x)
