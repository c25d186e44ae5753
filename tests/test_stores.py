"""Ingest, train and register on either store: SQLite files, or Dagster and MLflow on PostgreSQL
(the prod profile), with lineage that crosses the two."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from mlops_assets.commands.execution import instance_for
from mlops_assets.commands.runner import run_pipeline
from tests.conftest import PASSWORD, copy_home, land, registry, trained_base

pytestmark = [pytest.mark.stores, pytest.mark.slow]


def test_a_champion_is_trained_and_its_lineage_resolves_in_both_stores(
    settings, tmp_path, tmp_path_factory
):
    postgres = settings.profile().dagster_storage is not None
    if postgres:
        # 21 labelled days, the least a backtest needs; at 200 rows a day its one fold model
        # (1,200 rows) is overconfident (calibration slope 0.58 [0.41, 0.74]) and rightly refused
        days = 28
        land(settings, range(days), rows=400)
        summary = run_pipeline(settings)
        assert summary["model"]["champion"]["version"] == 1
    else:  # SQLite: the session's trained home is this pipeline's run already (45 days)
        days = 45
        settings = copy_home(trained_base(tmp_path_factory), tmp_path / "trained")
    models = registry(settings)
    assert models.champion_version() == 1

    instance = instance_for(settings)
    assert ("Postgres" in type(instance.run_storage).__name__) is postgres
    assert models.tracking_uri.startswith("postgresql") is postgres
    # the model version names the Dagster run that trained it, and that run is in the instance
    version = models.client().get_model_version(models.model_name, "1")
    run_id = models.client().get_run(version.run_id).data.tags["dagster_run_id"]
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.is_success
    assert len(instance.get_materialized_partitions(dg.AssetKey(["lending", "features"]))) == days
    if postgres:  # its URLs carry a password: read from the environment, never written down
        credentials_stay_in_the_environment(settings, instance)


def credentials_stay_in_the_environment(settings, instance) -> None:
    """The password in the prod profile's URLs is in no file of the home or the artifact store,
    and in no run's config, job snapshot (its resources' config) or event."""
    artifacts = Path(settings.profile().artifact_location)
    for path in [*settings.home.rglob("*"), *artifacts.rglob("*")]:
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path
    runs = instance.get_runs()
    assert {r.job_name for r in runs} >= {"lending_daily", "lending_train"}
    for run in runs:
        assert PASSWORD not in serialize_value(run)  # its run config and tags
        assert PASSWORD not in serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
        assert PASSWORD not in serialize_value(instance.all_logs(run.run_id))
