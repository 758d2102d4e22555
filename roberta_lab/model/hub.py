"""Where checkpoint files come from: a local folder, a model bundled in ``data/``, or the HF hub.

Bundled models are addressed as ``roberta-lab/<name>`` and live in the repository's ``data/``
folder (a source checkout) or in ``roberta_lab/data`` (an installed wheel, see pyproject.toml).
Hub downloads go through ``huggingface_hub``, so its cache and ``HF_HUB_OFFLINE`` apply.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BUNDLED_PREFIX = "roberta-lab/"
_HUB_KEYS = ("cache_dir", "revision", "token", "local_files_only", "force_download")


def hub_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the download options out of ``kwargs`` (they are not config fields)."""
    return {k: kwargs.pop(k) for k in _HUB_KEYS if k in kwargs}


def data_dir() -> Path:
    """The folder holding the bundled models: the wheel's copy first, then the checkout's."""
    here = Path(__file__).resolve().parent.parent  # the roberta_lab package folder
    for candidate in (here / "data", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("roberta_lab's bundled data folder is missing (neither "
                            f"{here / 'data'} nor {here.parent / 'data'} exists)")


def bundled_models() -> list[str]:
    """Names of the models shipped in ``data/`` (``roberta-lab/mini-mlm`` and friends); the
    shared tokenizer folder ``roberta-lab/tokenizer`` loads by name too but is not a model."""
    try:
        root = data_dir()
    except FileNotFoundError:
        return []
    return sorted(BUNDLED_PREFIX + p.name for p in root.iterdir()
                  if (p / "config.json").is_file() or (p / "seq2seq.json").is_file())


def local_folder(name_or_path: str | os.PathLike) -> Path | None:
    """The folder behind a local path or a bundled name, or None for a hub id."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError("name_or_path must be a str or path, got "
                        f"{type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    if not text:
        raise ValueError("name_or_path is empty")
    if os.path.isdir(text):
        return Path(text)
    if text.startswith(BUNDLED_PREFIX):
        folder = data_dir() / text[len(BUNDLED_PREFIX):]
        if not folder.is_dir():
            raise ValueError(f"name_or_path={text!r}: no such bundled model; bundled models are "
                             f"{bundled_models()}")
        return folder
    if os.path.exists(text) or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ValueError(f"name_or_path={text!r} is not a folder")
    return None


def resolve_file(name_or_path: str | os.PathLike, filename: str, *, required: bool = True,
                 **hub: Any) -> str | None:
    """Local path of ``filename`` for a folder, bundled name or hub id; None if absent and not
    ``required``. Hub files are downloaded (or read from the cache) with huggingface_hub."""
    folder = local_folder(name_or_path)
    if folder is not None:
        path = folder / filename
        if path.is_file():
            return str(path)
        if required:
            raise FileNotFoundError(f"{filename} not found in {folder}")
        return None
    import huggingface_hub  # noqa: PLC0415  (only needed for hub ids)
    from huggingface_hub.utils import EntryNotFoundError  # noqa: PLC0415

    try:
        return huggingface_hub.hf_hub_download(os.fspath(name_or_path), filename, **hub)
    except EntryNotFoundError:
        if required:
            raise FileNotFoundError(f"{filename} not found in hub repo {name_or_path}") from None
        return None
    except huggingface_hub.utils.LocalEntryNotFoundError:
        # Offline (HF_HUB_OFFLINE=1 or local_files_only) and not cached: absent for our purposes
        # when optional, a clear error when required.
        if required:
            raise
        return None
