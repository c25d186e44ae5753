"""End to end, accelerated: the first 70 days of the concept-drift scenario without the drift
(30 days of daily sensors from the day the drift would start; `bench/bench_retraining.py
--scenario none` counts false signals over many more), each landed just before it runs so that
only approved and control applications get outcomes (tests/scenario.py): no retrain signal, the
champion never moves, and the impact asset's uplift interval covers the true uplift that the
simulator's ground truth gives."""

import dagster as dg
import numpy as np
import polars as pl
import pytest

from mlops_assets.commands.execution import instance_for
from mlops_assets.config.spec import load_spec
from tests.scenario import DRIFT_DAY, replayed, signal_retrains

pytestmark = pytest.mark.slow


def test_the_same_days_without_drift_never_retrain_and_the_impact_covers_the_truth(
    tmp_path_factory,
):
    settings, history = replayed(tmp_path_factory, "none", last_day=DRIFT_DAY + 29)
    assert not signal_retrains(history), signal_retrains(history)
    assert history["last_champion"] == history["first_champion"]
    assert all(
        "no drift signal" in c.get("lending_drift_sensor", "no drift signal")
        or "no drift_report" in c.get("lending_drift_sensor", "")
        for c in history["checkpoints"]
    )
    spec = load_spec(settings.dataset_spec, home=settings.home)
    event = instance_for(settings).get_latest_materialization_event(
        dg.AssetKey(["lending", "impact"])
    )
    uplift = event.asset_materialization.metadata["uplift_per_application"].value
    truth = true_uplift(settings, spec)
    assert uplift["low"] <= truth <= uplift["high"], (uplift, truth)


def true_uplift(settings, spec) -> float:
    """Per application, over every decided day the impact asset has measured: the value of the
    policy's decisions minus the value of approving everyone, from every applicant's outcome."""
    v, lake = spec.value, settings.lake / "lending"
    measured = sorted(p.stem for p in (lake / "impact").glob("*.parquet"))
    decided_on = pl.concat([pl.read_parquet(lake / "impact" / f"{d}.parquet") for d in measured])
    differences = []
    for day in sorted(set(decided_on["day"].to_list())):
        decisions = pl.read_parquet(lake / "decisions" / f"{day}.parquet")
        truth = pl.read_parquet(settings.ground_truth / "lending" / f"{day}.parquet")
        rows = decisions.join(truth, left_on="id", right_on="application_id")
        y = rows["defaulted"].to_numpy()
        approve = np.where(y == 1, v.otherwise_positive, v.otherwise_negative)
        decline = np.where(y == 1, v.action_positive, v.action_negative)
        policy = np.where((rows["score"] >= rows["threshold"]).to_numpy(), decline, approve)
        differences.append(policy - approve)
    return float(np.concatenate(differences).mean())
