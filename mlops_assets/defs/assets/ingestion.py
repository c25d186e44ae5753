"""Ingestion: landing files become typed daily partitions, or go to quarantine with a reason."""

import datetime as dt
import time
from pathlib import Path

import dagster as dg

from mlops_assets.compute.ingest import IngestError, coerce, outcomes_schema, read_landing
from mlops_assets.config.spec import DatasetSpec, SpecError
from mlops_assets.defs.assets.metadata import frame_metadata
from mlops_assets.defs.resources import DatasetResource, DatasetsResource

GROUP = "ingestion"


def fingerprint(path: Path) -> str:
    """What identifies one version of a landing file: size and modification time."""
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _ingest(context: dg.AssetExecutionContext, dataset: DatasetResource, outcomes: bool):
    day = context.partition_key
    started = time.perf_counter()
    path = dataset.landing_file(day, outcomes=outcomes)
    if not path.exists():
        raise dg.Failure(
            f"no landing file for {day}: {path} does not exist",
            metadata={"expected_file": str(path)},
            allow_retries=False,
        )
    source = {
        "source_file": dg.MetadataValue.path(str(path)),
        "source_fingerprint": fingerprint(path),
    }
    try:
        frame = read_landing(path, dataset.spec.format)
        schema = outcomes_schema(frame, dataset.spec) if outcomes else dataset.schema(first=frame)
        typed = coerce(frame, schema, dataset.spec, dt.date.fromisoformat(day))
    except SpecError as exc:  # the spec is wrong, not the file: nothing is quarantined
        raise dg.Failure(
            description=f"{path.name} was not ingested, the spec needs a fix: {exc}",
            metadata={**source, "reason": str(exc)},
            allow_retries=False,
        ) from exc
    except IngestError as exc:
        target = dataset.quarantine(path, exc.reason)
        context.log.error(f"{path.name} quarantined: {exc.reason}")
        raise dg.Failure(
            description=f"{path.name} quarantined: {exc.reason}",
            metadata={
                **source,
                "quarantined_to": dg.MetadataValue.path(str(target)),
                "reason": exc.reason,
            },
            allow_retries=False,
        ) from exc
    context.log.info(f"{path.name}: {typed.height} rows ingested")
    return dg.MaterializeResult(
        value=typed, metadata={**frame_metadata(typed, started, time.perf_counter()), **source}
    )


def build_ingestion_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/raw` from the landing folder, and `<dataset>/raw_outcomes` if labels lag."""

    @dg.asset(
        key=[spec.name, "raw"],
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description=f"Rows of one day's landing file in {spec.landing}, typed to the pinned "
        "schema. A file that cannot be read, is empty, or has missing, unexpected or mistyped "
        "columns is quarantined with its reason, and nothing downstream is written.",
        metadata={"landing_folder": dg.MetadataValue.path(str(spec.landing))},
    )
    def raw(context: dg.AssetExecutionContext, datasets: DatasetsResource) -> dg.MaterializeResult:
        dataset = datasets.of(spec)
        return _ingest(context, dataset, outcomes=False)

    if not spec.delayed_labels:
        return [raw]

    @dg.asset(
        key=[spec.name, "raw_outcomes"],
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description=f"Outcomes ({spec.id_column}, {spec.target.column}) that arrived on the day, "
        f"for rows seen {spec.target.delay_days} days earlier, from {spec.outcomes}.",
        metadata={"landing_folder": dg.MetadataValue.path(str(spec.outcomes))},
    )
    def raw_outcomes(
        context: dg.AssetExecutionContext, datasets: DatasetsResource
    ) -> dg.MaterializeResult:
        dataset = datasets.of(spec)
        return _ingest(context, dataset, outcomes=True)

    return [raw, raw_outcomes]
