"""What every dataset of the code location shares: the lake, the MLflow registries and run, the
endpoint, and one run process per run. A dataset named by `--dataset`/`MLOPS_DATASET` that is
not registered (a one-off spec) is built here; registered ones are `defs/<name>/` components."""

from __future__ import annotations

import dagster as dg

from mlops_assets.components.dataset import dataset_definitions
from mlops_assets.config.catalog import registered_datasets
from mlops_assets.config.settings import Settings
from mlops_assets.defs.lake import ParquetIOManager
from mlops_assets.defs.registry import registries_for
from mlops_assets.defs.resources import DatasetsResource, ServingResource
from mlops_assets.defs.tracking import TRACKING, tracking_resource


def platform_definitions(settings: Settings) -> dg.Definitions:
    registries = registries_for(settings, by_reference=True)
    lake = str(settings.lake)
    return dg.Definitions(
        resources={
            "datasets": DatasetsResource(home=str(settings.home), lake=lake),
            "registries": registries,
            TRACKING: tracking_resource(settings, registries),
            "serving": ServingResource(url=settings.serving_url),
            "io_manager": ParquetIOManager(root=lake),
        },
        # One process per run: Great Expectations is imported once, not once per step.
        executor=dg.in_process_executor,
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    """The definitions of the settings' dataset alone, with the platform's resources (what
    `mlops` commands execute in-process)."""
    spec = settings.spec
    return dg.Definitions.merge(dataset_definitions(spec), platform_definitions(settings))


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.resolve()
    registered = registered_datasets().values()
    one_off = [s for s in settings.specs if s.source not in registered]
    return dg.Definitions.merge(
        platform_definitions(settings), *(dataset_definitions(spec) for spec in one_off)
    )
