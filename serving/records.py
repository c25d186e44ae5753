"""Records for `mlops predict`: a CSV file or a JSON document, typed by the endpoint's schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO

import polars as pl

from mlops_assets.compute.ingest import SERVED_DTYPES


def read_records(source: str | Path | IO[str], schema: dict[str, str]) -> list[dict]:
    """Records from CSV (columns cast to `schema`: column -> int|float|str|bool) or JSON (a list
    of records, or `{"records": [...]}`, sent as they are)."""
    text = source.read() if hasattr(source, "read") else Path(source).read_text()
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        data = json.loads(text)
        records = data["records"] if isinstance(data, dict) and "records" in data else data
        if not isinstance(records, list):
            raise ValueError("JSON input must be a list of records or {'records': [...]}")
        return records
    frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    if frame.height == 0:
        raise ValueError("the CSV input has no rows")
    casts = []
    for column in frame.columns:
        kind = schema.get(column)
        if kind is None:
            continue  # `id` or an unknown column: sent as text, the endpoint decides
        value = pl.col(column).str.strip_chars()
        if kind == "bool":
            value = value.str.to_lowercase().replace_strict(
                {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
            )
        else:
            value = value.cast(SERVED_DTYPES[kind], strict=False)
        casts.append(value.alias(column))
    return frame.with_columns(casts).to_dicts()
