"""Materialization metadata shared by the assets: what the pipeline monitor reads."""

from __future__ import annotations

import dagster as dg
import polars as pl


def frame_metadata(frame: pl.DataFrame, started: float, now: float) -> dict:
    """Row count, schema, null fractions and runtime of a written frame."""
    nulls = {
        c: round(n / frame.height, 4) if frame.height else 0.0
        for c, n in zip(frame.columns, frame.null_count().row(0), strict=True)
    }
    table = "| column | type | null fraction |\n|---|---|---|\n" + "\n".join(
        f"| {c} | {frame.schema[c]} | {nulls[c]:.2%} |" for c in frame.columns
    )
    return {
        "dagster/row_count": frame.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c, str(t)) for c, t in frame.schema.items()]
        ),
        "null_fraction": dg.MetadataValue.json(nulls),
        "columns": dg.MetadataValue.md(table),
        "runtime_seconds": round(now - started, 3),
    }
