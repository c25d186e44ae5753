"""Daily partitions keyed by business day, starting with the dataset's first landing file."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg

from mlops_assets.config.spec import DatasetSpec, SpecError

LANDING_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")


def landed_days(folder: Path | None, fmt: str) -> dict[str, Path]:
    """Landing files `YYYY-MM-DD.<fmt>` in `folder`, by day, in date order."""
    if folder is None or not folder.is_dir():
        return {}
    days = {}
    for path in sorted(folder.iterdir()):
        match = LANDING_NAME.match(path.name)
        if match and match.group(2) == fmt and _is_date(match.group(1)):
            days[match.group(1)] = path
    return days


def ingestible_days(spec: DatasetSpec, files: dict[str, Path]) -> dict[str, Path]:
    """The landed days the pipeline ingests: from `start_date` (else the first file) on, before
    today."""
    first = spec.start_date or dt.date.min
    today = dt.datetime.now(dt.UTC).date()
    return {d: p for d, p in files.items() if first <= dt.date.fromisoformat(d) < today}


def daily_partitions(spec: DatasetSpec) -> dg.DailyPartitionsDefinition:
    """Partitions from `start_date` in the spec, else from the earliest landing file."""
    start = spec.start_date
    if start is None:
        days = landed_days(spec.landing, spec.format)
        if not days:
            raise SpecError(
                f"dataset {spec.name!r}: landing folder {spec.landing} has no YYYY-MM-DD."
                f"{spec.format} files; land one, or set start_date in the spec"
            )
        start = dt.date.fromisoformat(next(iter(days)))
    return dg.DailyPartitionsDefinition(start_date=start.isoformat())


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
