"""A study's results on disk: CSV rows ``batch,text_id,condition,metric`` appended batch by batch.

Each batch's rows (a ``clean`` row per text, then one row per condition and text) go to the
file in one ``write`` followed by ``fsync``, so after a crash every batch but the last is whole
and on disk. Reopening with ``resume=True`` checks the file's batches against the run's own plan
(same batch numbers, same row counts, in order), keeps that prefix and cuts the rest, a partial
last line included; the run then computes only what is missing, and the finished file is the
same, byte for byte, as an uninterrupted run's. Floats are written with 9 significant digits,
which round-trips float32 exactly.

Several workers each write a part file (``<out>.part-<i>-of-<n>``; batch b is worker b mod n's);
``merge_parts`` interleaves them back in batch order into ``<out>`` with an atomic rename.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> store = StudyStore(path)
    >>> store.is_done(0, 2)
    False
    >>> store.append(0, [("7", "clean", 1.5), ("7", "L0H0", 2.0)])
    >>> [row["metric"] for row in read_rows(path)]
    [1.5, 2.0]
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

HEADER = ("batch", "text_id", "condition", "metric")
_HEADER_LINE = (",".join(HEADER) + "\n").encode()


def part_path(out: str | os.PathLike, index: int, count: int) -> Path:
    return Path(f"{out}.part-{index}-of-{count}")


def meta_path(out: str | os.PathLike) -> Path:
    return Path(f"{out}.json")


class StudyStore:
    """Append-only CSV of one study (or one worker's part), resumable (module docstring)."""

    def __init__(self, path: str | os.PathLike, resume: bool = False):
        self.path = Path(path)
        self._existing: list[tuple[int, int, int, int]] = []  # (batch, rows, start, end)
        self._next = 0
        self._valid_end = len(_HEADER_LINE)
        if self.path.exists() and not resume:
            raise FileExistsError(f"{self.path} exists; resume it or choose another path")
        if self.path.exists() and self.path.stat().st_size > 0:
            self._scan()
        else:  # new (or empty after a crash right at creation): header first, on disk
            flags = os.O_WRONLY | (os.O_TRUNC if self.path.exists() else os.O_CREAT | os.O_EXCL)
            fd = os.open(self.path, flags, 0o644)
            try:
                _write_all(fd, _HEADER_LINE)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._cut_done = False
        self.batches_written = 0  # by this object, i.e. in this run

    def _scan(self) -> None:
        with open(self.path, "rb") as f:
            if f.readline() != _HEADER_LINE:
                raise ValueError(f"{self.path} is not a study file (header {','.join(HEADER)})")
            offset = len(_HEADER_LINE)
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a partial last line: cut below
                batch = int(line.split(b",", 1)[0])
                if self._existing and self._existing[-1][0] == batch:
                    b, n, start, _ = self._existing[-1]
                    self._existing[-1] = (b, n + 1, start, offset + len(line))
                else:
                    self._existing.append((batch, 1, offset, offset + len(line)))
                offset += len(line)

    def is_done(self, batch: int, rows: int) -> bool:
        """Whether the file already holds ``batch`` whole (``rows`` rows), in plan order."""
        if self._cut_done or self._next >= len(self._existing):
            return False
        b, n, _, end = self._existing[self._next]
        if (b, n) != (batch, rows):
            return False
        self._next += 1
        self._valid_end = end
        return True

    def append(self, batch: int, rows: Sequence[tuple[str, str, float]]) -> None:
        """Write one batch's rows (text_id, condition, metric) and fsync."""
        if not self._cut_done:  # drop whatever followed the last batch the plan confirmed
            os.truncate(self.path, self._valid_end)
            self._cut_done = True
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for text_id, condition, value in rows:
            writer.writerow((batch, text_id, condition, f"{float(value):.9g}"))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            _write_all(fd, buf.getvalue().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.batches_written += 1

    def finish(self) -> None:
        """After the last batch: cut anything the plan did not confirm."""
        if not self._cut_done:
            os.truncate(self.path, self._valid_end)
            self._cut_done = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_rows(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """The rows of a study file, one at a time (a partial last line is skipped)."""
    with open(path, newline="", encoding="utf-8") as f:
        head = f.readline()
        if head.encode() != _HEADER_LINE:
            raise ValueError(f"{path} is not a study file")
        for line in f:
            if not line.endswith("\n"):
                return
            batch, text_id, condition, value = next(csv.reader([line]))
            yield {"batch": int(batch), "text_id": text_id, "condition": condition,
                   "metric": float(value)}


def merge_parts(out: str | os.PathLike, count: int) -> None:
    """Interleave the ``count`` part files into ``out`` in batch order (atomic rename)."""
    parts = [open(part_path(out, i, count), "rb") for i in range(count)]
    tmp = Path(f"{out}.merging")
    try:
        for f in parts:
            if f.readline() != _HEADER_LINE:
                raise ValueError(f"{f.name} is not a study file")
        pending = [f.readline() for f in parts]
        with open(tmp, "wb") as dst:
            dst.write(_HEADER_LINE)
            batch = 0
            while any(pending):
                i = batch % count
                if not pending[i].startswith(f"{batch},".encode()):
                    raise ValueError(f"{parts[i].name}: batch {batch} is missing")
                while pending[i].startswith(f"{batch},".encode()):
                    dst.write(pending[i])
                    pending[i] = parts[i].readline()
                batch += 1
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, out)
    finally:
        for f in parts:
            f.close()
        tmp.unlink(missing_ok=True)


def summarize(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Per condition over all texts: mean metric, mean delta (metric - the text's clean
    metric) and mean |delta|; streamed, memory grows with conditions, not texts."""
    sums: dict[str, np.ndarray] = {}
    clean: dict[str, float] = {}
    for row in read_rows(path):
        if row["condition"] == "clean":
            clean = {row["text_id"]: row["metric"]}  # a batch lists a text's clean row first
            delta = 0.0
        else:
            delta = row["metric"] - clean[row["text_id"]]
        acc = sums.setdefault(row["condition"], np.zeros(4))
        acc += (row["metric"], delta, abs(delta), 1)
    return {c: {"metric": a[0] / a[3], "delta": a[1] / a[3], "abs_delta": a[2] / a[3],
                "texts": int(a[3])} for c, a in sums.items()}


def write_meta(out: str | os.PathLike, meta: dict) -> None:
    path = meta_path(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_meta(out: str | os.PathLike) -> dict | None:
    path = meta_path(out)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
