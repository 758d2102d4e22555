"""A model folder: the files it may hold, and the one way anything is saved into one.

The model's, the config's and the tokenizer's ``save_pretrained`` all write through
``write_model_files``, so all three keep the same promises:

* a path that is a file, or a folder that is not a model folder (it holds other files and no
  RoBERTa ``config.json``, or a ``config.json`` of another model or of nothing), is refused
  before anything is written; so is a file name of ours that exists as a folder or a link to a
  non-file;
* only the named files are written: each first to a temporary file in the folder, all flushed
  to disk, then renamed into place in the order given; a failure before the renames (full disk,
  read-only folder, Ctrl-C) leaves the folder as it was and no temporary file behind;
* permissions never change: a replaced file keeps its mode, a new one gets the umask's, the
  folder keeps its own;
* errors name the folder or the file.

Example:
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     folder = write_model_files(os.path.join(d, "m"), [("config.json", b"{}")])
    ...     sorted(os.listdir(folder))
    ['config.json']
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = open(os.path.join(d, "thesis.tex"), "w").write("precious")
    ...     write_model_files(d, [("config.json", b"{}")])
    Traceback (most recent call last):
    ValueError: save_pretrained: ... is not a model folder (it holds ['thesis.tex']); ...
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Callable, Union

from .files import current_umask, read_json

SAFE_WEIGHTS, SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"
TF_WEIGHTS, PT_WEIGHTS, PT_INDEX = "tf_model.h5", "pytorch_model.bin", "pytorch_model.bin.index.json"
CONFIG_NAME = "config.json"
MODEL_FILES = (SAFE_WEIGHTS, SAFE_INDEX, TF_WEIGHTS, PT_WEIGHTS, PT_INDEX, CONFIG_NAME)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.json", "merges.txt", "added_tokens.json")
#: A shard of a sharded checkpoint, as HF names them.
SHARD = re.compile(r"^(model|pytorch_model)-\d{5}-of-\d{5}\.(safetensors|bin)$")
# Files that may sit in a model folder; a folder holding anything else (and no RoBERTa
# config.json) is not written into, so a save never mixes a model into unrelated files.
FOLDER_FILES = set(MODEL_FILES) | set(TOKENIZER_FILES) | {
    "generation_config.json", "README.md", "training_log.json", ".gitattributes",
    # roberta_lab's encoder-decoder layout (data/mini-seq2seq, training/train.py seq2seq):
    # the tokenizer is saved beside the two halves' folders and their seq2seq.json
    "seq2seq.json", "encoder", "decoder"}

#: What ``write_model_files`` writes: a file name and its bytes, or a function writing the
#: file at the (temporary) path it is given.
Writer = tuple[str, Union[bytes, Callable[[str], object]]]


def folder_problem(target: Path) -> str | None:
    """Why ``target`` must not be written into, or None when it may (a new folder, an empty
    one, a RoBERTa model folder, or one holding only model and tokenizer files)."""
    if not os.path.lexists(target):
        return None
    if not target.is_dir():
        return "exists and is not a folder"
    config = target / CONFIG_NAME
    if os.path.lexists(config):
        if not config.is_file():
            return f"holds a {CONFIG_NAME} that is not a file"
        try:
            data = read_json(config, "config file")
        except (OSError, ValueError):
            return f"holds a {CONFIG_NAME} that is not a model config"
        if data.get("model_type") != "roberta":
            return (f"holds a {CONFIG_NAME} of model_type {data.get('model_type')!r}, not a "
                    "RoBERTa model folder")
        return None
    others = sorted(p.name for p in target.iterdir()
                    if p.name not in FOLDER_FILES and not SHARD.match(p.name)
                    and not p.name.startswith("."))
    if others:
        return (f"is not a model folder (it holds {others[:3]}{' ...' if len(others) > 3 else ''}"
                "); choose a new or empty folder")
    return None


def check_model_folder(directory: str | os.PathLike, names: list[str],
                       what: str = "save_pretrained") -> Path:
    """The absolute folder ``directory`` if ``names`` may be saved into it (see the module
    docstring); otherwise a ValueError naming the folder or the file. Writes nothing."""
    target = Path(os.fspath(directory)).absolute()
    problem = folder_problem(target)
    if problem:
        raise ValueError(f"{what}: {target} {problem}; nothing was written")
    for name in names:
        path = target / name
        if os.path.lexists(path) and not path.is_file():
            raise ValueError(f"{what}: {path} exists and is not a file (a folder?); nothing "
                             "was written")
    return target


def write_model_files(directory: str | os.PathLike, writers: list[Writer],
                      what: str = "save_pretrained") -> Path:
    """Check the folder, then write every file atomically (see the module docstring). Returns
    the folder's absolute path."""
    target = check_model_folder(directory, [name for name, _ in writers], what)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(err.errno, f"{what}: cannot create {target}: {err.strerror}") from None
    umask = current_umask()
    temps: list[tuple[str, Path]] = []
    name, replaced = "", []
    try:
        for name, write in writers:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target)
            temps.append((name, Path(tmp)))
            if isinstance(write, bytes):
                with os.fdopen(fd, "wb") as f:
                    f.write(write)
            else:
                os.close(fd)
                write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            old = target / name
            mode = stat.S_IMODE(old.stat().st_mode) if old.is_file() else 0o666 & ~umask
            os.chmod(tmp, mode)
        for name, tmp in temps:
            os.replace(tmp, target / name)
            replaced.append(name)
    except BaseException as err:
        for _, tmp in temps:
            tmp.unlink(missing_ok=True)
        if not isinstance(err, Exception):  # Ctrl-C: the folder is as it was (or partly renamed)
            raise
        done = f"already replaced: {replaced}" if replaced else "nothing was replaced"
        where = f"{what}: cannot write {target / name}"
        if isinstance(err, OSError) and err.errno is not None:
            raise type(err)(err.errno, f"{where}: {err.strerror}; {done}") from None
        # Writers from other libraries (safetensors, tokenizers) raise their own types for a
        # full disk: every failure is an OSError that names the file.
        raise OSError(f"{where}: {err}; {done}") from err
    return target
