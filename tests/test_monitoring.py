"""Monitoring assets on a trained home: the drift report and realized performance."""

import json

import polars as pl
import pytest

from mlops_assets.definitions import build_definitions
from mlops_assets.runner import QUIET, instance_for

pytestmark = pytest.mark.slow


def run(settings, job: str, day: str):
    defs = build_definitions(settings)
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance_for(settings),
        partition_key=day,
        run_config=QUIET,
        raise_on_error=False,
    )


def metadata(result, asset: str) -> dict:
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == asset
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_drift_report_of_an_undrifted_day_is_quiet_and_reports_everything(trained_home):
    result = run(trained_home, "lending_drift", "2025-02-14")
    assert result.success
    meta = metadata(result, "drift_report")
    assert meta["severity"] in ("none", "moderate") and meta["retrain_signal"] is False
    assert 0.4 < meta["domain_auc"] < 0.65
    assert 0.6 < meta["expected_roc_auc"] < 0.9  # CBPE from the calibrated scores
    table = pl.read_parquet(trained_home.lake / "lending" / "drift_report" / "2025-02-14.parquet")
    assert {"income", "region", "__score__"} <= set(table["column"])
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "no_major_drift"
    assert (trained_home.home / "reports" / "lending" / "drift" / "2025-02-14.html").exists()
    assert list((trained_home.lake / "lending" / "drift_reference").glob("v1.npz"))


def test_performance_of_a_labelled_day_separates_control_and_approved(trained_home):
    result = run(trained_home, "lending_performance", "2025-02-07")  # outcomes landed 02-14
    assert result.success
    meta = metadata(result, "performance")
    assert 0.55 < meta["roc_auc"] < 0.95
    rows = pl.read_parquet(trained_home.lake / "lending" / "performance" / "2025-02-07.parquet")
    decisions = pl.read_parquet(trained_home.lake / "lending" / "decisions" / "2025-02-07.parquet")
    declined = decisions.filter(~pl.col("control") & (pl.col("decision") == "decline"))
    # a declined application has no observable outcome
    assert not set(rows["id"]) & set(declined["id"])
    assert rows["control"].any() and (~rows["control"]).any()
    assert json.loads(json.dumps(meta["performance"]))["control"]["rows"] == rows["control"].sum()
