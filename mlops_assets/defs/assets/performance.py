"""Performance: the realized performance of decisions once their outcomes land, pooled over the
trailing days for the performance sensor."""

import datetime as dt

import dagster as dg
import polars as pl

from mlops_assets.compute.monitoring import (
    LABEL,
    estimated_performance,
    observed_outcomes,
    realized_performance,
)
from mlops_assets.compute.sequential import auc_shortfall, calibration_cusum, day_sums
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.automation import monitoring_automation
from mlops_assets.defs.resources import DatasetResource, DatasetsResource

GROUP = "monitoring"


def build_performance_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/performance` (when labels lag), partitioned by the day the outcomes landed."""
    if not spec.delayed_labels:
        return []
    delay = spec.target.delay_days

    @dg.asset(
        key=[spec.name, "performance"],
        automation_condition=monitoring_automation(spec),
        deps=outcome_day_deps(spec, ("decisions", "raw")),
        partitions_def=partitions,
        output_required=False,
        group_name=GROUP,
        kinds={"polars"},
        description=f"Realized performance of the decisions that the day's outcomes label "
        f"(made {delay} days earlier): ROC AUC, ECE, profit and loss and segments, on the "
        "control group (unbiased) and on the applications the model approved (what a naive "
        "monitor sees); declined applications have no observable outcome. Also the "
        "performance sensor's signals: a calibration CUSUM over the champion's outcome days "
        "(stated average run length between false alarms, `compute.sequential`) and the "
        "trailing pool's AUC with its 99% DeLong interval against the AUC the scores expect. "
        "Partitioned by the day the outcomes landed.",
    )
    def performance(context: dg.AssetExecutionContext, datasets: DatasetsResource):
        dataset = datasets.of(spec)
        decided_on = labelled(context.partition_key, delay)
        if not dataset.exists("decisions", decided_on):
            context.log.info(f"no decisions for {decided_on}: nothing to evaluate")
            return
        decisions, raw = dataset.read("decisions", decided_on), dataset.read("raw", decided_on)
        raw_outcomes = dataset.read("raw_outcomes", context.partition_key)
        segments = [c for c in spec.segments if c in raw.columns]
        decided = decisions.join(
            raw.select(pl.col(spec.id_column).cast(pl.String).alias("id"), *segments),
            on="id",
            how="left",
        )
        rows = observed_outcomes(decided, raw_outcomes, spec)
        # the trailing pool judges the model in force: rows its version decided, none older
        champion = int(dataset.document("deployment")["target"]["champion"])
        earlier = [
            frame.filter(pl.col("model_version") == champion)
            for frame in _trailing_observed(dataset, context.partition_key)
        ]
        earlier = [frame for frame in earlier if frame.height]
        history = _champion_history(dataset, context.partition_key, champion)
        yield dg.MaterializeResult(
            value=rows,
            metadata={
                "decided_on": decided_on,
                "trailing_champion": champion,
                **_metadata(rows, earlier, spec, champion, history),
            },
        )

    return [performance]


def _metadata(
    rows: pl.DataFrame,
    earlier: list[pl.DataFrame],
    spec: DatasetSpec,
    champion: int,
    history: list[pl.DataFrame],
) -> dict:
    """The day's realized performance, and what the performance sensor reads: the calibration
    CUSUM over the outcome days of the champion in force (`history`, then this day), and the
    trailing pool of the rows it decided, this day's and the trailing days'."""
    day = realized_performance(rows, spec)
    current = rows.filter(pl.col("model_version") == champion).unique("id", maintain_order=True)
    pooled = pl.concat([current, *earlier], how="diagonal_relaxed")
    trailing = realized_performance(pooled, spec)
    expected = estimated_performance(pooled["score"].to_numpy(), 0.5, spec)
    m = spec.monitoring
    # the observed rows, each once and unweighted under selective labels too: which rows are
    # observed depends on the score alone (and the random control group), so a calibrated
    # model's observed positives match its predicted ones on them
    sums = [
        day_sums(f[LABEL].to_numpy(), f["score"].to_numpy(), m.calibration_ratio)
        for f in (*history, current)
        if f.height
    ]
    cusum = calibration_cusum(sums, m.cusum_arl_days, m.day_effect_sd)
    auc = auc_shortfall(
        pooled[LABEL].to_numpy(),
        pooled["score"].to_numpy(),
        expected.get("expected_roc_auc"),
        m.auc_drop,
    )
    return {
        "dagster/row_count": rows.height,
        "roc_auc": day["observed"]["roc_auc"],
        "roc_auc_control": day["control"]["roc_auc"],
        "roc_auc_approved": day["approved_by_model"]["roc_auc"],
        "feedback_gap_auc": day["feedback_gap_auc"],
        "ece": day["observed"]["ece"],
        "realized_value": day["realized_value"],
        "trailing_days": len(earlier) + (current.height > 0),
        "trailing_rows": pooled.height,
        "trailing_roc_auc": trailing["observed"]["roc_auc"],
        "trailing_roc_auc_control": trailing["control"]["roc_auc"],
        # what the same rows would show if the model were still right (CBPE)
        "trailing_expected_roc_auc": expected.get("expected_roc_auc"),
        "trailing_auc_test": dg.MetadataValue.json(auc),
        "calibration_day": dg.MetadataValue.json(sums[-1] if current.height else {"rows": 0}),
        "calibration_cusum": dg.MetadataValue.json(cusum.as_dict()),
        "models": dg.MetadataValue.json(sorted(int(v) for v in rows["model_version"].unique())),
        "performance": dg.MetadataValue.json(day),
    }


def outcome_day_deps(spec: DatasetSpec, decided: tuple[str, ...]) -> list:
    """Dependencies of an asset keyed by the day outcomes land: that day's `raw_outcomes`, and
    the `decided` assets of the day they label (`delay_days` earlier)."""
    delay = spec.target.delay_days
    labelled_day = dg.TimeWindowPartitionMapping(start_offset=-delay, end_offset=-delay)
    return [
        dg.AssetKey([spec.name, "raw_outcomes"]),
        *(
            dg.AssetDep(dg.AssetKey([spec.name, a]), partition_mapping=labelled_day)
            for a in decided
        ),
    ]


def labelled(outcome_day: str, delay: int) -> str:
    """The decision day that outcomes landed on `outcome_day` label."""
    return (dt.date.fromisoformat(outcome_day) - dt.timedelta(days=delay)).isoformat()


def _trailing_observed(dataset: DatasetResource, day: str) -> list[pl.DataFrame]:
    """Observed outcomes of the `monitoring.trailing_days - 1` outcome days before `day` whose
    decisions exist, rebuilt from decisions and outcomes (no other performance run needed)."""
    spec = dataset.spec
    if spec.monitoring.trailing_days <= 1:
        return []
    decided = set(dataset.partitions("decisions"))
    delay = spec.target.delay_days
    days = [
        d for d in dataset.partitions("raw_outcomes") if d < day and labelled(d, delay) in decided
    ][-(spec.monitoring.trailing_days - 1) :]
    return [
        observed_outcomes(
            dataset.read("decisions", labelled(d, delay)), dataset.read("raw_outcomes", d), spec
        )
        for d in days
    ]


def _champion_history(dataset: DatasetResource, day: str, champion: int) -> list[pl.DataFrame]:
    """The observed rows that `champion` decided, per earlier outcome day (this asset's own
    partitions), oldest first: back to the last day that another model decided (a new
    champion starts its CUSUM afresh)."""
    history = []
    for earlier in reversed([d for d in dataset.partitions("performance") if d < day]):
        columns = ("model_version", "id", LABEL, "score")
        frame = dataset.scan("performance", [earlier]).select(columns).collect()
        mine = frame.filter(pl.col("model_version") == champion)
        if frame.height and not mine.height:
            break
        history.append(mine.unique("id"))
    return history[::-1]
