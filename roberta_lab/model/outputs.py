"""Model outputs with the seed's field names, readable by attribute, key and index.

As in HF transformers, a field that is None is left out: ``out[0]``/``out.to_tuple()`` walk the
fields that are set, in declaration order, and ``return_dict=False`` returns that tuple.
Outputs are registered with Keras' tree utilities and are ``Mapping``s for ``tf.nest``, so they
cross ``tf.function`` and ``model.predict`` intact.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class ModelOutput(OrderedDict):
    """Base class: an ordered dict of the fields that are not None."""

    _fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        if args:
            if len(args) != 1:
                raise TypeError(f"{type(self).__name__} takes at most one positional argument")
            kwargs = {**dict(args[0]), **kwargs}
        unknown = set(kwargs) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        for name in self._fields:
            value = kwargs.get(name)
            if value is not None:
                super().__setitem__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name in type(self)._fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._fields:
            raise KeyError(f"{type(self).__name__} has no field {key!r}")
        if value is None:
            self.pop(key, None)
            return
        # Keep declaration order even when a field is set late.
        items = {k: v for k, v in self.items()}
        items[key] = value
        super().clear()
        for name in self._fields:
            if name in items:
                super().__setitem__(name, items[name])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self[k] for k in self.keys())

    def __reduce__(self):  # pickling/copy: rebuild through __init__
        return (type(self), (dict(self),))


def _register(cls: type) -> type:
    fields = cls._fields

    # Only the fields that are set: Keras' functional API needs every leaf to be a tensor.
    def flatten(out: ModelOutput):
        present = tuple(f for f in fields if f in out)
        return [out[f] for f in present], present, list(present)

    def unflatten(present: Any, children: Any) -> ModelOutput:
        return cls(**dict(zip(present, children)))

    try:
        import optree  # noqa: PLC0415  (Keras 3's tree backend)

        optree.register_pytree_node(cls, flatten, unflatten, namespace="keras")
    except (ImportError, ValueError):  # ValueError: already registered on reload
        pass
    return cls


@_register
class TFBaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    """Output of ``TFRobertaModel``.

    last_hidden_state: [batch, seq, hidden]; pooler_output: [batch, hidden];
    past_key_values: tuple over layers of (k_self, v_self[, k_cross, v_cross]), each
    [batch, head, pos, d_head]; hidden_states: num_layers + 1 tensors [batch, seq, hidden];
    attentions: num_layers tensors [batch, head, q_pos, k_pos]; cross_attentions: num_layers
    tensors [batch, head, q_pos, encoder_pos].
    """

    _fields = ("last_hidden_state", "pooler_output", "past_key_values", "hidden_states",
               "attentions", "cross_attentions")


@_register
class TFMaskedLMOutput(ModelOutput):
    """Output of ``TFRobertaForMaskedLM``: loss (), logits [batch, seq, vocab], ..."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


@_register
class TFCausalLMOutputWithCrossAttentions(ModelOutput):
    """Output of ``TFRobertaForCausalLM``: loss (), logits [batch, seq, vocab], past, ..."""

    _fields = ("loss", "logits", "past_key_values", "hidden_states", "attentions",
               "cross_attentions")


@_register
class TFSequenceClassifierOutput(ModelOutput):
    """Output of ``TFRobertaForSequenceClassification``: loss (), logits [batch, num_labels],
    hidden_states, attentions."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


@_register
class TFTokenClassifierOutput(ModelOutput):
    """Output of ``TFRobertaForTokenClassification``: loss (), logits [batch, seq, num_labels],
    hidden_states, attentions."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


@_register
class TFQuestionAnsweringModelOutput(ModelOutput):
    """Output of ``TFRobertaForQuestionAnswering``: loss (), start_logits and end_logits
    [batch, seq], hidden_states, attentions."""

    _fields = ("loss", "start_logits", "end_logits", "hidden_states", "attentions")


@_register
class TFMultipleChoiceModelOutput(ModelOutput):
    """Output of ``TFRobertaForMultipleChoice``: loss (), logits [batch, choices],
    hidden_states and attentions over the batch x choices flattened sequences."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


__all__ = ["ModelOutput", "TFBaseModelOutputWithPoolingAndCrossAttentions", "TFMaskedLMOutput",
           "TFCausalLMOutputWithCrossAttentions", "TFSequenceClassifierOutput",
           "TFTokenClassifierOutput", "TFQuestionAnsweringModelOutput",
           "TFMultipleChoiceModelOutput"]
