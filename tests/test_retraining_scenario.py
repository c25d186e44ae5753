"""End to end, accelerated: concept drift at day 40 of 70 retrains and promotes a new champion;
the same 70 days without drift retrain nothing.

Real Dagster instance and jobs, sensors evaluated through Dagster's sensor API, real MLflow
(`mlops_assets.replay`). Days 0-39 are the same in both scenarios, so they are landed and ingested
once and the home is copied. Serving the new champion is covered by tests/test_serving.py (the
deployment asset swaps a live endpoint); here the deployment asset records its target.
"""

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from mlops_assets.replay import replay
from mlops_assets.resources import DatasetResource
from mlops_assets.runner import run_pipeline
from mlops_assets.settings import Settings
from mlops_assets.simulator import Scenario, land_day
from tests.conftest import registry

pytestmark = pytest.mark.slow

ROWS, DAYS, DRIFT_DAY = 500, 70, 40
START = dt.date(2025, 1, 1)


@pytest.fixture(scope="module")
def shared_prefix(tmp_path_factory) -> Settings:
    """Days 0..DRIFT_DAY-1 landed and ingested (identical in every scenario)."""
    settings = Settings.resolve(home=tmp_path_factory.mktemp("prefix") / "home")
    plan = settings.simulator_plan()
    for day in range(DRIFT_DAY):
        land_day(plan, day, rows=ROWS)
    run_pipeline(settings, train=False)
    return settings


def replayed(shared_prefix: Settings, tmp_path, scenario: str) -> tuple[Settings, dict]:
    home = tmp_path / scenario
    shutil.copytree(shared_prefix.home, home)
    settings = Settings.resolve(home=home)
    plan = settings.simulator_plan()
    for day in range(DRIFT_DAY, DAYS):
        land_day(plan, day, rows=ROWS, scenario=Scenario(scenario, DRIFT_DAY))
    run_pipeline(settings, train=False)
    history = replay(
        settings,
        train_day=str(START + dt.timedelta(days=DRIFT_DAY - 6)),
        last_day=str(START + dt.timedelta(days=DAYS - 1)),
        step=3,
    )
    return settings, history


def signal_retrains(history: dict) -> list[dict]:
    return [r for r in history["retrains"] if r["trigger"] in ("drift", "performance")]


def test_concept_drift_fires_a_signal_and_a_gated_retrain_moves_the_champion(
    shared_prefix, tmp_path
):
    settings, history = replayed(shared_prefix, tmp_path, "concept_drift")
    drift_date = START + dt.timedelta(days=DRIFT_DAY)
    retrains = signal_retrains(history)
    assert retrains, history["checkpoints"]
    assert all(dt.date.fromisoformat(r["day"]) > drift_date for r in retrains)
    promoted = [r for r in retrains if r["promoted"]]
    assert promoted, retrains
    assert history["last_champion"] != history["first_champion"]

    models = registry(settings)
    champion = models.champion_version()
    assert champion == history["last_champion"]
    tags = models.version_tags(champion)
    assert tags["previous_champion"] == str(history["first_champion"])
    # the promoted model was trained by a signal-driven run, recency-weighted, and every gate
    # passed on its backtest (the report logged with its MLflow run)
    client = models.client()
    run_id = client.get_model_version(models.model_name, str(champion)).run_id
    assert float(client.get_run(run_id).data.params["recency_half_life_days"]) > 0
    report = json.loads(
        Path(client.download_artifacts(run_id, "backtest/report.json", str(tmp_path))).read_text()
    )
    assert report["candidate"]["version"] == champion
    assert all(verdict["passed"] for verdict in report["gates"].values()), report["gates"]
    # the deployment asset targets the new champion
    dataset = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
    assert dataset.document("deployment")["target"]["champion"] == champion


def test_the_same_days_without_drift_retrain_nothing(shared_prefix, tmp_path):
    settings, history = replayed(shared_prefix, tmp_path, "none")
    assert signal_retrains(history) == [], history["retrains"]
    assert history["last_champion"] == history["first_champion"]
    assert all(
        "no drift signal" in c.get("lending_drift_sensor", "no drift signal")
        or "no drift_report" in c.get("lending_drift_sensor", "")
        for c in history["checkpoints"]
    )
