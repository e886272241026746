"""Writing grades so that an interrupt never leaves half a file, and reading back what is already graded.

Every file is written to a temporary file in the same folder, flushed to disk, then ``os.replace``d
onto its name (atomic on POSIX and Windows): a reader sees the old file or the new one, never a part.
A temporary file that an interrupt left behind starts with ``.`` and ends with ``.tmp``;
``remove_stale`` clears them at the start of the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

RECORDS = "submissions"  # OUT/submissions/<student>.json
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: mkstemp makes 0600 files, the grades get the usual permissions


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, fsync, os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | Path, data: dict) -> Path:
    return atomic_write(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def record_path(out: str | Path, student: str) -> Path:
    return Path(out) / RECORDS / f"{student}.json"


def read_record(out: str | Path, student: str) -> dict | None:
    """The stored grade of ``student``, or None when there is none or it cannot be read."""
    try:
        data = json.loads(record_path(out, student).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove_stale(out: str | Path) -> list[Path]:
    """Delete temporary files an interrupted run left in OUT and OUT/submissions; return them."""
    removed = []
    for folder in (Path(out), Path(out) / RECORDS):
        if folder.is_dir():
            for p in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
    return removed
