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
                            f"{package / 'data'} nor {package.parent / 'data'} exists)")


def bundled_models() -> list[str]:
    """Names of the models shipped in ``data/`` (``roberta-lab/mini-mlm`` and friends); the
    shared tokenizer folder ``roberta-lab/tokenizer`` loads by name too but is not a model."""
    try:
        root = data_dir()
    except FileNotFoundError:
        return []
    return sorted(BUNDLED_PREFIX + p.name for p in root.iterdir()
                  if (p / "config.json").is_file() or (p / "seq2seq.json").is_file())


PROBE_TIMEOUT_S = 3.0
_PROBES: dict[str, tuple[float, bool]] = {}  # endpoint -> (when, reachable), kept 60 s


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub's endpoint (``HF_ENDPOINT``) opens within
    ``timeout`` seconds; the answer is kept for 60 s."""
    import socket  # noqa: PLC0415
    import time  # noqa: PLC0415
    from urllib.parse import urlparse  # noqa: PLC0415

    from huggingface_hub import constants  # noqa: PLC0415

    endpoint = constants.ENDPOINT
    seen = _PROBES.get(endpoint)
    if seen is not None and time.monotonic() - seen[0] < 60:
        return seen[1]
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _PROBES[endpoint] = (time.monotonic(), ok)
    return ok


def local_folder(name_or_path: str | os.PathLike) -> Path | None:
    """The folder behind a local path or a bundled name, or None for a hub id."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError("name_or_path must be a str or path, got "
                        f"{type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    if not text:
        raise ValueError("name_or_path is empty")
    if text.startswith(BUNDLED_PREFIX) and not os.path.isdir(text):
        # A bundled name is one folder of data/: never a path that could leave it.
        name = text[len(BUNDLED_PREFIX):]
        folder = data_dir() / name
        if not name or name in (".", "..") or any(c in name for c in "/\\\0") or \
                not folder.is_dir():
            raise ValueError(f"name_or_path={text!r}: no such bundled model; bundled models are "
                             f"{bundled_models()}")
        return folder
    if os.path.isdir(text):
        return Path(text)
    if os.path.exists(text) or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ValueError(f"name_or_path={text!r} is not a folder")
    return None


def _inside(folder: Path, path: Path) -> None:
    """A file of a model folder must not be a link to somewhere else (the hub cache's own links
    from ``snapshots/<rev>/`` into ``blobs/`` excepted)."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    allowed = [base]
    if folder.parent.name == "snapshots":  # huggingface_hub's cache layout
        allowed.append(os.path.realpath(folder.parent.parent / "blobs"))
    if not any(os.path.commonpath([real, a]) == a for a in allowed):
        raise ValueError(f"{path} points outside its model folder (to {real}); refusing to "
                         "read it")


def resolve_file(name_or_path: str | os.PathLike, filename: str, *, required: bool = True,
                 **hub: Any) -> str | None:
    """Local path of ``filename`` for a folder, bundled name or hub id; None if absent and not
    ``required``. Hub files are downloaded (or read from the cache) with huggingface_hub."""
    from .files import plain_name  # noqa: PLC0415

    plain_name(filename, f"file name in {os.fspath(name_or_path)}")  # stays in its folder
    folder = local_folder(name_or_path)
    if folder is not None:
        path = folder / filename
        if path.is_file():
            _inside(folder, path)
            return str(path)
        if required:
            raise FileNotFoundError(f"{filename} not found in {folder}")
        return None
    import huggingface_hub  # noqa: PLC0415  (only needed for hub ids)
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.utils import EntryNotFoundError  # noqa: PLC0415

    if not hub.get("local_files_only") and not constants.HF_HUB_OFFLINE \
            and not hub_reachable():
        # Unreachable: huggingface_hub would retry for about 96 s before failing. Use the local
        # cache if it has the file, else say so at once.
        try:
            return huggingface_hub.hf_hub_download(os.fspath(name_or_path), filename,
                                                   **{**hub, "local_files_only": True})
        except huggingface_hub.utils.LocalEntryNotFoundError:  # (a subclass of the next)
            if not required:
                return None
            raise OSError(
                f"{os.fspath(name_or_path)!r} is not in the local cache and the hub "
                f"({constants.ENDPOINT}) cannot be reached from this machine "
                f"(checked in {PROBE_TIMEOUT_S:.0f} s). Use a bundled model "
                f"({', '.join(bundled_models()) or 'roberta-lab/...'}), a local folder, or "
                "download it once where the hub is reachable (it is then cached).") from None
        except EntryNotFoundError:
            if required:
                raise FileNotFoundError(f"{filename} not found in hub repo {name_or_path}") \
                    from None
            return None
    try:
        return huggingface_hub.hf_hub_download(os.fspath(name_or_path), filename, **hub)
    except huggingface_hub.utils.LocalEntryNotFoundError:  # (a subclass: first)
        # Offline (HF_HUB_OFFLINE=1 or local_files_only) and not cached: absent for our purposes
        # when optional, a clear error when required.
        if required:
            raise FileNotFoundError(_not_cached(name_or_path, filename, hub)) from None
        return None
    except EntryNotFoundError:
        if required:
            raise FileNotFoundError(f"{filename} not found in hub repo {name_or_path}") from None
        return None
    except (huggingface_hub.utils.RepositoryNotFoundError,
            huggingface_hub.utils.RevisionNotFoundError) as err:
        raise FileNotFoundError(f"hub repo {os.fspath(name_or_path)!r}: "
                                f"{str(err).splitlines()[0]}") from None


def _not_cached(name_or_path: Any, filename: str, hub: dict[str, Any]) -> str:
    from huggingface_hub import constants  # noqa: PLC0415

    where = f"{filename} of hub repo {os.fspath(name_or_path)!r} is not in the local cache"
    if constants.HF_HUB_OFFLINE:
        return f"{where} and offline mode is on (HF_HUB_OFFLINE=1): nothing can be downloaded"
    if hub.get("local_files_only"):
        return f"{where} and local_files_only=True: nothing can be downloaded"
    return f"{where} and it could not be downloaded (no network?)"
