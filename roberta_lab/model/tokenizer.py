"""RoBERTa's byte-level BPE tokenizer on the ``tokenizers`` library, with HF's call interface.

Reads ``tokenizer.json`` or ``vocab.json`` + ``merges.txt`` and gives the same ids as HF's
``RobertaTokenizerFast`` on the same files: ``<s> A </s>`` and ``<s> A </s></s> B </s>``,
``<mask>`` with left-strip (so ``"is <mask>."`` masks the word *with* its leading space),
padding, truncation, ``return_tensors="tf"|"np"``, ``decode``.

Example:
    >>> from roberta_lab import AutoTokenizer
    >>> tok = AutoTokenizer.from_pretrained("roberta-lab/mini-mlm")   # doctest: +SKIP
    >>> enc = tok("The capital of France is <mask>.", return_tensors="np")  # doctest: +SKIP
    >>> enc.input_ids.shape                                                 # doctest: +SKIP
    (1, 8)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

from .files import read_json
from .hub import hub_kwargs, resolve_file
from .model_folder import check_model_folder, write_model_files

SPECIAL_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                    "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                    "mask_token": "<mask>"}


class BatchEncoding(dict):
    """Tokenizer output: a dict (``model(**enc)``, ``model(enc)``) with attribute access
    (``enc.input_ids``), like HF's BatchEncoding."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


