"""A dataset that is not the simulator's goes through ingestion, checks and features from its
spec alone: other column names, CSV, labels in the same file, features and categories `auto`."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from mlops_assets.commands.runner import run_pipeline
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import SpecError

SPEC = """\
name: churn
landing: drops
format: csv
id_column: customer_ref
target: {column: churned, positive: "yes"}
features: auto
categorical: auto
segments: [plan]
decision: {action: call, otherwise: wait, threshold: 0.4}
value: {action_positive: 40, action_negative: -5, otherwise_positive: -200, otherwise_negative: 0}
"""


def write_day(folder, day: int, rows: int = 250):
    """One day of a churn-like source whose label depends on spend, tenure and plan."""
    rng = np.random.default_rng(day)
    date = dt.date(2024, 6, 1) + dt.timedelta(days=day)
    spend = rng.gamma(2, 30, rows).round(2)
    tenure = rng.integers(1, 72, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    logit = -1.8 + 0.02 * (spend - 60) - 0.05 * (tenure - 36) + 0.8 * (plan == "basic")
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pl.DataFrame(
        {
            "customer_ref": [f"C{day:03d}{i:05d}" for i in range(rows)],
            "tenure_months": tenure,
            "monthly_spend": pl.Series(spend).scatter(list(range(0, rows, 40)), None),
            "plan": plan.tolist(),
            "is_student": np.where(rng.random(rows) < 0.2, "true", "false").tolist(),
            "churned": np.where(churned, "yes", "no").tolist(),
        }
    )
    frame.write_csv(folder / f"{date}.csv")


@pytest.fixture
def churn(tmp_path):
    spec = tmp_path / "churn.yaml"
    spec.write_text(SPEC)
    (tmp_path / "drops").mkdir()
    return Settings.resolve(home=tmp_path / "home", dataset=str(spec)), tmp_path / "drops"


def test_other_dataset_flows_through_ingestion_checks_and_features(churn):
    settings, drops = churn
    for day in range(5):
        write_day(drops, day)
    summary = run_pipeline(settings, train=False)
    raw = summary["raw"]
    assert raw["materialized"] == 5 and not raw["blocked"] and not raw["quarantined"], raw
    assert all(c["failed"] == 0 for c in raw["checks"].values())
    assert "raw_outcomes" not in summary  # labels ride in the same file
    features = pl.read_parquet(settings.lake / "churn" / "features" / "2024-06-05.parquet")
    assert set(features["_label"].unique()) <= {0, 1}
    assert features["monthly_spend"].null_count() == 0  # imputed from the 4 days before
    assert features["monthly_spend__missing"].sum() > 0
    assert set(features["is_student"].unique()) <= {"true", "false"}
    assert "customer_ref" in features.columns and "churned" not in features.columns


def test_other_dataset_with_an_empty_landing_folder_is_a_clear_error(churn):
    settings, drops = churn
    with pytest.raises(SpecError, match=r"landing folder .*drops has no YYYY-MM-DD.csv files"):
        run_pipeline(settings)


def test_other_dataset_trains_backtests_and_promotes_from_its_spec(churn):
    settings, drops = churn
    for day in range(30):
        write_day(drops, day, rows=300)
    summary = run_pipeline(settings)
    model = summary["model"]
    assert model["champion"] == {
        "name": "churn-dev",
        "version": 1,
        "promoted": True,
        "previous_version": None,
        "challenger_version": None,
    }
    # no endpoint runs: the deployment records what `mlops serve` will serve
    assert model["deployment"]["served"] is False
    assert model["deployment"]["target"]["champion"] == 1
    assert summary["decisions"]["days"] == 30 and summary["decisions"]["rows"] == 30 * 300
    assert model["candidate"]["backtest"]["roc_auc"] > 0.7
    assert model["candidate"]["decision"]["threshold"] == 0.4  # fixed in the spec
    assert all(g["passed"] for g in model["gates"].values())
