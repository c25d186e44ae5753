"""Pipeline health: the pipeline itself, read from the Dagster instance."""

import dagster as dg
import polars as pl

from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.plots import lines_png, markdown_image

GROUP = "monitoring"
VOLUME_ASSETS = ("raw", "features", "decisions")


def build_health_automation(spec: DatasetSpec) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates `pipeline_health`'s automation condition (on by default)."""
    return dg.AutomationConditionSensorDefinition(
        f"{spec.name}_automation_sensor",
        target=dg.AssetSelection.assets([spec.name, "pipeline_health"]),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )


def build_health_assets(spec: DatasetSpec) -> list:
    """`<dataset>/pipeline_health`."""

    @dg.asset(
        key=[spec.name, "pipeline_health"],
        deps=[dg.AssetKey([spec.name, a]) for a in VOLUME_ASSETS],
        group_name=GROUP,
        kinds={"dagster"},
        description="The pipeline itself, read from the Dagster instance: runs, failures and "
        "runtime per job; input and output volumes (rows per day of raw, features and "
        "decisions) over time. Refreshed on `monitoring.health_cron` (an automation condition "
        "the daemon evaluates).",
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
        volumes = _volumes(context.instance, spec)
        png = lines_png(volumes, f"{spec.name}: rows per day", "rows")
        table = (
            "| job | runs | failures | mean s | max s |\n|---|---:|---:|---:|---:|\n"
            + "\n".join(
                f"| {r['job']} | {r['runs']} | {r['failures']} | {r['mean_seconds']} | "
                f"{r['max_seconds']} |"
                for r in jobs.iter_rows(named=True)
            )
        )
        return dg.MaterializeResult(
            value=jobs,
            metadata={
                "runs": frame.height,
                "failures": int((frame["status"] == "FAILURE").sum()) if frame.height else 0,
                "jobs": dg.MetadataValue.md(table),
                "volumes": dg.MetadataValue.md(markdown_image(png, "rows per day")),
                "days_ingested": len(volumes["raw"]),
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


def _volumes(instance: dg.DagsterInstance, spec: DatasetSpec) -> dict[str, dict[str, int]]:
    """Rows per day of raw, features and decisions, from their materializations."""
    volumes = {}
    for asset in VOLUME_ASSETS:
        records = instance.fetch_materializations(dg.AssetKey([spec.name, asset]), limit=5000)
        volumes[asset] = {
            r.asset_materialization.partition: r.asset_materialization.metadata[
                "dagster/row_count"
            ].value
            for r in records.records
            if r.asset_materialization.partition
            and "dagster/row_count" in r.asset_materialization.metadata
        }
    return volumes
