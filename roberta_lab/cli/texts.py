"""Inputs and outputs of the commands that read many texts: ``--texts`` as a file or as the texts
themselves (a mistyped file name is an error, never swept as text), output paths checked before
any work, and the masked-LM sweep's inputs.

Example:
    >>> looks_like_path("texts.txt"), looks_like_path("The cat sat.")
    (True, False)
    >>> read_texts(["The cat sat.", "A dog ran."])
    ['The cat sat.', 'A dog ran.']
"""

from __future__ import annotations

import os
from pathlib import Path

from .loading import CLIError

SWEEP_MASK_RATE = 0.15
SWEEP_SEED = 0
_TEXT_SUFFIXES = (".txt", ".text", ".tsv", ".csv", ".jsonl", ".json", ".md", ".lst")


def looks_like_path(item: str) -> bool:
    """One word that names a file (a folder separator or a file suffix), not a text to sweep."""
    return not any(c.isspace() for c in item) and (
        os.sep in item or "/" in item or item.lower().endswith(_TEXT_SUFFIXES) or
        item.startswith(("~", ".")))


def read_texts(items: list[str]) -> list[str]:
    """``--texts FILE`` (one text per non-empty line) or ``--texts TEXT [TEXT ...]``. A single
    item that looks like a path must be an existing file: a mistyped file name is an error,
    never swept as if it were a text."""
    from ..model.files import check_input_file  # noqa: PLC0415

    if len(items) == 1 and (os.path.lexists(items[0]) or looks_like_path(items[0])):
        try:
            check_input_file(os.path.expanduser(items[0]), "--texts")
        except ValueError as exc:
            raise CLIError(f"{exc} (give a file with one text per line, or the texts "
                           "themselves)") from None
        try:
            lines = Path(os.path.expanduser(items[0])).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read --texts {items[0]}: {exc}") from exc
        texts = [t.strip() for t in lines if t.strip()]
        if not texts:
            raise CLIError(f"{items[0]} holds no text (one text per line)")
        return texts
    texts = [t.strip() for t in items]
    if any(not t for t in texts):
        raise CLIError("empty text in --texts")
    return texts


def sweep_inputs(model, tok, texts: list[str], *, rate: float = SWEEP_MASK_RATE,
                 seed: int = SWEEP_SEED):
    """(input_ids, attention_mask, labels, reference_ids) for a masked-LM sweep.

    Texts with ``<mask>``: the labels are the model's own top-1 at each mask (every text must
    then have one). Otherwise a fixed-seed ``rate`` share of each text's non-special tokens is
    replaced by ``<mask>`` and labelled with the original token. ``reference_ids`` are the
    unmasked inputs (for mean ablation)."""
    import numpy as np  # noqa: PLC0415

    from ..engine.fill_mask import mask_logits  # noqa: PLC0415

    with_mask = [tok.mask_token in t for t in texts]
    if any(with_mask) and not all(with_mask):
        raise CLIError(f"either every text has {tok.mask_token} or none does")
    enc = tok(texts, padding=True, return_tensors="np")
    ids = np.asarray(enc["input_ids"], np.int32).copy()
    mask = np.asarray(enc["attention_mask"], np.int32)
    limit = model.config.max_sequence_length
    if ids.shape[1] > limit:
        raise CLIError(f"a text is {ids.shape[1]} tokens long; the model reads at most {limit}")
    labels = np.full(ids.shape, -100, np.int64)
    reference = ids.copy()
    if all(with_mask):
        where = np.argwhere(ids == tok.mask_token_id)
        if len(set(where[:, 0].tolist())) != len(ids):
            raise CLIError(f"a text has no {tok.mask_token} token after tokenizing")
        top1 = mask_logits(model, ids, mask, mask_token_id=tok.mask_token_id).numpy().argmax(-1)
        labels[where[:, 0], where[:, 1]] = top1
        return ids, mask, labels, reference
    from ..engine.ablation import mask_random_tokens  # noqa: PLC0415

    try:
        masked, new_labels = mask_random_tokens(ids, mask, tok.all_special_ids, tok.mask_token_id,
                                                rate, seed)
    except ValueError as err:
        raise CLIError(str(err)) from None
    ids[...] = masked
    labels[...] = new_labels
    return ids, mask, labels, reference


def output_path(path: str, flag: str, inputs: list[str] = ()) -> Path:
    """An output path checked before any work: a writable file, not a folder, not an input."""
    from ..model.files import check_output_file  # noqa: PLC0415

    try:
        check_output_file(path, flag)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    for item in inputs:
        if os.path.isfile(item) and os.path.exists(path) and os.path.samefile(item, path):
            raise CLIError(f"{flag} {path} is also an input; it would be overwritten")
    return Path(path)
