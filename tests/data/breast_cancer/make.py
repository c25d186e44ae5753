"""Write `tests/data/breast_cancer/landing/` from the copy of the Wisconsin Diagnostic Breast
Cancer data that scikit-learn ships (`sklearn.datasets.load_breast_cancer`; UCI, CC BY 4.0):
569 rows, shuffled with a fixed seed, cut into 19 consecutive days from 2024-05-01, each row given
an id; the diagnosis as text. `uv run python tests/data/breast_cancer/make.py`."""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.datasets import load_breast_cancer

HERE = Path(__file__).parent
START, DAYS, SEED = dt.date(2024, 5, 1), 19, 2024


def main() -> None:
    data = load_breast_cancer(as_frame=True)
    features = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    frame = pl.from_pandas(features).with_columns(
        pl.Series("diagnosis", np.where(data.target == 0, "malignant", "benign")),
    )
    frame = frame.with_row_index("row").with_columns(
        pl.format("p{}", pl.col("row").cast(pl.String).str.zfill(4)).alias("patient")
    )
    order = np.random.default_rng(SEED).permutation(frame.height)
    frame = frame[order].select("patient", *features.columns, "diagnosis")
    landing = HERE / "landing"
    landing.mkdir(exist_ok=True)
    for day, rows in enumerate(np.array_split(np.arange(frame.height), DAYS)):
        frame[rows].write_csv(landing / f"{START + dt.timedelta(days=day)}.csv")


if __name__ == "__main__":
    main()
