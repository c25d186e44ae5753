"""Features: each day's raw rows, cleaned with statistics fitted on the accepted days before it."""

import time

import dagster as dg

from mlops_assets.compute.features import build_features
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.metadata import frame_metadata
from mlops_assets.defs.resources import DatasetsResource

GROUP = "features"


def build_feature_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/features`, daily, depending on the trailing window of `<dataset>/raw`."""
    history = dg.TimeWindowPartitionMapping(start_offset=-spec.quality.history_days, end_offset=0)

    @dg.asset(
        key=[spec.name, "features"],
        partitions_def=partitions,
        deps=[dg.AssetDep(dg.AssetKey([spec.name, "raw"]), partition_mapping=history)],
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description="Model inputs for one day: numeric columns clipped and imputed, with missing "
        "indicators; rare or unseen categories grouped. Every statistic is fitted on the "
        f"accepted days in the {spec.quality.history_days} days before, never on the day itself.",
    )
    def features(
        context: dg.AssetExecutionContext, datasets: DatasetsResource
    ) -> dg.MaterializeResult:
        dataset = datasets.of(spec)
        day = context.partition_key
        started = time.perf_counter()
        raw = dataset.read("raw", day)
        profile = dataset.history_profile(day)
        frame = build_features(raw, profile, dataset.feature_columns(), dataset.spec)
        fitted_on = f"{profile.days[0]} .. {profile.days[-1]}" if profile.days else "no history"
        if not profile.days:
            context.log.warning(f"{day}: no accepted history yet; values pass through unfitted")
        return dg.MaterializeResult(
            value=frame,
            metadata={
                **frame_metadata(frame, started, time.perf_counter()),
                "fitted_on_days": fitted_on,
                "history_days_used": len(profile.days),
                "imputation_medians": dg.MetadataValue.json(
                    {c: s.median for c, s in profile.numeric.items()}
                ),
            },
        )

    return [features]
