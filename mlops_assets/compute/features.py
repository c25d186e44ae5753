"""Features: a day's raw rows, cleaned with statistics fitted on earlier days only.

Numeric columns are clipped to the history's 0.1-99.9 percentile range, imputed with the history
median and get a `<column>__missing` indicator; categorical columns map nulls to `__missing__` and
categories rare or unseen in history to `__other__`. With no history the values pass through
(nulls stay null, every category is kept). The label, when it rides in the same file, becomes
`_label` (1 = the positive class).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.profile import FeatureProfile
from mlops_assets.config.spec import DatasetSpec

LABEL = "_label"
MISSING = "__missing__"
OTHER = "__other__"


@dataclass(frozen=True)
class FeatureColumns:
    """Which raw columns feed the model, split by kind, plus columns kept for reporting."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    passthrough: tuple[str, ...]  # segment and protected columns that are not features

    @property
    def model_inputs(self) -> tuple[str, ...]:
        return self.numeric + tuple(f"{c}__missing" for c in self.numeric) + self.categorical


def feature_columns(spec: DatasetSpec, schema: dict[str, str]) -> FeatureColumns:
    """Resolve `auto` in the spec against the dataset's schema."""
    reserved = {spec.id_column, spec.target.column, DAY}
    features = list(spec.features or [c for c in schema if c not in reserved])
    categorical = list(spec.categorical or [c for c in features if schema[c] in ("str", "bool")])
    numeric = [c for c in features if c not in categorical]
    passthrough = [c for c in dict.fromkeys(spec.segments + spec.protected) if c not in features]
    return FeatureColumns(tuple(numeric), tuple(categorical), tuple(passthrough))


def build_features(
    raw: pl.DataFrame, profile: FeatureProfile, columns: FeatureColumns, spec: DatasetSpec
) -> pl.DataFrame:
    """Transform one day of raw rows with a profile fitted on earlier days."""
    exprs: list[pl.Expr] = []
    if spec.id_column:
        exprs.append(pl.col(spec.id_column))
    exprs.append(pl.col(DAY))
    exprs += feature_exprs(profile, columns)
    exprs += [pl.col(c) for c in columns.passthrough]
    if spec.target.column in raw.columns:
        exprs.append(spec.target.label().alias(LABEL))
    return raw.lazy().select(exprs).collect()


def feature_exprs(profile: FeatureProfile, columns: FeatureColumns) -> list[pl.Expr]:
    """The model inputs (`columns.model_inputs`, in order) computed from raw columns."""
    exprs: list[pl.Expr] = []
    for c in columns.numeric:
        stats = profile.numeric.get(c)
        value = pl.col(c).cast(pl.Float64)
        if stats is not None and stats.low is not None:
            value = value.clip(stats.low, stats.high).fill_null(stats.median)
        exprs.append(value.alias(c))
    exprs += [pl.col(c).is_null().cast(pl.Int8).alias(f"{c}__missing") for c in columns.numeric]
    for c in columns.categorical:
        value = pl.col(c).cast(pl.String)
        known = profile.frequent_categories(c)
        if known:
            value = (
                pl.when(value.is_null())
                .then(pl.lit(MISSING))
                .when(value.is_in(known))
                .then(value)
                .otherwise(pl.lit(OTHER))
            )
        else:
            value = value.fill_null(MISSING)
        exprs.append(value.alias(c))
    return exprs


def output_columns(columns: FeatureColumns, spec: DatasetSpec, labelled: bool) -> list[str]:
    """The columns `build_features` writes, in order."""
    head = [spec.id_column] if spec.id_column else []
    return [*head, DAY, *columns.model_inputs, *columns.passthrough, *([LABEL] if labelled else [])]
