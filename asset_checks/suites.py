"""Expectation suites for each partition, built from the spec, the schema and the history.

Each suite maps check name -> expectations; a check passes when all of its expectations pass.
What is learned from history (volume, ranges, category sets, row counts) is a `Param` of the
saved suite. Checks that learn from history pass (and say so) until there are
`quality.min_history_days` accepted days: until then the raw suite is `<name>.raw.first_days`
(the features suite of the very first day, whose numeric columns no history fills yet:
`<name>.features.first_day`).
"""

from __future__ import annotations

import hashlib
import math
import re

from asset_checks.expectations import Expect, Param, Suite
from mlops_assets.compute.features import MISSING, FeatureColumns, output_columns
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.profile import FeatureProfile
from mlops_assets.config.spec import DatasetSpec

RAW_CHECKS = {
    "schema": (True, "Columns (in order) and value types match the dataset's pinned schema."),
    "missing_values": (
        True,
        "Null share per column within quality.max_null_fraction; no null ids or labels.",
    ),
    "duplicate_ids": (True, "No id appears twice in the partition."),
    "volume": (True, "Row count within quality.volume_tolerance x the trailing daily average."),
    "value_ranges": (
        False,
        "Numeric values within the range seen in history (quality.range_mostly of them).",
    ),
    "category_sets": (
        False,
        "Categorical values among those seen in history (quality.range_mostly of them).",
    ),
}
FEATURE_CHECKS = {
    "schema": (True, "Feature columns are exactly the model inputs, passthrough and label."),
    "completeness": (True, "No nulls left in model inputs once history exists."),
    "row_count": (True, "One feature row per raw row."),
}
OUTCOME_CHECKS = {
    "schema": (True, "Columns are the id and the target."),
    "missing_values": (True, "No null ids or labels."),
    "duplicate_ids": (True, "No id has two outcomes on one day."),
}


def _learned(what: str, column: str, value) -> Param:
    """A parameter named for GX's parser (an identifier), unique even for odd column names."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", column)  # GX's parser takes ASCII names only
    if name != column:
        name += "_" + hashlib.sha256(column.encode()).hexdigest()[:6]
    return Param(f"{what}_of_{name}", value)


def has_history(profile: FeatureProfile, spec: DatasetSpec) -> bool:
    return len(profile.days) >= spec.quality.min_history_days


def raw_suite(spec: DatasetSpec, schema: dict[str, str], profile: FeatureProfile) -> Suite:
    """Expectations for one raw partition."""
    q = spec.quality
    strict = {spec.id_column, spec.target.column}
    types = {**schema, DAY: "date"}  # the schema's kinds are Python's type names
    suite: dict[str, list[Expect]] = {
        "schema": [
            Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": list(types)}),
            *(
                Expect("ExpectColumnValuesToBeOfType", {"column": c, "type_": kind})
                for c, kind in types.items()
            ),
        ],
        "missing_values": [
            Expect(
                "ExpectColumnValuesToNotBeNull",
                {"column": c, "mostly": 1.0 if c in strict else 1.0 - q.max_null_fraction},
            )
            for c in schema
        ],
        "duplicate_ids": [Expect("ExpectColumnValuesToBeUnique", {"column": spec.id_column})]
        if spec.id_column
        else [],
        "volume": [],
        "value_ranges": [],
        "category_sets": [],
    }
    if not has_history(profile, spec):
        return Suite(f"{spec.name}.raw.first_days", suite)
    mean = profile.mean_daily_rows
    suite["volume"] = [
        Expect(
            "ExpectTableRowCountToBeBetween",
            {
                "min_value": Param("volume_min", math.floor(mean / q.volume_tolerance)),
                "max_value": Param("volume_max", math.ceil(mean * q.volume_tolerance)),
            },
        )
    ]
    suite["value_ranges"] = [
        Expect(
            "ExpectColumnValuesToBeBetween",
            {
                "column": c,
                "min_value": _learned("min", c, s.min),
                "max_value": _learned("max", c, s.max),
                "mostly": q.range_mostly,
            },
        )
        for c, s in profile.numeric.items()
        if s.min is not None
    ]
    suite["category_sets"] = [
        Expect(
            "ExpectColumnValuesToBeInSet",
            {
                "column": c,
                "value_set": _learned("values", c, sorted(v for v in shares if v != MISSING)),
                "mostly": q.range_mostly,
            },
        )
        for c, shares in profile.categories.items()
        if schema.get(c) == "str"
    ]
    return Suite(f"{spec.name}.raw", suite)


def feature_suite(
    spec: DatasetSpec,
    columns: FeatureColumns,
    profile: FeatureProfile,
    raw_rows: int,
    labelled: bool,
) -> Suite:
    """Expectations for one features partition (numeric columns are filled once a day of
    history exists)."""
    filled = columns.categorical + (columns.numeric if profile.days else ())
    checks = {
        "schema": [
            Expect(
                "ExpectTableColumnsToMatchOrderedList",
                {"column_list": output_columns(columns, spec, labelled)},
            )
        ],
        "completeness": [Expect("ExpectColumnValuesToNotBeNull", {"column": c}) for c in filled]
        + [
            Expect("ExpectColumnValuesToBeInSet", {"column": f"{c}__missing", "value_set": [0, 1]})
            for c in columns.numeric
        ],
        "row_count": [
            Expect("ExpectTableRowCountToEqual", {"value": Param("raw_row_count", raw_rows)})
        ],
    }
    return Suite(f"{spec.name}.features{'' if profile.days else '.first_day'}", checks)


def outcome_suite(spec: DatasetSpec) -> Suite:
    """Expectations for one outcomes partition."""
    key, target = spec.id_column, spec.target.column
    checks = {
        "schema": [
            Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": [key, target, DAY]})
        ],
        "missing_values": [
            Expect("ExpectColumnValuesToNotBeNull", {"column": c}) for c in (key, target)
        ],
        "duplicate_ids": [Expect("ExpectColumnValuesToBeUnique", {"column": key})],
    }
    return Suite(f"{spec.name}.raw_outcomes", checks)
