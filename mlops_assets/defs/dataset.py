"""The Dagster code location: every asset, check, job and sensor of one dataset."""

from __future__ import annotations

import dagster as dg

from asset_checks.data_quality import build_data_quality_checks
from asset_checks.model_gates import build_model_gate_checks
from asset_checks.serving import build_serving_checks
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import load_spec
from mlops_assets.defs.assets.drift import build_drift_assets
from mlops_assets.defs.assets.evaluation import build_evaluation_assets
from mlops_assets.defs.assets.features import build_feature_assets
from mlops_assets.defs.assets.health import build_health_assets
from mlops_assets.defs.assets.impact import build_impact_assets
from mlops_assets.defs.assets.ingestion import build_ingestion_assets
from mlops_assets.defs.assets.kpis import build_kpi_assets
from mlops_assets.defs.assets.performance import build_performance_assets
from mlops_assets.defs.assets.promotion import build_promotion_assets
from mlops_assets.defs.assets.serving import build_serving_assets
from mlops_assets.defs.assets.sweep import build_sweep_assets
from mlops_assets.defs.assets.training import build_training_assets
from mlops_assets.defs.jobs import build_jobs, daily_job_name, train_job_name
from mlops_assets.defs.lake import ParquetIOManager
from mlops_assets.defs.partitions import daily_partitions
from mlops_assets.defs.registry import registry_for
from mlops_assets.defs.release import build_release_job
from mlops_assets.defs.resources import DatasetResource, ServingResource
from mlops_assets.defs.sensors import (
    build_landing_sensor,
    build_retrain_sensors,
    build_weekly_retrain,
)
from mlops_assets.defs.tracking import TRACKING, end_mlflow_on_run_finished, tracking_resource


def build_definitions(settings: Settings) -> dg.Definitions:
    """Definitions for the dataset and home folder in `settings`."""
    spec = load_spec(settings.dataset_spec, home=settings.home)
    partitions = daily_partitions(spec)
    registry = registry_for(settings, spec, by_reference=True)
    jobs = build_jobs(spec, partitions, train_hooks={end_mlflow_on_run_finished()})
    by_name = {j.name: j for j in jobs}
    train, daily = by_name[train_job_name(spec)], by_name[daily_job_name(spec)]
    lake = settings.lake
    return dg.Definitions(
        assets=[
            *build_ingestion_assets(spec, partitions),
            *build_feature_assets(spec, partitions),
            *build_training_assets(spec),
            *build_evaluation_assets(spec),
            *build_promotion_assets(spec),
            *build_serving_assets(spec, partitions),
            *build_drift_assets(spec, partitions),
            *build_kpi_assets(spec, partitions),
            *build_performance_assets(spec, partitions),
            *build_impact_assets(spec, partitions),
            *build_health_assets(spec),
            *build_sweep_assets(spec),
        ],
        asset_checks=[
            *build_data_quality_checks(spec),
            *build_model_gate_checks(spec),
            *build_serving_checks(spec),
        ],
        jobs=[*jobs, build_release_job(spec)],
        sensors=[
            build_landing_sensor(spec, partitions, daily),
            *build_retrain_sensors(spec, train),
        ],
        schedules=[build_weekly_retrain(spec, train)],
        resources={
            "dataset": DatasetResource(
                spec_path=str(settings.dataset_spec), home=str(settings.home), lake=str(lake)
            ),
            "registry": registry,
            TRACKING: tracking_resource(settings, registry),
            "serving": ServingResource(url=settings.serving_url),
            "io_manager": ParquetIOManager(root=str(lake)),
        },
        # One process per run: Great Expectations is imported once, not once per step.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.resolve())
