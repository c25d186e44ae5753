"""Materialization metadata shared by the assets: what the pipeline monitor reads, and tables in
Dagster's own table type (sortable in the UI, typed by a schema)."""

from __future__ import annotations

import dagster as dg
import polars as pl


def frame_metadata(frame: pl.DataFrame, started: float, now: float) -> dict:
    """Row count, schema, null fractions and runtime of a written frame."""
    nulls = {
        c: round(n / frame.height, 4) if frame.height else 0.0
        for c, n in zip(frame.columns, frame.null_count().row(0), strict=True)
    }
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c, str(t)) for c, t in frame.schema.items()]
        ),
        "null_fraction": dg.MetadataValue.json(nulls),
        "runtime_seconds": round(now - started, 3),
    }


def table(frame: pl.DataFrame, digits: int = 4) -> dg.TableMetadataValue:
    """`frame` as a Dagster table with its schema; floats rounded to `digits`."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c, _table_type(t)) for c, t in frame.schema.items()]
    )
    plain = frame.with_columns(
        pl.col(pl.Float32, pl.Float64).round(digits),
        pl.col(pl.Date, pl.Datetime).cast(pl.String),
    )
    return dg.MetadataValue.table([dg.TableRecord(r) for r in plain.to_dicts()], schema=schema)


def _table_type(dtype: pl.DataType) -> str:
    if dtype.is_float():
        return "float"
    if dtype.is_integer():
        return "int"
    return "bool" if dtype == pl.Boolean else "string"
