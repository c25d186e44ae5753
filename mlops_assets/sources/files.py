"""A source's files: frames as bytes, written atomically and only when they change (same
bytes, same mtime: a landing sensor sees no new version)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import polars as pl


def csv_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, statistics=False)
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> Path | None:
    """Write `data` atomically unless the file already holds it; the path written, or None."""
    if path.exists() and path.read_bytes() == data:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return path
