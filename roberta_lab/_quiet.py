"""Import TensorFlow without its start-up log lines.

TensorFlow writes "oneDNN custom operations are on ..." (and a line about absl) straight to
file descriptor 2 while it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` applies; a Jupyter
kernel forwards that descriptor into the first cell's output as red boxes. ``import_tensorflow``
points descriptor 2 at /dev/null for the import only. Python errors still propagate (the
exception is raised after the descriptor is restored); ``ROBERTA_LAB_TF_LOGS=1`` keeps the
lines.

Example:
    >>> from roberta_lab._quiet import import_tensorflow
    >>> import_tensorflow().__name__
    'tensorflow'
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Iterator

_LOCK = threading.Lock()


@contextlib.contextmanager
def silenced_fd2() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: native libraries write there
    directly, whatever Python's ``sys.stderr`` is. Python exceptions propagate after the
    descriptor is restored."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> Any:
    """``import tensorflow`` with descriptor 2 silenced during the import (once per process)."""
    with _LOCK:
        if "tensorflow" in sys.modules or os.environ.get("ROBERTA_LAB_TF_LOGS") == "1":
            import tensorflow  # noqa: PLC0415

            return tensorflow
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with silenced_fd2():
            import tensorflow  # noqa: PLC0415
        return tensorflow
