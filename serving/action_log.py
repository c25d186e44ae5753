"""The action log: every served decision, append-only, partitioned by day.

Each writer (one per replica) buffers rows and flushes them as a new Parquet file under
`<root>/<YYYY-MM-DD>/<writer>-<seq>.parquet`, written to a temporary name and renamed, so a reader
sees whole files or nothing: a crash can lose the rows buffered since the last flush (at most
`FLUSH_SECONDS`), never leave half a record. Files are never modified after the rename.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import polars as pl

FLUSH_SECONDS = 1.0


class ActionLog:
    """A buffered, atomic writer of action rows for one process."""

    def __init__(self, root: str | Path, writer: str | None = None):
        self.root = Path(root)
        self.writer = writer or uuid.uuid4().hex[:12]
        self._pending: list[pl.DataFrame] = []
        self._sequence = 0
        self._lock = threading.Lock()

    def append(self, rows: pl.DataFrame) -> None:
        """Buffer rows; they need a `day` (YYYY-MM-DD string) column."""
        with self._lock:
            self._pending.append(rows)

    def flush(self) -> list[Path]:
        """Write the buffered rows, one new file per day; returns the files written."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._sequence += 1
            sequence = self._sequence
        if not pending:
            return []
        frame = pl.concat(pending, how="diagonal_relaxed")
        written = []
        for (day,), part in frame.partition_by("day", as_dict=True).items():
            folder = self.root / day
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{self.writer}-{sequence:08d}.parquet"
            temporary = folder / f".{target.name}.tmp"
            part.write_parquet(temporary)
            os.replace(temporary, target)
            written.append(target)
        return written


def read_actions(root: str | Path, day: str | None = None) -> pl.DataFrame:
    """Every logged action (of one day, if given), oldest first; empty frame if none."""
    root = Path(root)
    pattern = f"{day}/*.parquet" if day else "*/*.parquet"
    files = sorted(root.glob(pattern))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed").sort("time")


def action_days(root: str | Path) -> list[str]:
    """Days that have logged actions."""
    root = Path(root)
    return sorted(p.name for p in root.glob("????-??-??") if any(p.glob("*.parquet")))


def logged_decisions(root: str | Path, ids: list[str]) -> dict[str, str]:
    """The latest logged decision of each of `ids` that has one: id -> decision."""
    files = sorted(Path(root).glob("*/*.parquet"))
    if not files:
        return {}
    found = (
        pl.scan_parquet(files)
        .select("id", "decision", "time")
        .filter(pl.col("id").is_in(ids))
        .sort("time")
        .collect()
    )
    return dict(zip(found["id"], found["decision"], strict=True))
