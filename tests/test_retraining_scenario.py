"""End to end, accelerated: concept drift from day 40 of 85 fires a signal, and a gated retrain
moves the champion (tests/scenario.py); the replay stops there. Serving the new champion is
covered by tests/test_serving.py (the deployment asset swaps a live endpoint); here the
deployment asset records its target. The same days without drift: tests/test_retraining_none.py."""

import datetime as dt
import json
from pathlib import Path

import pytest

from mlops_assets.defs.resources import DatasetResource
from tests.conftest import registry
from tests.scenario import DRIFT_DAY, START, promoted_by_a_signal, replayed, signal_retrains

pytestmark = pytest.mark.slow


def test_concept_drift_fires_a_signal_and_a_gated_retrain_moves_the_champion(
    tmp_path, tmp_path_factory
):
    settings, history = replayed(tmp_path_factory, "concept_drift", until=promoted_by_a_signal)
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