class RobertaTokenizer:
    """A RoBERTa tokenizer (byte-level BPE) with HF's ``__call__``/``decode`` interface."""

    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, tokenizer: Tokenizer, *, model_max_length: int = 512,
                 add_prefix_space: bool = False, trim_offsets: bool = True,
                 clean_up_tokenization_spaces: bool = False, padding_side: str = "right",
                 **special_tokens: str):
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer)}")
        self._tok = tokenizer
        self.model_max_length = int(model_max_length)
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        self.padding_side = padding_side
        self.special_tokens = dict(SPECIAL_DEFAULTS)
        self.special_tokens.update({k: v for k, v in special_tokens.items() if k in SPECIAL_DEFAULTS})
        # As HF's RobertaTokenizerFast does on load: <mask> eats the space before it, and the
        # post-processor follows the tokenizer's prefix-space and offset-trimming settings.
        self._tok.add_special_tokens([AddedToken(self.special_tokens["mask_token"], lstrip=True,
                                                 rstrip=False, normalized=False, special=True)])
        self._tok.post_processor = processors.RobertaProcessing(
            (self.special_tokens["sep_token"], self._id(self.special_tokens["sep_token"])),
            (self.special_tokens["cls_token"], self._id(self.special_tokens["cls_token"])),
            add_prefix_space=add_prefix_space, trim_offsets=trim_offsets)
        self._tok.no_padding()
        self._tok.no_truncation()

    # --- loading and saving -----------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> "RobertaTokenizer":
        """Load from a folder, a bundled name (``roberta-lab/mini-mlm``) or a hub id."""
        hub = hub_kwargs(kwargs)
        config_path = resolve_file(name_or_path, "tokenizer_config.json", required=False, **hub)
        settings: dict[str, Any] = {}
        if config_path:
            settings.update(read_json(config_path, "tokenizer config"))
        special_path = resolve_file(name_or_path, "special_tokens_map.json", required=False, **hub)
        if special_path:
            for key, value in read_json(special_path, "special tokens map").items():
                if isinstance(value, dict) and "content" not in value:
                    raise ValueError(f"special tokens map {special_path}: {key!r} has no "
                                     "'content'")
                settings.setdefault(key, value["content"] if isinstance(value, dict) else value)
        settings.update(kwargs)
        tok_json = resolve_file(name_or_path, "tokenizer.json", required=False, **hub)
        source = tok_json
        try:
            if tok_json:
                tokenizer = Tokenizer.from_file(tok_json)
            else:
                vocab = resolve_file(name_or_path, "vocab.json", **hub)
                merges = resolve_file(name_or_path, "merges.txt", **hub)
                source = f"{vocab} / {merges}"
                read_json(vocab, "vocabulary")
                tokenizer = build_bpe(vocab, merges, bool(settings.get("add_prefix_space", False)),
                                      settings)
            return cls(tokenizer, **_init_kwargs(settings))
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - the tokenizers library raises bare Exceptions
            if source and source in str(err):
                raise
            raise ValueError(f"tokenizer files {source} could not be loaded: "
                             f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
                             ) from None

    def save_pretrained(self, directory: str | os.PathLike) -> tuple[str, ...]:
        """Write ``tokenizer.json``, ``vocab.json``, ``merges.txt`` and the two HF json files,
        as the model's ``save_pretrained`` does: atomically, never into a file or a folder
        that is not a model folder, keeping permissions (``model_folder.write_model_files``)."""
        config = {"tokenizer_class": "RobertaTokenizer", "model_max_length": self.model_max_length,
                  "add_prefix_space": False, "trim_offsets": True,
                  "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
                  **self.special_tokens}
        what = "tokenizer save_pretrained"
        target = check_model_folder(directory, [], what)  # before any work
        # The BPE model writes vocab.json and merges.txt only into a folder: a scratch one,
        # read back, so the model folder itself is written by write_model_files alone.
        with tempfile.TemporaryDirectory(prefix="roberta-lab-tokenizer-") as scratch:
            try:
                paths = self._tok.model.save(scratch)
                model_files = [(os.path.basename(p), Path(p).read_bytes()) for p in paths]
            except Exception as err:  # noqa: BLE001 - tokenizers raises bare Exceptions
                raise OSError(f"{what}: cannot write vocab.json and merges.txt for {target} "
                              f"(in the temporary folder {scratch}): {err}; nothing was "
                              "replaced") from err
        writers = [("tokenizer.json", self._tok.to_str(pretty=True).encode("utf-8")),
                   *model_files,
                   ("tokenizer_config.json", _json_bytes(config)),
                   ("special_tokens_map.json", _json_bytes(self.special_tokens))]
        out = write_model_files(directory, writers, what)
        return tuple(str(out / name) for name in
                     ("tokenizer.json", *(n for n, _ in model_files), "tokenizer_config.json"))

    # --- vocabulary -------------------------------------------------------------------------
    def _id(self, token: str) -> int:
        idx = self._tok.token_to_id(token)
        if idx is None:
            raise ValueError(f"special token {token!r} is not in the vocabulary")
        return idx

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=False)

    def get_vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    def __getattr__(self, name: str) -> Any:
        # bos_token, mask_token, ... and their *_id forms, as on HF tokenizers.
        specials = self.__dict__.get("special_tokens", {})
        if name in specials:
            return specials[name]
        if name.endswith("_id") and name[:-3] in specials:
            return self._id(specials[name[:-3]])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def all_special_tokens(self) -> list[str]:
        return sorted(set(self.special_tokens.values()))

    @property
    def all_special_ids(self) -> list[int]:
        return [self._id(t) for t in self.all_special_tokens]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        if isinstance(tokens, str):
            idx = self._tok.token_to_id(tokens)
            return self.unk_token_id if idx is None else idx
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Any, skip_special_tokens: bool = False) -> Any:
        flat = _as_id_list(ids, "ids")
        special = set(self.all_special_ids) if skip_special_tokens else set()
        tokens = [self._tok.id_to_token(i) for i in flat if i not in special]
        return tokens[0] if np.ndim(_to_numpy(ids)) == 0 else tokens

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        _check_text(text, "text")
        return self._tok.encode(text, add_special_tokens=add_special_tokens).tokens

    def display_tokens(self, ids: Any) -> list[str]:
        """Readable token strings for plots: byte-level symbols turned back into text."""
        return [self._tok.decode([i], skip_special_tokens=False) for i in _as_id_list(ids, "ids")]

    # --- encoding ---------------------------------------------------------------------------
    def __call__(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None, *,
                 add_special_tokens: bool = True, padding: bool | str = False,
                 truncation: bool | str = False, max_length: int | None = None,
                 return_tensors: str | None = None, return_attention_mask: bool = True,
                 return_token_type_ids: bool = False, return_special_tokens_mask: bool = False,
                 return_offsets_mapping: bool = False, pad_to_multiple_of: int | None = None
                 ) -> BatchEncoding:
        batched = not isinstance(text, str)
        if batched and not isinstance(text, (list, tuple)):
            raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
        texts = [text] if not batched else list(text)
        if not texts:
            raise ValueError("text is an empty batch")
        for t in texts:
            _check_text(t, "text")
        pairs = None
        if text_pair is not None:
            if not isinstance(text_pair, (str, list, tuple)):
                raise TypeError(f"text_pair must be a str or a list of str, got "
                                f"{type(text_pair).__name__}")
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if len(pairs) != len(texts):
                raise ValueError(f"text_pair has {len(pairs)} entries but text has {len(texts)}")
            for t in pairs:
                _check_text(t, "text_pair")
        for name, value in (("max_length", max_length), ("pad_to_multiple_of", pad_to_multiple_of)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, np.integer))
                                      or value <= 0):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if return_tensors not in (None, "tf", "np", "pt"):
            raise ValueError(f"return_tensors must be None, 'tf', 'np' or 'pt', got {return_tensors!r}")
        inputs = texts if pairs is None else list(zip(texts, pairs))
        limits = self._truncation(truncation, max_length)
        if limits:
            # The library's own truncation knows how many special tokens RoBERTa adds.
            self._tok.enable_truncation(**limits)
        try:
            encodings = self._tok.encode_batch(inputs, add_special_tokens=add_special_tokens)
        finally:
            self._tok.no_truncation()
        target = self._pad_length(encodings, padding, max_length, pad_to_multiple_of)
        if target is None and return_tensors and len({len(e.ids) for e in encodings}) > 1:
            raise ValueError("sequences have different lengths: pass padding=True to make a "
                             f"tensor (return_tensors={return_tensors!r})")
        fields: dict[str, list[list[int]]] = {"input_ids": []}
        if return_attention_mask:
            fields["attention_mask"] = []
        if return_token_type_ids:
            fields["token_type_ids"] = []
        if return_special_tokens_mask:
            fields["special_tokens_mask"] = []
        if return_offsets_mapping:
            fields["offset_mapping"] = []
        for enc in encodings:
            n_pad = 0 if target is None else max(target - len(enc.ids), 0)
            row = {"input_ids": list(enc.ids), "attention_mask": list(enc.attention_mask),
                   "token_type_ids": list(enc.type_ids),
                   "special_tokens_mask": list(enc.special_tokens_mask),
                   "offset_mapping": [tuple(o) for o in enc.offsets]}
            fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "token_type_ids": 0,
                    "special_tokens_mask": 1, "offset_mapping": (0, 0)}
            for key in fields:
                pad = [fill[key]] * n_pad
                fields[key].append(pad + row[key] if self.padding_side == "left" else row[key] + pad)
        # A single text gives flat lists, but tensors always get a batch axis (as in HF).
        out = {k: (v if batched or return_tensors else v[0]) for k, v in fields.items()}
        return BatchEncoding(_convert(out, return_tensors))

    def _truncation(self, truncation: bool | str, max_length: int | None) -> dict | None:
        if truncation in (False, "do_not_truncate"):
            return None
        if truncation not in (True, "longest_first", "only_first", "only_second"):
            raise ValueError(f"truncation must be a bool or a strategy name, got {truncation!r}")
        limit = max_length if max_length is not None else self.model_max_length
        if not isinstance(limit, int) or limit <= 0:
            raise ValueError(f"max_length must be a positive int, got {limit!r}")
        return {"max_length": limit,
                "strategy": "longest_first" if truncation is True else truncation}

    def _pad_length(self, encodings: list[Any], padding: bool | str, max_length: int | None,
                    multiple: int | None) -> int | None:
        if padding in (False, "do_not_pad"):
            return None
        if padding in (True, "longest"):
            length = max(len(e.ids) for e in encodings)
        elif padding == "max_length":
            length = max_length if max_length is not None else self.model_max_length
        else:
            raise ValueError(f"padding must be a bool, 'longest' or 'max_length', got {padding!r}")
        if multiple:
            length = -(-length // multiple) * multiple
        return length

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True,
               **kwargs: Any) -> list[int]:
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    # --- decoding ---------------------------------------------------------------------------
    def decode(self, token_ids: Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        ids = _as_id_list(token_ids, "token_ids")
        text = self._tok.decode(ids, skip_special_tokens=skip_special_tokens)
        clean = (self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None
                 else clean_up_tokenization_spaces)
        return _clean_up(text) if clean else text

    def batch_decode(self, sequences: Iterable[Any], **kwargs: Any) -> list[str]:
        return [self.decode(s, **kwargs) for s in _to_numpy(sequences)]


AutoTokenizer = RobertaTokenizer  # one tokenizer family here; HF's name for the seed's examples


def build_bpe(vocab_file: str, merges_file: str, add_prefix_space: bool,
              settings: dict[str, Any]) -> Tokenizer:
    """A byte-level BPE ``Tokenizer`` from GPT-2/RoBERTa-style ``vocab.json`` + ``merges.txt``."""
    vocab, merges = models.BPE.read_file(vocab_file, merges_file)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    specials = [settings.get(k, v) for k, v in SPECIAL_DEFAULTS.items()]
    specials = [s["content"] if isinstance(s, dict) else s for s in specials]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in dict.fromkeys(specials) if s in vocab])
    return tok


