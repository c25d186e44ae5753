"""Reading landing files and coercing them to the dataset's schema.

A landing file either becomes a typed frame or raises `IngestError` whose reason says what is
wrong (unreadable, empty, a missing or unexpected column, values of the wrong type, a target
with other values than the two classes). The schema is a mapping column -> one of `DTYPES`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from mlops_assets.config.spec import DatasetSpec, SpecError

DTYPES: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "str": pl.String(),
    "bool": pl.Boolean(),
}
# a served record's column types: integers as doubles, so that a missing value or a client's 36.0
# is never a type error (the request schema, `mlops predict`'s records, the registered model)
SERVED_DTYPES: dict[str, pl.DataType] = {**DTYPES, "int": pl.Float64()}
DAY = "_day"  # the partition date, added to every ingested row
_BOOLS = {"true": True, "false": False}


class IngestError(ValueError):
    """A landing file that cannot be ingested; `reason` is shown to users and in metadata."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_landing(path: Path, fmt: str) -> pl.DataFrame:
    """Read one landing file (CSV columns as text, to be typed by `coerce`)."""
    try:
        frame = pl.read_csv(path, infer_schema=False) if fmt == "csv" else pl.read_parquet(path)
    except Exception as exc:  # polars raises many kinds of errors for a damaged file
        raise IngestError(f"cannot read {path.name} as {fmt}: {_first_line(exc)}") from exc
    if frame.height == 0:
        raise IngestError(f"{path.name} has no rows")
    return frame


def required_columns(spec: DatasetSpec) -> list[str]:
    """Columns the spec names that every applications file must have."""
    named = [spec.id_column] if spec.id_column else []
    if not spec.delayed_labels:
        named.append(spec.target.column)
    for group in (spec.features or (), spec.categorical or (), spec.segments, spec.protected):
        named.extend(group)
    return list(dict.fromkeys(named))


def infer_schema(frame: pl.DataFrame, spec: DatasetSpec) -> dict[str, str]:
    """Learn the schema from a first good file: ids and categoricals text, others by content."""
    missing = [c for c in required_columns(spec) if c not in frame.columns]
    if missing:
        raise IngestError(f"missing columns named in the spec: {', '.join(missing)}")
    schema = {}
    for name in frame.columns:
        if name == spec.id_column or name in (spec.categorical or ()):
            schema[name] = "str"
        else:  # the target too: its type is the data's, the spec's positive is matched by text
            schema[name] = infer_kind(frame[name])
    return schema


def coerce(
    frame: pl.DataFrame, schema: dict[str, str], spec: DatasetSpec, day: dt.date | None = None
) -> pl.DataFrame:
    """Cast `frame` to `schema` (same column order), or raise `IngestError` with the reason."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise IngestError(f"missing columns: {', '.join(missing)}")
    unexpected = [c for c in frame.columns if c not in schema]
    if unexpected:
        raise IngestError(
            f"unexpected columns: {', '.join(unexpected)} (not in the dataset's schema; "
            "list them in the spec or remove them at the source)"
        )
    columns = [_cast(frame[name], kind) for name, kind in schema.items()]
    typed = pl.DataFrame(columns)
    if spec.target.column in typed.columns:
        _check_target(typed[spec.target.column], spec)
    if day is not None:
        typed = typed.with_columns(pl.lit(day, dtype=pl.Date).alias(DAY))
    return typed


def outcomes_schema(frame: pl.DataFrame, spec: DatasetSpec) -> dict[str, str]:
    """The schema of an outcomes file: the id column (text) and the target column (typed by its
    content)."""
    if spec.target.column not in frame.columns:
        raise IngestError(f"missing columns: {spec.target.column}")
    return {spec.id_column: "str", spec.target.column: infer_kind(frame[spec.target.column])}


def _cast(series: pl.Series, kind: str) -> pl.Series:
    dtype = DTYPES[kind]
    if series.dtype == dtype:
        return series
    if kind == "bool" and series.dtype == pl.String:
        lowered = series.str.strip_chars().str.to_lowercase()
        cast = lowered.replace_strict(_BOOLS, default=None, return_dtype=pl.Boolean)
    elif series.dtype == pl.String:
        cast = series.str.strip_chars().cast(dtype, strict=False)
    else:
        cast = series.cast(dtype, strict=False)
    bad = series.is_not_null() & cast.is_null()
    if kind != "str" and bad.any():
        examples = ", ".join(repr(v) for v in series.filter(bad).unique(maintain_order=True)[:3])
        raise IngestError(
            f"column '{series.name}': {bad.sum()} values are not {kind} (e.g. {examples})"
        )
    return cast.alias(series.name)


def _check_target(target: pl.Series, spec: DatasetSpec) -> None:
    """More than two classes is bad data (the file is quarantined); two classes of which none is
    the spec's positive one is a spec mistake (`SpecError`: nothing is quarantined)."""
    values = target.drop_nulls().unique().sort().to_list()
    if len(values) > 2:
        raise IngestError(
            f"target column '{target.name}' has {len(values)} values {values[:5]}; expected two "
            "classes"
        )
    if len(values) == 2:
        check_positive(spec, values, where=f"target column '{target.name}'")


def check_positive(spec: DatasetSpec, values: list, where: str) -> None:
    """`SpecError` unless exactly one of the two `values` is the spec's positive class."""
    matched = [v for v in values if spec.target.is_positive(v)]
    if len(matched) == 1:
        return
    shown = ", ".join(repr(v) for v in values)
    if matched:
        raise SpecError(
            f"key 'target.positive': {spec.target.positive!r} matches both values of {where} "
            f"({shown}); write the positive class exactly as the data spells it"
        )
    raise SpecError(
        f"key 'target.positive': {spec.target.positive!r} is not one of the values of {where} "
        f"({shown}); write one of them, quoted if it looks like a boolean or a number, "
        f'e.g. positive: "{values[-1]}"'
    )


def infer_kind(series: pl.Series) -> str:
    if series.dtype != pl.String:
        if series.dtype.is_integer():
            return "int"
        if series.dtype.is_float():
            return "float"
        return "bool" if series.dtype == pl.Boolean else "str"
    present = series.drop_nulls().str.strip_chars()
    for kind in ("int", "float"):
        if present.cast(DTYPES[kind], strict=False).null_count() == 0:
            return kind
    if present.str.to_lowercase().is_in(list(_BOOLS)).all():
        return "bool"
    return "str"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
