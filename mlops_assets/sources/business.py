"""The business around the simulator: what it decided before the platform, and how it reads the
platform's decisions to know which outcomes it can observe (selective labels)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from upath import UPath

from mlops_assets.config.storage import readable

LEGACY_POLICY = "approve every application"  # decides the days before the platform's first


@dataclass(frozen=True)
class PlatformDecisions:
    """The platform's decision log as the business reads it: one Parquet file per decided day
    (`id`, `decision`), in the lake's `<name>/decisions` folder."""

    folder: Path | UPath  # local, or on the lake's object store
    otherwise: str  # the action under which an outcome exists (approve)

    def observable(self, date: dt.date, ids: pl.Series) -> pl.Series | None:
        """The `ids` of `date` whose outcome the business observes: the approved ones, every one
        for a day before the platform's first decision (the legacy policy), or None while the
        day waits for its decisions."""
        path = self.folder / f"{date}.parquet"
        if path.exists():
            decided = pl.read_parquet(readable(path), columns=["id", "decision"])
            return ids.filter(ids.is_in(decided.filter(pl.col("decision") == self.otherwise)["id"]))
        first = min((p.stem for p in self.folder.glob("????-??-??.parquet")), default=None)
        return ids if first is None or str(date) < first else None
