"""A dataset as a Dagster component: every asset, check, job, sensor and schedule of one spec.

Each registered dataset is an instance, `mlops_assets/defs/<name>/defs.yaml`:

    type: mlops_assets.components.DatasetComponent
    attributes:
      spec: ../../config/datasets/lending.yaml   # relative to the defs.yaml's folder

`mlops datasets add SPEC` scaffolds one (`dg scaffold defs mlops_assets.components.DatasetComponent
<name> --spec SPEC`). The resources every dataset shares (the lake, the registries, MLflow's
run, the endpoint) are the code location's, in `defs/platform.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from asset_checks.data_quality import build_data_quality_checks
from asset_checks.freshness import build_freshness_checks, build_freshness_sensor
from asset_checks.model_gates import build_model_gate_checks
from asset_checks.serving import build_serving_checks
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import DatasetSpec, load_spec
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
from mlops_assets.defs.automation import build_automation_sensor
from mlops_assets.defs.jobs import build_jobs, daily_job_name, train_job_name
from mlops_assets.defs.partitions import daily_partitions
from mlops_assets.defs.release import build_release_job
from mlops_assets.defs.sensors import (
    build_landing_sensor,
    build_retrain_sensors,
    build_weekly_retrain,
)
from mlops_assets.defs.tracking import DATASET_TAG, end_mlflow_on_run_finished


def dataset_definitions(spec: DatasetSpec) -> dg.Definitions:
    """The assets, checks, jobs, sensors and schedule of the dataset `spec` describes; its
    assets carry the spec's `owners` and the tag `mlops/dataset`."""
    partitions = daily_partitions(spec)
    jobs = build_jobs(spec, partitions, train_hooks={end_mlflow_on_run_finished()})
    by_name = {j.name: j for j in jobs}
    train, daily = by_name[train_job_name(spec)], by_name[daily_job_name(spec)]
    freshness = build_freshness_checks(spec)
    assets = [
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
    ]
    return dg.Definitions(
        assets=dg.map_asset_specs(
            lambda asset: asset.merge_attributes(
                owners=list(spec.owners), tags={DATASET_TAG: spec.name}
            ),
            assets,
        ),
        asset_checks=[
            *build_data_quality_checks(spec),
            *build_model_gate_checks(spec),
            *build_serving_checks(spec),
            *freshness,
        ],
        jobs=[*jobs, build_release_job(spec)],
        sensors=[
            build_landing_sensor(spec, partitions, daily),
            *build_retrain_sensors(spec, train),
            build_freshness_sensor(spec, freshness),
            build_automation_sensor(spec),
        ],
        schedules=[build_weekly_retrain(spec, train)],
    )


class DatasetParams(BaseModel):
    spec: str  # the dataset spec YAML


class DatasetScaffolder(dg.Scaffolder[DatasetParams]):
    """Writes `defs/<name>/defs.yaml` naming the spec (relative to that folder), once the spec
    is read and its name is the folder's."""

    @classmethod
    def get_scaffold_params(cls) -> type[DatasetParams]:
        return DatasetParams

    def scaffold(self, request: dg.ScaffoldRequest[DatasetParams]) -> None:
        spec_path = Path(request.params.spec).expanduser().resolve()
        spec = load_spec(spec_path)
        folder = Path(request.target_path)
        if spec.name != folder.name:
            raise ValueError(
                f"the dataset {spec.name!r} ({spec_path}) must be scaffolded as "
                f"defs/{spec.name}, not defs/{folder.name}"
            )
        relative = os.path.relpath(spec_path, folder.resolve())
        dg.scaffold_component(request, {"spec": relative})


@dg.scaffold_with(DatasetScaffolder)
class DatasetComponent(dg.Component, dg.Model, dg.Resolvable):
    """One dataset of the platform, from its spec: its lineage graph from landing files to the
    served champion, its checks and gates, its jobs, sensors and weekly retrain."""

    spec: str  # the dataset spec YAML, relative to this defs.yaml's folder

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        settings = Settings.resolve()
        spec_path = (context.path / self.spec).resolve()
        if spec_path not in settings.datasets:  # `--dataset` narrowed the platform to another
            return dg.Definitions()
        spec = load_spec(spec_path, home=settings.home)
        if spec.name != context.path.name:  # its routes and commands go by the folder's name
            raise ValueError(
                f"{context.path / 'defs.yaml'} registers the dataset {spec.name!r} ({spec_path}): "
                f"its folder must be named {spec.name}"
            )
        return dataset_definitions(spec)
