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
    """Per day: ingest, outcomes (when labels lag), decide, score, drift, performance (when
    labels lag); unpartitioned: train."""

    def job(name: str, assets: tuple[str, ...], description: str, partitioned: bool = True):
        return dg.define_asset_job(
            name,
            selection=dg.AssetSelection.assets(*([spec.name, a] for a in assets)),
            partitions_def=partitions if partitioned else None,
            description=description,
        )

    jobs = [
        job(
            ingest_job_name(spec),
            ("raw", "features"),
            "Ingest one day's landing file, check it, and build its features.",
        )
    ]
    if spec.delayed_labels:
        jobs.append(
            job(
                outcomes_job_name(spec),
                ("raw_outcomes",),
                "Ingest and check one day's outcomes file.",
            )
        )
    jobs += [
        job(
            train_job_name(spec),
            ("training_set", "candidate_model", "backtest", "champion", "deployment"),
            "Train a candidate, backtest it against the champion, promote it if the gates pass, "
            "and update the endpoint.",
            partitioned=False,
        ),
        job(
            decide_job_name(spec),
            ("decisions",),
            "Batch decisions for a range of days by the deployed models.",
        ),
        job(
            score_job_name(spec),
            ("decisions", "drift_report", "kpis"),
            "A landed day's decisions by the deployed models, its drift report and business KPIs.",
        ),
        job(drift_job_name(spec), ("drift_report",), "The drift report of a day's applications."),
    ]
    if spec.delayed_labels:
        jobs.append(
            job(
                performance_job_name(spec),
                ("performance",),
                "Realized performance of a day's decisions, once its labels landed.",
            )
        )
    return jobs
