"""A day in memory (`pl.DataFrame`) or streamed from disk (`pl.LazyFrame`, e.g. `pl.scan_parquet`).

The drift report reads a LazyFrame one column at a time with the streaming engine: Parquet's
projection reads only that column, so memory holds one column, never the whole frame."""

from __future__ import annotations

import numpy as np
import polars as pl

Frame = pl.DataFrame | pl.LazyFrame


def height(frame: Frame) -> int:
    if isinstance(frame, pl.LazyFrame):
        return int(frame.select(pl.len()).collect().item())  # Parquet: from its metadata
    return frame.height


def column(frame: Frame, name: str) -> pl.Series:
    if isinstance(frame, pl.LazyFrame):
        return frame.select(name).collect(engine="streaming").to_series()
    return frame[name]


def sample(frame: Frame, n: int, seed: int) -> pl.DataFrame:
    """Up to `n` rows drawn without replacement; a LazyFrame's are gathered by row number in one
    streaming pass."""
    if isinstance(frame, pl.DataFrame):
        return frame.sample(n, seed=seed) if frame.height > n else frame
    rows = height(frame)
    if rows <= n:
        return frame.collect(engine="streaming")
    chosen = pl.Series(np.sort(np.random.default_rng(seed).choice(rows, n, replace=False)))
    return (
        frame.with_row_index("__row")
        .filter(pl.col("__row").is_in(chosen.implode()))
        .drop("__row")
        .collect(engine="streaming")
    )
