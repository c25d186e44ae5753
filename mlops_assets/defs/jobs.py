"""Jobs: the daily chain, declared once, and the train job.

The daily chain is one partitioned job: a day's landed applications become `raw` and `features`
(behind their data-quality checks), the deployed models' `decisions`, the `drift_report` and the
`kpis`; a day's landed outcomes become `raw_outcomes`, and the `performance` and the realized
`impact` (policy vs control) of the decisions they label. The landing sensor, `mlops run` and
the replay all run this one job, each for the part of it that what landed starts
(`daily_assets`); Dagster orders the steps and skips what a day cannot have yet (no decisions
before a first deployment).
"""

from __future__ import annotations

import warnings

import dagster as dg

from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.tracking import DATASET_TAG

APPLICATIONS = ("raw", "features", "decisions", "drift_report", "kpis")

# The daily job runs one day per run (what the landing sensor asks for); `decisions` alone
# backfills a range of days in one run (`BackfillPolicy.single_run`). Dagster notes that the
# job's assets differ, and keeps one day per run for the job: as intended.
warnings.filterwarnings(
    "ignore",
    message=r"Asset job \S+_daily materializes assets with varying BackfillPolicies",
    category=UserWarning,
)
OUTCOMES = ("raw_outcomes", "performance", "impact")


def daily_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_daily"


def train_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_train"


def daily_assets(
    spec: DatasetSpec,
    applications: bool = True,
    outcomes: bool = True,
    only: tuple[str, ...] | None = None,
) -> list[dg.AssetKey]:
    """The assets of the daily chain that a landed applications file and/or outcomes file start
    (narrowed to the names in `only`)."""
    names = [*(APPLICATIONS if applications else ())]
    if outcomes and spec.delayed_labels:
        names += OUTCOMES
    return [dg.AssetKey([spec.name, n]) for n in names if only is None or n in only]


def sweep_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_sweep"


def operator_job_name(spec: DatasetSpec, action: str) -> str:
    return f"{spec.name}_{action}"


def operator_config(spec: DatasetSpec, action: str, **champion) -> dict:
    """Run config of an operator job: the champion asset's action, reason and operator."""
    return {"ops": {f"{spec.name}__champion": {"config": {"action": action, **champion}}}}


def build_jobs(
    spec: DatasetSpec, partitions: dg.PartitionsDefinition, train_hooks: set | None = None
) -> list:
    """The daily chain (partitioned by business day), the train and sweep jobs (with
    `train_hooks`: the end of their MLflow run), and the operators' rollback and promote jobs
    (the champion and the endpoint, as a promotion moves them)."""
    operator_jobs = [
        dg.define_asset_job(
            operator_job_name(spec, action),
            selection=dg.AssetSelection.assets([spec.name, "champion"], [spec.name, "deployment"]),
            config=operator_config(spec, action),
            description=description,
        )
        for action, description in (
            (
                "rollback",
                "Move the champion back to the one it replaced, and the endpoint with it.",
            ),
            (
                "promote",
                "Make the challenger (or a version) the champion, and update the endpoint.",
            ),
        )
    ]
    return [
        *operator_jobs,
        dg.define_asset_job(
            daily_job_name(spec),
            selection=dg.AssetSelection.assets(*daily_assets(spec)),
            partitions_def=partitions,
            description="One business day: ingest and check its applications and build their "
            "features; decide them with the deployed models; its drift report and KPIs; ingest "
            "the outcomes that landed that day and measure the performance and realized impact "
            "of the decisions they label. Runs for the part that what landed starts.",
        ),
        dg.define_asset_job(
            train_job_name(spec),
            selection=dg.AssetSelection.assets(
                *(
                    [spec.name, a]
                    for a in (
                        "training_set",
                        "candidate_model",
                        "backtest",
                        "champion",
                        "deployment",
                    )
                )
            ),
            description="Train a candidate, backtest it against the champion, promote it if the "
            "gates pass, and update the endpoint.",
            hooks=train_hooks,
            tags={DATASET_TAG: spec.name},
        ),
        dg.define_asset_job(
            sweep_job_name(spec),
            selection=dg.AssetSelection.assets([spec.name, "training_set"], [spec.name, "sweep"]),
            description="Sweep recipes on Ray Tune against the champion's (MLflow: a parent run "
            "and a run per trial); the train job with `candidate_model`'s `from_sweep` then "
            "trains the confirmed winner through the gates (`mlops sweep` runs both).",
            hooks=train_hooks,
            tags={DATASET_TAG: spec.name},
        ),
    ]
