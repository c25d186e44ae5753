"""The training set: the labelled feature rows known on a date (`build_training_set`, which
`mlops reproduce` calls too)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.selective import OUTCOME_KNOWN, WEIGHT, effective_sample_size
from mlops_assets.compute.training import LABEL_DAY, files_fingerprint, training_frame
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.resources import DatasetResource, DatasetsResource

GROUP = "training"
WINDOW_DAYS = 42  # the default window: labelled application days in the training set


class TrainingSetConfig(dg.Config):
    as_of: str | None = None  # YYYY-MM-DD; default: the latest day with features
    window_days: int = WINDOW_DAYS


def build_training_set(
    dataset: DatasetResource, as_of: dt.date, window_days: int
) -> tuple[pl.DataFrame, list[Path]]:
    """The training rows known on `as_of` (`compute.training.training_frame` over the lake's
    features, outcomes and decisions up to that day) and the lake files they came from."""
    spec = dataset.spec
    feature_days = [d for d in dataset.partitions("features") if d <= str(as_of)]
    outcome_days = [d for d in dataset.partitions("raw_outcomes") if d <= str(as_of)]
    features = dataset.scan("features", feature_days)
    outcomes = dataset.scan("raw_outcomes", outcome_days) if spec.delayed_labels else None
    decision_days = [d for d in dataset.partitions("decisions") if d <= str(as_of)]
    decisions = dataset.scan("decisions", decision_days) if spec.decision.selective_labels else None
    frame = training_frame(features, outcomes, spec, as_of, window_days, decisions)
    used = dataset.partition_files("features", feature_days)
    if spec.delayed_labels:
        used += dataset.partition_files("raw_outcomes", outcome_days)
    if spec.decision.selective_labels:
        used += dataset.partition_files("decisions", _censoring_days(dataset, decision_days, frame))
    return frame, used


def _censoring_days(dataset: DatasetResource, days: list[str], frame: pl.DataFrame) -> list[str]:
    """The decision partitions a training set depends on: days of its rows whose log holds a
    decision made before the outcome landed (a backfill over history censored nothing; a model
    reproduced after one is still trained from the same files)."""
    present = {str(d) for d in frame[DAY].unique()} if frame.height else set()
    labelled = [d for d in days if d in present]
    if not labelled:
        return []
    logs = dataset.scan("decisions", labelled)
    if OUTCOME_KNOWN not in logs.collect_schema():
        return labelled
    live = logs.filter(~pl.col(OUTCOME_KNOWN).fill_null(False))  # an older log: it censors
    live = live.select(pl.col(DAY).cast(pl.String).unique())
    return sorted(set(labelled) & set(live.collect().to_series().to_list()))


def training_set_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    deps = [dg.AssetKey([spec.name, "features"])]
    if spec.delayed_labels:
        deps.append(dg.AssetKey([spec.name, "raw_outcomes"]))

    @dg.asset(
        key=[spec.name, "training_set"],
        deps=deps,
        group_name=GROUP,
        kinds={"polars", "parquet"},
        description="Labelled feature rows of the latest `window_days` labelled days, built only "
        "from features and labels that had landed by `as_of`: no later label can leak in. With "
        "selective labels, only outcomes the logged decisions left observable, each weighted by "
        "the inverse of its probability of being observed (`_weight`), read from the decision "
        "log (`decisions`; a feedback loop, so not a declared dependency: the graph is acyclic).",
    )
    def training_set(
        context: dg.AssetExecutionContext, config: TrainingSetConfig, datasets: DatasetsResource
    ) -> dg.MaterializeResult:
        dataset = datasets.of(spec)
        days = dataset.partitions("features")
        if not days:
            raise dg.Failure("no features partitions yet: ingest landing files first")
        as_of = (
            dt.date.fromisoformat(config.as_of) if config.as_of else dt.date.fromisoformat(days[-1])
        )
        frame, used = build_training_set(dataset, as_of, config.window_days)
        if frame.height == 0:
            raise dg.Failure(
                f"no labelled rows known on {as_of}: labels arrive "
                f"{spec.target.delay_days} days after the rows"
            )
        weights = frame[WEIGHT].to_numpy()
        return dg.MaterializeResult(
            value=frame,
            metadata={
                "dagster/row_count": frame.height,
                "as_of": str(as_of),
                "first_day": str(frame[DAY].min()),
                "last_day": str(frame[DAY].max()),
                "latest_label_observed": str(frame[LABEL_DAY].max()),
                "positive_rate": round(float(frame[LABEL].mean()), 4),
                "selective_labels": spec.decision.selective_labels,
                # what the weighted rows are worth as unweighted ones (Kish)
                "effective_sample_size": round(effective_sample_size(weights), 1),
                "weighted_rows": int((weights != 1.0).sum()),
                "data_fingerprint": files_fingerprint(used),
                "window_days": config.window_days,
            },
        )

    return training_set
