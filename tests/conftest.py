"""Shared fixtures: throwaway home folders with simulated landing files."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from mlops_assets.settings import Settings
from mlops_assets.simulator import land_day

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROWS = 300  # small simulated days keep the suite quick; volume checks scale with them


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh home folder on the built-in lending spec."""
    return Settings.resolve(home=tmp_path / "home")


def land(settings: Settings, days: range, rows: int = ROWS) -> None:
    plan = settings.simulator_plan()
    for day in days:
        land_day(plan, day, rows=rows)


def landing_file(settings: Settings, day: int) -> Path:
    plan = settings.simulator_plan()
    import datetime as dt

    return plan.landing / f"{plan.start + dt.timedelta(days=day)}.csv"


def lake_partition(settings: Settings, asset: str, day: str) -> Path:
    return settings.lake / "lending" / asset / f"{day}.parquet"


def read_landing(settings: Settings, day: int) -> pl.DataFrame:
    return pl.read_csv(landing_file(settings, day), infer_schema=False)
