"""Features use statistics fitted on earlier days only."""

import datetime as dt

import polars as pl
import pytest

from mlops_assets.compute.features import (
    MISSING,
    OTHER,
    FeatureColumns,
    build_features,
    feature_columns,
)
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.profile import FeatureProfile, fit_profile
from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import load_spec, parse_spec

SCHEMA = {"application_id": "str", "income": "float", "region": "str", "age_band": "str"}


@pytest.fixture
def spec(tmp_path):
    return load_spec(BUILTIN_SPEC, home=tmp_path)


def frame(day, income, region):
    n = len(income)
    return pl.DataFrame(
        {
            "application_id": [f"{day}-{i}" for i in range(n)],
            "income": income,
            "region": region,
            "age_band": ["26-35"] * n,
            DAY: [dt.date(2025, 1, day)] * n,
        }
    )


def columns(spec):
    return FeatureColumns(numeric=("income",), categorical=("region",), passthrough=("age_band",))


def test_imputation_and_clipping_come_from_history_not_from_the_day(spec):
    history = pl.concat(
        [frame(1, [10.0, 20.0, 30.0], ["north"] * 3), frame(2, [20.0, 20.0, 40.0], ["south"] * 3)]
    )
    profile = fit_profile(history, ["income"], ["region"])
    today = frame(3, [None, 1e9, 1e9, 1e9], ["north", "east", None, "south"])
    out = build_features(today, profile, columns(spec), spec)
    # today's median is 1e9; the imputed value is the history's median, and 1e9 is clipped
    assert out["income"].to_list() == [20.0, 40.0, 40.0, 40.0]
    assert out["income__missing"].to_list() == [1, 0, 0, 0]
    assert out["region"].to_list() == ["north", OTHER, MISSING, "south"]
    assert out["age_band"].to_list() == ["26-35"] * 4  # protected column kept for reporting
    assert "_label" not in out.columns  # this spec's labels arrive later


def test_the_same_day_with_other_history_changes_only_through_history(spec):
    today = frame(9, [None, 5.0], ["north", "north"])
    a = build_features(
        today,
        fit_profile(frame(1, [1.0, 1.0], ["north"] * 2), ["income"], ["region"]),
        columns(spec),
        spec,
    )
    b = build_features(
        today,
        fit_profile(frame(1, [3.0, 3.0], ["north"] * 2), ["income"], ["region"]),
        columns(spec),
        spec,
    )
    assert a["income"][0] == 1.0 and b["income"][0] == 3.0


def test_without_history_values_pass_through(spec):
    out = build_features(frame(1, [None, 2.0], [None, "x"]), FeatureProfile(), columns(spec), spec)
    assert out["income"].to_list() == [None, 2.0]
    assert out["region"].to_list() == [MISSING, "x"]


def test_auto_features_are_every_column_but_id_and_target(tmp_path):
    spec = parse_spec(
        {
            "name": "auto",
            "landing": "l",
            "format": "csv",
            "id_column": "application_id",
            "target": {"column": "defaulted", "positive": 1},
            "protected": ["age_band"],
            "decision": {"action": "a", "otherwise": "b", "threshold": "auto"},
            "value": dict.fromkeys(
                ["action_positive", "action_negative", "otherwise_positive", "otherwise_negative"],
                0,
            ),
        },
        base=tmp_path,
    )
    cols = feature_columns(spec, {**SCHEMA, "defaulted": "int", "flag": "bool"})
    assert cols.numeric == ("income",)
    assert cols.categorical == ("region", "age_band", "flag")
    assert cols.passthrough == ()


def test_builtin_spec_keeps_protected_columns_out_of_the_model(spec):
    schema = {c: "float" for c in spec.features} | {"age_band": "str", "application_id": "str"}
    cols = feature_columns(spec, schema)
    assert "age_band" not in cols.model_inputs and cols.passthrough == ("age_band",)
