"""Jobs: what a sensor or the command line asks Dagster to materialize for one day."""

from __future__ import annotations

import dagster as dg

from mlops_assets.spec import DatasetSpec


def ingest_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_ingest"


def outcomes_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_outcomes"


def train_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_train"


def decide_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_decide"


def score_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_score"


def drift_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_drift"


def performance_job_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_performance"


def build_jobs(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>_ingest` (raw -> features, with checks) and `<dataset>_outcomes`."""
    jobs = [
        dg.define_asset_job(
            ingest_job_name(spec),
            selection=dg.AssetSelection.assets([spec.name, "raw"], [spec.name, "features"]),
            partitions_def=partitions,
            description="Ingest one day's landing file, check it, and build its features.",
        )
    ]
    if spec.delayed_labels:
        jobs.append(
            dg.define_asset_job(
                outcomes_job_name(spec),
                selection=dg.AssetSelection.assets([spec.name, "raw_outcomes"]),
                partitions_def=partitions,
                description="Ingest and check one day's outcomes file.",
            )
        )
    jobs.append(
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
        )
    )
    jobs.append(
        dg.define_asset_job(
            decide_job_name(spec),
            selection=dg.AssetSelection.assets([spec.name, "decisions"]),
            partitions_def=partitions,
            description="Batch decisions for a range of days by the deployed models.",
        )
    )
    jobs.append(
        dg.define_asset_job(
            score_job_name(spec),
            selection=dg.AssetSelection.assets(
                *([spec.name, a] for a in ("decisions", "drift_report", "kpis"))
            ),
            partitions_def=partitions,
            description="A landed day's decisions by the deployed models, its drift report and "
            "business KPIs.",
        )
    )
    jobs.append(
        dg.define_asset_job(
            drift_job_name(spec),
            selection=dg.AssetSelection.assets([spec.name, "drift_report"]),
            partitions_def=partitions,
            description="The drift report of a day's applications.",
        )
    )
    if spec.delayed_labels:
        jobs.append(
            dg.define_asset_job(
                performance_job_name(spec),
                selection=dg.AssetSelection.assets([spec.name, "performance"]),
                partitions_def=partitions,
                description="Realized performance of a day's decisions, once its labels landed.",
            )
        )
    return jobs
