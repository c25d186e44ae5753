"""Ingest, train and register on either store: SQLite files, or Dagster and MLflow on PostgreSQL
(the prod profile), with lineage that crosses the two."""

import dagster as dg
import pytest

from mlops_assets.commands.execution import instance_for
from mlops_assets.commands.runner import run_pipeline
from tests.conftest import land, registry

pytestmark = [pytest.mark.stores, pytest.mark.slow]


def test_a_champion_is_trained_and_its_lineage_resolves_in_both_stores(settings):
    # 21 labelled days, the least a backtest needs; at 200 rows a day its one fold model (1,200
    # rows) is overconfident (calibration slope 0.58 [0.41, 0.74]) and rightly refused
    land(settings, range(28), rows=400)
    summary = run_pipeline(settings)
    models = registry(settings)
    assert summary["model"]["champion"]["version"] == models.champion_version() == 1

    instance = instance_for(settings)
    postgres = settings.profile().dagster_storage is not None
    assert ("Postgres" in type(instance.run_storage).__name__) is postgres
    assert models.tracking_uri.startswith("postgresql") is postgres
    # the model version names the Dagster run that trained it, and that run is in the instance
    version = models.client().get_model_version(models.model_name, "1")
    run_id = models.client().get_run(version.run_id).data.tags["dagster_run_id"]
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.is_success
    assert len(instance.get_materialized_partitions(dg.AssetKey(["lending", "features"]))) == 28
