"""Expectation suites for each partition, built from the spec, the schema and the history.

Each suite is a mapping check name -> expectations; a check passes when all of its
expectations pass. Checks that learn from history pass (and say so) until there are
`quality.min_history_days` accepted days.
"""

from __future__ import annotations

import math

from asset_checks.expectations import Expect
from mlops_assets.compute.features import MISSING, FeatureColumns, output_columns
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.profile import FeatureProfile
from mlops_assets.config.spec import DatasetSpec

RAW_CHECKS = {
    "schema": (True, "Columns and types match the dataset's pinned schema."),
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


def has_history(profile: FeatureProfile, spec: DatasetSpec) -> bool:
    return len(profile.days) >= spec.quality.min_history_days


def raw_suite(
    spec: DatasetSpec, schema: dict[str, str], profile: FeatureProfile
) -> dict[str, list]:
    """Expectations for one raw partition."""
    q = spec.quality
    strict = {spec.id_column, spec.target.column}
    suite: dict[str, list[Expect]] = {
        "schema": [Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": [*schema, DAY]})],
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
        return suite
    mean = profile.mean_daily_rows
    suite["volume"] = [
        Expect(
            "ExpectTableRowCountToBeBetween",
            {
                "min_value": math.floor(mean / q.volume_tolerance),
                "max_value": math.ceil(mean * q.volume_tolerance),
            },
        )
    ]
    suite["value_ranges"] = [
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": c, "min_value": s.min, "max_value": s.max, "mostly": q.range_mostly},
        )
        for c, s in profile.numeric.items()
        if s.min is not None
    ]
    suite["category_sets"] = [
        Expect(
            "ExpectColumnValuesToBeInSet",
            {
                "column": c,
                "value_set": sorted(v for v in shares if v != MISSING),
                "mostly": q.range_mostly,
            },
        )
        for c, shares in profile.categories.items()
        if schema.get(c) == "str"
    ]
    return suite


def feature_suite(
    spec: DatasetSpec,
    columns: FeatureColumns,
    profile: FeatureProfile,
    raw_rows: int,
    labelled: bool,
) -> dict[str, list]:
    """Expectations for one features partition."""
    filled = columns.categorical + (columns.numeric if profile.days else ())
    return {
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
        "row_count": [Expect("ExpectTableRowCountToEqual", {"value": raw_rows})],
    }


def outcome_suite(spec: DatasetSpec) -> dict[str, list]:
    """Expectations for one outcomes partition."""
    key, target = spec.id_column, spec.target.column
    return {
        "schema": [
            Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": [key, target, DAY]})
        ],
        "missing_values": [
            Expect("ExpectColumnValuesToNotBeNull", {"column": c}) for c in (key, target)
        ],
        "duplicate_ids": [Expect("ExpectColumnValuesToBeUnique", {"column": key})],
    }
