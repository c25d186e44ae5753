"""A profile of a trailing window of raw partitions: what "normal" looked like before a day.

Data-quality checks learn ranges, category sets and volume from it; features learn imputation
values, clipping bounds and category vocabularies from it. It is always fitted on days strictly
before the day it is applied to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl

from mlops_assets.compute.ingest import DAY

RARE_SHARE = 0.005  # categories below this share of history become "__other__" in features


@dataclass(frozen=True)
class NumericStats:
    min: float | None
    max: float | None
    low: float | None  # 0.1th percentile
    high: float | None  # 99.9th percentile
    median: float | None
    null_fraction: float


@dataclass(frozen=True)
class FeatureProfile:
    """Statistics of the history window; `days` is empty when there was no history."""

    days: tuple[str, ...] = ()
    daily_rows: tuple[int, ...] = ()
    numeric: dict[str, NumericStats] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def mean_daily_rows(self) -> float | None:
        return sum(self.daily_rows) / len(self.daily_rows) if self.daily_rows else None

    def frequent_categories(self, column: str) -> list[str]:
        shares = self.categories.get(column, {})
        return sorted(v for v, share in shares.items() if share >= RARE_SHARE)


def fit_profile(
    history: pl.LazyFrame | pl.DataFrame, numeric: list[str], categorical: list[str]
) -> FeatureProfile:
    """Profile the history (rows of several days with a `_day` column) in one lazy pass."""
    lazy = history.lazy()
    per_day = lazy.group_by(DAY).len().sort(DAY).collect()
    if per_day.height == 0:
        return FeatureProfile()
    aggregations = []
    for c in numeric:
        col = pl.col(c).cast(pl.Float64)
        aggregations += [
            col.min().alias(f"{c}|min"),
            col.max().alias(f"{c}|max"),
            col.quantile(0.001, "nearest").alias(f"{c}|low"),
            col.quantile(0.999, "nearest").alias(f"{c}|high"),
            col.median().alias(f"{c}|median"),
            col.null_count().truediv(pl.len()).alias(f"{c}|null_fraction"),
        ]
    row = lazy.select(aggregations).collect().row(0, named=True) if aggregations else {}
    stats = {
        c: NumericStats(**{k: row[f"{c}|{k}"] for k in NumericStats.__dataclass_fields__})
        for c in numeric
    }
    categories = {}
    for c in categorical:
        counts = (
            lazy.select(pl.col(c).cast(pl.String).fill_null("__missing__"))
            .group_by(c)
            .len()
            .collect()
        )
        total = counts["len"].sum()
        categories[c] = {v: n / total for v, n in counts.sort(c).iter_rows()}
    return FeatureProfile(
        days=tuple(str(d) for d in per_day[DAY].to_list()),
        daily_rows=tuple(per_day["len"].to_list()),
        numeric=stats,
        categories=categories,
    )


def profile_to_dict(profile: FeatureProfile) -> dict:
    """A JSON-ready form of a profile (shipped with a model so serving builds the same features)."""
    return asdict(profile)


def profile_from_dict(data: dict) -> FeatureProfile:
    return FeatureProfile(
        days=tuple(data["days"]),
        daily_rows=tuple(data["daily_rows"]),
        numeric={c: NumericStats(**s) for c, s in data["numeric"].items()},
        categories=data["categories"],
    )
