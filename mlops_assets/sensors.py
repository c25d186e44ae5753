"""Sensors: new landing files become runs, each file version exactly once."""

import datetime as dt
import json

import dagster as dg

from mlops_assets.assets.ingestion import fingerprint
from mlops_assets.jobs import ingest_job_name, outcomes_job_name
from mlops_assets.partitions import landed_days
from mlops_assets.spec import DatasetSpec


def build_landing_sensor(
    spec: DatasetSpec, partitions: dg.DailyPartitionsDefinition, jobs: list
) -> dg.SensorDefinition:
    """Request the ingest (or outcomes) job for each new or changed landing file.

    The cursor remembers the fingerprint (size, mtime) of every file already requested; run keys
    carry it too, so a file version is never ingested twice. On its first tick the sensor adopts
    days already materialized (by `mlops run`, say) instead of requesting them again.
    """
    sources = [("raw", spec.landing, ingest_job_name(spec))]
    if spec.delayed_labels:
        sources.append(("raw_outcomes", spec.outcomes, outcomes_job_name(spec)))
    first_day = partitions.start.date()

    @dg.sensor(
        name=f"{spec.name}_landing_sensor",
        jobs=jobs,
        minimum_interval_seconds=10,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches {spec.landing} (and outcomes) for YYYY-MM-DD.{spec.format} files.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        today = dt.datetime.now(dt.UTC).date()
        requests, skipped = [], []
        for asset, folder, job_name in sources:
            seen = cursor.setdefault(asset, {})
            adopt = (
                set()
                if seen
                else context.instance.get_materialized_partitions(dg.AssetKey([spec.name, asset]))
            )
            for day, path in landed_days(folder, spec.format).items():
                version = fingerprint(path)
                if seen.get(day) == version:
                    continue
                seen[day] = version
                if day in adopt:
                    continue
                if not first_day <= dt.date.fromisoformat(day) < today:
                    skipped.append(path.name)
                    continue
                requests.append(
                    dg.RunRequest(
                        run_key=f"{asset}:{day}:{version}",
                        job_name=job_name,
                        partition_key=day,
                        tags={"mlops/source_file": str(path)},
                    )
                )
        if skipped:
            context.log.warning(
                f"outside the partition range {first_day}..yesterday, "
                f"not ingested: {', '.join(skipped[:10])}"
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return landing_sensor
