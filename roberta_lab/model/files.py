"""Reading and writing files without surprises: every error names the file, writes are atomic.

* ``read_json(path)``: a JSON object from a UTF-8 file; invalid JSON, bad UTF-8, a missing or
  unreadable file, or a top level that is not an object is a ValueError/OSError naming ``path``.
* ``write_atomic(path, data)``: a temporary file beside ``path``, flushed to disk, then renamed
  over it; a failure (full disk, Ctrl-C, read-only folder) leaves any earlier file untouched and
  no temporary file behind. A replaced file keeps its permission bits.
* ``check_output_file(path, name)`` / ``check_input_file(path, name)``: before any work, an
  output must be a writable file path (not a folder, its folder existing and writable) and an
  input an existing, readable regular file.
* ``current_umask()``: the umask, read without a window in which it is changed.
* ``plain_name(name, what)``: a file name that cannot leave its folder (no separators, no
  ``..``, not absolute) - for names read from files such as a sharded checkpoint's index.

Example:
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_atomic(os.path.join(d, "a.json"), b'{"x": 1}')
    ...     read_json(os.path.join(d, "a.json"))
    {'x': 1}
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from typing import Any


def read_json(path: str | os.PathLike, what: str = "file") -> dict[str, Any]:
    """The JSON object in ``path``; every problem is an error that names the file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise type(err)(err.errno, f"cannot read {what} {path}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} must hold a JSON object, got {type(data).__name__}")
    return data


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    path = os.fspath(path)
    check_output_file(path, "path")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise type(err)(err.errno, f"cannot write {path}: {err.strerror}") from None
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux): the
    usual ``os.umask(0)`` then restore leaves a moment in which another thread's new files get
    mode 0o666."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


_UMASK_LOCK = threading.Lock()


def check_output_file(path: str | os.PathLike, name: str) -> str:
    """``path`` can be written as a file: not a folder, in an existing writable folder, and not
    an existing read-only file. Returns the path; raises ValueError naming ``name``."""
    text = os.fspath(path)
    if not text:
        raise ValueError(f"{name} is empty")
    if os.path.isdir(text):
        raise ValueError(f"{name} {text} is a folder; give a file path")
    if os.path.lexists(text) and not os.path.isfile(text):
        raise ValueError(f"{name} {text} exists and is not a regular file")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {folder} is not writable")
    if os.path.exists(text) and not os.access(text, os.W_OK):
        raise ValueError(f"{name} {text} is not writable")
    return text


def check_input_file(path: str | os.PathLike, name: str) -> str:
    """``path`` is an existing, readable regular file; raises ValueError naming ``name``."""
    text = os.fspath(path)
    if not os.path.exists(text):
        raise ValueError(f"{name} {text} does not exist")
    if not os.path.isfile(text):
        raise ValueError(f"{name} {text} is not a file")
    if not os.access(text, os.R_OK):
        raise ValueError(f"{name} {text} is not readable")
    return text


def plain_name(name: Any, what: str) -> str:
    """A bare file name that stays in its folder; anything else is a ValueError naming it."""
    if not isinstance(name, str) or not name or name in (".", "..") or "\0" in name or \
            "/" in name or "\\" in name or os.path.isabs(name) or \
            os.path.basename(name) != name or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"{what}: {name!r} is not a plain file name in the model folder")
    return name
