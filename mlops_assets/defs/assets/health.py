"""Pipeline health: the pipeline itself, read from the Dagster instance."""

import dagster as dg
import polars as pl

from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.metadata import table

GROUP = "monitoring"
VOLUME_ASSETS = ("raw", "features", "decisions")


def build_health_assets(spec: DatasetSpec) -> list:
    """`<dataset>/pipeline_health`."""

    @dg.asset(
        key=[spec.name, "pipeline_health"],
        deps=[dg.AssetKey([spec.name, a]) for a in VOLUME_ASSETS],
        group_name=GROUP,
        kinds={"dagster"},
        description="The pipeline itself, read from the Dagster instance: runs, failures and "
        "runtime per job, and the days ingested. Volumes over time are Dagster's own charts of "
        "the `dagster/row_count` that raw, features and decisions record per day. Refreshed on "
        "`monitoring.health_cron` (an automation condition the daemon evaluates).",
        automation_condition=dg.AutomationCondition.cron_tick_passed(spec.monitoring.health_cron)
        & ~dg.AutomationCondition.in_progress(),
    )
    def pipeline_health(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        frame = _runs(context.instance, spec)
        jobs = (
            frame.group_by("job")
            .agg(
                runs=pl.len(),
                failures=(pl.col("status") == "FAILURE").sum(),
                mean_seconds=pl.col("seconds").mean().round(2),
                max_seconds=pl.col("seconds").max().round(2),
            )
            .sort("job")
        )
        return dg.MaterializeResult(
            value=jobs,
            metadata={
                "runs": frame.height,
                "failures": int((frame["status"] == "FAILURE").sum()) if frame.height else 0,
                "jobs": table(jobs),
                "days_ingested": len(
                    context.instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw"]))
                ),
            },
        )

    return [pipeline_health]


def _runs(instance: dg.DagsterInstance, spec: DatasetSpec) -> pl.DataFrame:
    """The dataset's runs: job, status, seconds, partition."""
    runs = []
    for record in instance.get_run_records(limit=5000):
        run = record.dagster_run
        if not run.job_name.startswith(f"{spec.name}_"):
            continue
        finished = record.end_time and record.start_time
        runs.append(
            {
                "job": run.job_name,
                "status": run.status.value,
                "seconds": record.end_time - record.start_time if finished else None,
                "partition": run.tags.get("dagster/partition"),
            }
        )
    schema = {"job": pl.String, "status": pl.String, "seconds": pl.Float64, "partition": pl.String}
    return pl.DataFrame(runs, schema=schema)
