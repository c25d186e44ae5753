"""What the registered model carries for serving: the serving inputs (raw input schema, feature
columns, feature profile), a raw input example and the decision rule."""

import datetime as dt

import polars as pl

from mlops_assets.compute.ingest import SERVED_DTYPES
from mlops_assets.compute.metrics import decision_threshold
from mlops_assets.compute.profile import profile_to_dict
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.resources import DatasetResource


def raw_example(dataset: DatasetResource, inputs_card: dict, day: dt.date):
    """Three raw records of the model's last training day, as a client sends them (integers as
    doubles): the registered model's input example."""
    raw = dataset.read("raw", day.isoformat()).head(3)
    return raw.select(
        pl.col(c).cast(SERVED_DTYPES[kind]) for c, kind in inputs_card["schema"].items()
    ).to_pandas()


def serving_inputs(dataset: DatasetResource, last_day: dt.date) -> dict:
    """What serving needs to turn raw records into this model's inputs: the raw input schema, the
    feature columns, and the profile the features asset would use on the day after training."""
    columns = dataset.feature_columns()
    schema = dataset.schema()
    raw = [*columns.numeric, *columns.categorical, *columns.passthrough]
    profile = dataset.history_profile((last_day + dt.timedelta(days=1)).isoformat())
    return {
        "schema": {c: schema[c] for c in raw},
        "columns": {
            "numeric": list(columns.numeric),
            "categorical": list(columns.categorical),
            "passthrough": list(columns.passthrough),
        },
        "profile": profile_to_dict(profile),
    }


def decision_rule(spec: DatasetSpec) -> dict:
    """The spec's rule: `action` at or above the threshold (the spec's fixed one, or the value
    matrix's break-even), else `otherwise`."""
    return {
        "threshold": decision_threshold(spec)["threshold"],
        "action": spec.decision.action,
        "otherwise": spec.decision.otherwise,
    }