def _init_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("model_max_length", "add_prefix_space", "trim_offsets",
                "clean_up_tokenization_spaces", "padding_side"):
        if key in settings and settings[key] is not None:
            out[key] = settings[key]
    # HF writes a huge sentinel when a tokenizer has no limit.
    if out.get("model_max_length", 0) > 10**9:
        out["model_max_length"] = 512
    for key in SPECIAL_DEFAULTS:
        value = settings.get(key)
        if value is not None:
            out[key] = value["content"] if isinstance(value, dict) else value
    return out


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _check_text(text: Any, name: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str or a list of str, got {type(text).__name__}")


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x) if not isinstance(x, (list, tuple)) else x


def _as_id_list(ids: Any, name: str) -> list[int]:
    arr = np.asarray(_to_numpy(ids))
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{name} must be integer token ids, got dtype {arr.dtype}")
    return [int(i) for i in arr.reshape(-1)]


def _convert(fields: dict[str, Any], return_tensors: str | None) -> dict[str, Any]:
    if return_tensors is None:
        return fields
    if return_tensors == "np":
        return {k: np.asarray(v, dtype=np.int64) for k, v in fields.items()}
    if return_tensors == "pt":
        import torch  # noqa: PLC0415  (optional, only for this format)

        return {k: torch.tensor(v) for k, v in fields.items()}
    import tensorflow as tf  # noqa: PLC0415  (keeps the tokenizer importable without TF)

    return {k: tf.constant(v, dtype=tf.int32) for k, v in fields.items()}


def _clean_up(text: str) -> str:
    # HF's clean_up_tokenization: glue punctuation and English contractions back on.
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                 (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(a, b)
    return text
